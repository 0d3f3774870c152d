// The door without real sockets: app.inject() with a chosen peer address stands in for a LAN device, so the
// rules that need no network (Basic on /sdapi, rebinding Host names, the loopback switch, sign-out) run fast.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { buildApp } from '../../server/src/app.js';
import { loadConfig } from '../../server/src/config/config.js';
import { FakeBackend } from '../helpers/fake-backend.js';
import { fakeModelStore } from '../helpers/fake-model-store.js';

const PASSWORD = 'open sesame please';
const LAN = '192.168.7.20';
let app: FastifyInstance;
let modelsDir: string;

before(async () => {
  modelsDir = await fakeModelStore(['alpha']);
  app = await buildApp(loadConfig(['--models', modelsDir, '--data', `${modelsDir}/data`], {}), { backend: new FakeBackend() });
  const res = await app.inject({ method: 'PUT', url: '/api/settings/sharing', payload: { password: PASSWORD } });
  assert.equal(res.statusCode, 200, res.body);
});
after(async () => {
  await app.close();
  await rm(modelsDir, { recursive: true, force: true });
});

const from = (remoteAddress: string, options: InjectOptions) => app.inject({ remoteAddress, ...options });
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

async function signIn(remoteAddress: string, name?: string): Promise<string> {
  const res = await from(remoteAddress, { method: 'POST', url: '/api/auth/login', payload: { password: PASSWORD, ...(name ? { name } : {}) } });
  assert.equal(res.statusCode, 200, res.body);
  return String(res.headers['set-cookie']).split(';')[0]!;
}

test('--listen (or EASEL_LISTEN) shares on 0.0.0.0 unless --host says otherwise', () => {
  assert.deepEqual(pick(loadConfig(['--listen'], {})), { listen: true, host: '0.0.0.0' });
  assert.deepEqual(pick(loadConfig([], { EASEL_LISTEN: '1' })), { listen: true, host: '0.0.0.0' });
  assert.deepEqual(pick(loadConfig(['--listen', '--host', '192.168.1.5'], {})), { listen: true, host: '192.168.1.5' });
  assert.deepEqual(pick(loadConfig([], { EASEL_LISTEN: '0' })), { listen: false, host: '127.0.0.1' });
  function pick(c: { listen: boolean; host: string }) {
    return { listen: c.listen, host: c.host };
  }
});

test('the sign-in page, and who-am-I for the page to ask', async () => {
  const page = await from(LAN, { url: '/login' });
  assert.equal(page.statusCode, 200);
  assert.match(page.body, /<form>/);
  const anonymous = await from(LAN, { url: '/api/auth/session' });
  assert.deepEqual(anonymous.json(), { signedIn: false, user: null, owner: false, via: null, passwordSet: true });
  const owner = await app.inject({ url: '/api/auth/session' });
  assert.deepEqual(owner.json(), { signedIn: true, user: 'local', owner: true, via: 'loopback', passwordSet: true });
  const cookie = await signIn(LAN);
  const guest = (await from(LAN, { url: '/api/auth/session', headers: { cookie } })).json() as { user: string };
  assert.match(guest.user, /^guest-[0-9a-f]{4}$/, 'no name given: a guest name of its own, so turns stay fair');
  assert.equal((await from(LAN, { url: '/login', headers: { cookie } })).statusCode, 302, 'signed in already: on to the studio');
});

test('names: "local" is the machine’s own and cannot be taken', async () => {
  const res = await from(LAN, { method: 'POST', url: '/api/auth/login', payload: { password: PASSWORD, name: 'Local' } });
  assert.equal(res.statusCode, 400);
  assert.equal((res.json() as { error: { field: string } }).error.field, 'name');
});

