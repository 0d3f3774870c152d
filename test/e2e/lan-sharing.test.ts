// LAN sharing with real non-loopback clients: a network namespace joined by a veth pair plays the phone on the
// LAN, while the test itself (on loopback) plays the owner at the machine. The server is the real app on real
// sockets; only the render worker is a fake, since no job here needs pixels.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../server/src/app.js';
import { loadConfig } from '../../server/src/config/config.js';
import { FakeBackend } from '../helpers/fake-backend.js';
import { fakeModelStore } from '../helpers/fake-model-store.js';
import { createLanNetwork, probeNetns, type ClientResponse, type LanNetwork } from '../helpers/netns.js';

const skip = (await probeNetns()) ?? false;
if (skip) console.log(`# lan-sharing: skipped: ${skip}`);

const PASSWORD = 'correct horse battery';
let app: FastifyInstance;
let lan: LanNetwork;
let modelsDir: string;
let dataDir: string;
let port: number;
let lanUrl: string; // the server as the namespace reaches it
let phoneCookie: string;
let scriptToken: string;
const backend = new FakeBackend();

before(async () => {
  if (skip) return;
  lan = await createLanNetwork();
  modelsDir = await fakeModelStore(['alpha']);
  dataDir = await mkdtemp(join(tmpdir(), 'easel-lan-'));
  const config = loadConfig(['--port', '0', '--models', modelsDir, '--data', dataDir, '--no-browser'], {});
  app = await buildApp(config, { backend });
  await app.listen({ port: 0, host: app.sharing.bindHost() });
  port = (app.server.address() as { port: number }).port;
  lanUrl = `http://${lan.hostAddress}:${port}`;
});

after(async () => {
  // Each step on its own, so a failure in one still tears down the rest.
  await app?.close().catch(() => undefined);
  await lan?.destroy();
  if (modelsDir) await rm(modelsDir, { recursive: true, force: true });
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** The owner, at the machine: plain fetch over loopback. */
const local = (path: string, init: RequestInit = {}) => fetch(`http://127.0.0.1:${port}${path}`, init);
const json = (method: string, body: unknown): RequestInit => ({ method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** The phone, on the LAN. */
const fromLan = (path: string, options: { method?: string; headers?: Record<string, string>; body?: unknown; upgrade?: boolean } = {}) =>
  lan.request({ url: lanUrl, path, ...options });
const errorCode = (res: ClientResponse) => (JSON.parse(res.body ?? '{}') as { error?: { code?: string } }).error?.code;
const job = { prompt: 'a lighthouse', steps: 2, width: 64, height: 64 };

test('sharing is off by default: a device on the LAN cannot even connect', { skip }, async () => {
  assert.equal(app.sharing.enabled, false);
  const res = await fromLan('/api/health');
  assert.equal(res.error, 'ECONNREFUSED');
});

test('turning sharing on asks for a password first, then listens on every interface', { skip }, async () => {
  const refused = await local('/api/settings/sharing', json('PUT', { enabled: true }));
  assert.equal(refused.status, 400);
  assert.equal(((await refused.json()) as { error: { field: string } }).error.field, 'password');

  const res = await local('/api/settings/sharing', json('PUT', { enabled: true, password: PASSWORD }));
  assert.equal(res.status, 200);
  const state = (await res.json()) as { enabled: boolean; listening: { host: string; port: number }; addresses: { url: string }[] };
  assert.equal(state.enabled, true);
  assert.deepEqual(state.listening, { host: '0.0.0.0', port }, 'the same port, now on all interfaces');
  assert.ok(state.addresses.some((a) => a.url === `${lanUrl}/`), `the LAN address is listed: ${JSON.stringify(state.addresses)}`);

  const info = (await (await local('/api/sharing')).json()) as { addresses: { url: string; qr: string }[] };
  assert.match(info.addresses[0]?.qr ?? '', /^data:image\/png;base64,/);
});

test('from the LAN, nothing works without signing in; browsers get the sign-in page', { skip }, async () => {
  const api = await fromLan('/api/jobs');
  assert.equal(api.status, 401);
  assert.equal(errorCode(api), 'EASEL_ERR_LOGIN_REQUIRED');
  const submit = await fromLan('/api/jobs', { method: 'POST', body: job });
  assert.equal(submit.status, 401);
  const page = await fromLan('/', { headers: { accept: 'text/html' } });
  assert.equal(page.status, 401);
  assert.match(page.body ?? '', /Access password/);
  assert.match(String(page.headers?.['content-security-policy']), /default-src 'none'/);
});

test('loopback stays open without signing in', { skip }, async () => {
  assert.equal((await local('/api/jobs')).status, 200);
});

test('signing in with the password gives a session cookie that works', { skip }, async () => {
  const wrong = await fromLan('/api/auth/login', { method: 'POST', body: { password: 'not it at all' } });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.headers?.['set-cookie'], undefined);

  const res = await fromLan('/api/auth/login', { method: 'POST', body: { password: PASSWORD, name: 'phone' } });
  assert.equal(res.status, 200);
  assert.deepEqual(JSON.parse(res.body ?? ''), { signedIn: true, user: 'phone', owner: false, via: 'session', passwordSet: true });
  const cookie = String((res.headers?.['set-cookie'] as string[])[0]);
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Strict/);
  assert.doesNotMatch(cookie, /Secure/, 'plain http: a Secure cookie would never come back');
  phoneCookie = cookie.split(';')[0]!;

  assert.equal((await fromLan('/api/jobs', { headers: { cookie: phoneCookie } })).status, 200);
  const submitted = await fromLan('/api/jobs', { method: 'POST', body: job, headers: { cookie: phoneCookie, origin: lanUrl } });
  assert.equal(submitted.status, 202);
});

test('a request from another website is refused with 403, on the LAN and on localhost', { skip }, async () => {
  const lanRes = await fromLan('/api/jobs', { method: 'POST', body: job, headers: { cookie: phoneCookie, origin: 'http://evil.example' } });
  assert.equal(lanRes.status, 403);
  assert.equal(errorCode(lanRes), 'EASEL_ERR_FOREIGN_ORIGIN');
  // The drive-by case: a page on the internet posting to the owner's localhost.
  const driveBy = await local('/api/jobs', { ...json('POST', job), headers: { 'content-type': 'application/json', origin: 'https://evil.example' } });
  assert.equal(driveBy.status, 403);
  const sameSite = await local('/api/jobs', { ...json('POST', job), headers: { 'content-type': 'application/json', origin: `http://127.0.0.1:${port}` } });
  assert.equal(sameSite.status, 202);
});

test('websocket upgrades: foreign origin 403, no login 401, signed in 101', { skip }, async () => {
  const foreign = await fromLan('/api/ws', { upgrade: true, headers: { cookie: phoneCookie, origin: 'http://evil.example' } });
  assert.equal(foreign.status, 403);
  const anonymous = await fromLan('/api/ws', { upgrade: true, headers: { origin: lanUrl } });
  assert.equal(anonymous.status, 401);
  const signedIn = await fromLan('/api/ws', { upgrade: true, headers: { cookie: phoneCookie, origin: lanUrl } });
  assert.equal(signedIn.status, 101);
});

test('API tokens: made by the owner, accepted as Bearer from the LAN, dead once revoked', { skip }, async () => {
  const fromPhone = await fromLan('/api/auth/tokens', { method: 'POST', body: { name: 'script' }, headers: { cookie: phoneCookie } });
  assert.equal(fromPhone.status, 403, 'only the owner makes tokens');

  const made = (await (await local('/api/auth/tokens', json('POST', { name: 'script' }))).json()) as { id: string; token: string };
  scriptToken = made.token;
  assert.equal((await fromLan('/api/jobs', { headers: { authorization: `Bearer ${scriptToken}` } })).status, 200);
  assert.equal((await fromLan('/api/jobs', { headers: { authorization: `Bearer ${scriptToken}x` } })).status, 401);
  const listed = (await (await local('/api/auth/tokens')).json()) as Record<string, unknown>[];
  assert.deepEqual(listed.map((t) => t.name), ['script']);
  assert.equal(listed[0]?.hash, undefined, 'hashes stay on the server');

  const spare = (await (await local('/api/auth/tokens', json('POST', { name: 'spare' }))).json()) as { id: string; token: string };
  assert.equal((await local(`/api/auth/tokens/${spare.id}`, { method: 'DELETE' })).status, 204);
  assert.equal((await fromLan('/api/jobs', { headers: { authorization: `Bearer ${spare.token}` } })).status, 401);
});

test('traversal attempts are 404, signed in or not', { skip }, async () => {
  const attempts = [
    '/api/images/..%2f..%2fetc%2fpasswd',
    '/api/images/%2e%2e%2f%2e%2e%2fetc%2fpasswd',
    '/%2e%2e/%2e%2e/etc/passwd',
    '/..%5c..%5cetc%5cpasswd',
    '/assets/%252e%252e/%252e%252e/etc/passwd',
  ];
  for (const path of attempts) {
    for (const headers of [{ authorization: `Bearer ${scriptToken}` }, {}] as Record<string, string>[]) {
      const res = await fromLan(path, { headers });
      assert.equal(res.status, 404, `${path} ${JSON.stringify(headers)}`);
      assert.doesNotMatch(res.body ?? '', /root:/);
    }
  }
});

test('a LAN user may cancel only their own jobs; the owner may cancel any', { skip }, async () => {
  const phoneJob = JSON.parse(
    (await fromLan('/api/jobs', { method: 'POST', body: job, headers: { cookie: phoneCookie } })).body ?? '{}',
  ) as { id: string };
  const scriptJob = JSON.parse(
    (await fromLan('/api/jobs', { method: 'POST', body: job, headers: { authorization: `Bearer ${scriptToken}` } })).body ?? '{}',
  ) as { id: string };

  const notYours = await fromLan(`/api/jobs/${phoneJob.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${scriptToken}` } });
  assert.equal(notYours.status, 403);
  assert.equal(errorCode(notYours), 'EASEL_ERR_NOT_YOUR_JOB');
  const yours = await fromLan(`/api/jobs/${phoneJob.id}`, { method: 'DELETE', headers: { cookie: phoneCookie } });
  assert.equal(yours.status, 200);
  assert.equal((await local(`/api/jobs/${scriptJob.id}`, { method: 'DELETE' })).status, 200, 'the owner cancels anyone’s job');
  assert.equal((await fromLan('/api/queue/pause', { method: 'POST', headers: { cookie: phoneCookie } })).status, 403, 'pausing is the owner’s');
});