test('HTTP Basic opens /sdapi (A1111 --api-auth style) and nothing else', async () => {
  const none = await from(LAN, { url: '/sdapi/v1/sd-models' });
  assert.equal(none.statusCode, 401);
  assert.match(String(none.headers['www-authenticate']), /^Basic realm="Easel"/);
  const good = await from(LAN, { url: '/sdapi/v1/sd-models', headers: { authorization: basic('alice', PASSWORD) } });
  assert.ok(![401, 403].includes(good.statusCode), `past the door (the /sdapi routes live elsewhere): ${good.statusCode}`);
  const bad = await from(LAN, { url: '/sdapi/v1/sd-models', headers: { authorization: basic('alice', 'nope') } });
  assert.equal(bad.statusCode, 401);
  const notHere = await from(LAN, { url: '/api/jobs', headers: { authorization: basic('alice', PASSWORD) } });
  assert.equal(notHere.statusCode, 401, 'browsers replay Basic credentials cross-site; the main API takes cookies and tokens');
  const stale = await app.inject({ url: '/sdapi/v1/sd-models', headers: { authorization: basic('old', 'a1111 pass') } });
  assert.equal(stale.statusCode, 401, 'a wrong pair is refused on this machine too, so the client learns of it here');
});

test('a page on a rebinding domain that reaches loopback gets no free pass', async () => {
  const rebinding = await app.inject({ url: '/api/jobs', headers: { host: 'attacker.example:9000' } });
  assert.equal(rebinding.statusCode, 401);
  assert.equal((await app.inject({ url: '/api/jobs', headers: { host: 'localhost:9000' } })).statusCode, 200);
});

test('requireLoginOnLoopback: the owner signs in too, and stays the owner', async () => {
  const on = await app.inject({ method: 'PUT', url: '/api/settings/sharing', payload: { requireLoginOnLoopback: true } });
  assert.equal(on.statusCode, 200);
  assert.equal((await app.inject({ url: '/api/jobs' })).statusCode, 401);
  const cookie = await signIn('127.0.0.1', 'me');
  const me = (await app.inject({ url: '/api/auth/session', headers: { cookie } })).json() as { user: string; owner: boolean };
  assert.deepEqual([me.user, me.owner], ['me', true]);
  const off = await app.inject({ method: 'PUT', url: '/api/settings/sharing', payload: { requireLoginOnLoopback: false }, headers: { cookie } });
  assert.equal(off.statusCode, 200);
  assert.equal((await app.inject({ url: '/api/jobs' })).statusCode, 200);
});

test('only the owner sees or changes sharing settings', async () => {
  const cookie = await signIn(LAN, 'phone');
  assert.equal((await from(LAN, { url: '/api/settings/sharing', headers: { cookie } })).statusCode, 403);
  const put = await from(LAN, { method: 'PUT', url: '/api/settings/sharing', payload: { enabled: false }, headers: { cookie } });
  assert.equal(put.statusCode, 403);
  assert.equal((await from(LAN, { url: '/api/sharing', headers: { cookie } })).statusCode, 200, 'the addresses are for everyone signed in');
});

test('signing out ends the session; a new password signs everyone out', async () => {
  const a = await signIn(LAN, 'a');
  const b = await signIn(LAN, 'b');
  assert.equal((await from(LAN, { method: 'POST', url: '/api/auth/logout', headers: { cookie: a } })).statusCode, 204);
  assert.equal((await from(LAN, { url: '/api/jobs', headers: { cookie: a } })).statusCode, 401);
  assert.equal((await from(LAN, { url: '/api/jobs', headers: { cookie: b } })).statusCode, 200);
  const changed = await app.inject({ method: 'PUT', url: '/api/settings/sharing', payload: { password: `${PASSWORD}!` } });
  assert.equal(changed.statusCode, 200);
  assert.equal((await from(LAN, { url: '/api/jobs', headers: { cookie: b } })).statusCode, 401);
  const short = await app.inject({ method: 'PUT', url: '/api/settings/sharing', payload: { password: 'short' } });
  assert.equal(short.statusCode, 400);
});