test('failed sign-ins are rate-limited per address, and the limit holds even for the right password', { skip }, async () => {
  let limited: ClientResponse | undefined;
  for (let i = 0; i < 12 && !limited; i++) {
    const res = await fromLan('/api/auth/login', { method: 'POST', body: { password: `guess ${i}` } });
    if (res.status === 429) limited = res;
    else assert.equal(res.status, 401);
  }
  assert.ok(limited, 'no 429 after 12 wrong passwords');
  assert.ok(Number(limited.headers?.['retry-after']) > 0);
  const right = await fromLan('/api/auth/login', { method: 'POST', body: { password: PASSWORD } });
  assert.equal(right.status, 429);
  assert.equal((await local('/api/jobs')).status, 200, 'the owner is not locked out');
});

test('turning sharing off closes the LAN door at once, open websockets included', { skip }, async () => {
  const held = await lan.holdWebsocket({ url: lanUrl, path: '/api/ws', headers: { cookie: phoneCookie, origin: lanUrl } });
  assert.equal(held.opened.status, 101);
  try {
    const res = await local('/api/settings/sharing', json('PUT', { enabled: false }));
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { listening: { host: string } }).listening.host, '127.0.0.1');
    assert.equal(await held.closed, true, 'the open websocket was dropped');
    assert.equal((await fromLan('/api/health')).error, 'ECONNREFUSED');
    assert.equal((await local('/api/health')).status, 200);
  } finally {
    held.stop();
  }
});
