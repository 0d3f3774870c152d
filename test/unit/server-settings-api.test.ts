// The owner's server settings over HTTP without a worker: who may read and change them, 400s that name the field
// and the choices, the enforced NSFW check reaching every kind of job, and low-memory mode reaching the worker.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, InjectOptions } from 'fastify';
import sharp from 'sharp';
import { buildApp } from '../../server/src/app.js';
import { loadConfig } from '../../server/src/config/config.js';
import type { JobView, ServerSettingsView } from '../../server/src/http/schemas.js';
import { ServerSettings } from '../../server/src/settings/server-settings.js';
import { SettingsStore } from '../../server/src/settings/settings-store.js';
import { FakeBackend } from '../helpers/fake-backend.js';
import { fakeModelStore } from '../helpers/fake-model-store.js';

const PASSWORD = 'open sesame please';
const LAN = '192.168.7.20';
let app: FastifyInstance;
let backend: FakeBackend;
let modelsDir: string;
let guest: string;

const start = async () => {
  backend = new FakeBackend();
  app = await buildApp(loadConfig(['--models', modelsDir, '--data', join(modelsDir, 'data')], {}), { backend });
};

before(async () => {
  modelsDir = await fakeModelStore(['alpha']);
  await start();
  assert.equal((await app.inject({ method: 'PUT', url: '/api/settings/sharing', payload: { password: PASSWORD } })).statusCode, 200);
  const login = await app.inject({ remoteAddress: LAN, method: 'POST', url: '/api/auth/login', payload: { password: PASSWORD } });
  guest = String(login.headers['set-cookie']).split(';')[0]!;
});
after(async () => {
  await app.close();
  await rm(modelsDir, { recursive: true, force: true });
});

const owner = (options: InjectOptions) => app.inject(options);
const asGuest = (options: InjectOptions) => app.inject({ remoteAddress: LAN, ...options, headers: { cookie: guest, ...options.headers } });
const patch = (payload: unknown, as = owner) => as({ method: 'PATCH', url: '/api/settings/server', payload: payload as object });
const read = async (as = owner) => (await as({ url: '/api/settings/server' })).json() as ServerSettingsView;

/** Lets the running job finish, so the next one reaches the backend. */
function finishRunning(): void {
  const job = backend.runs.at(-1);
  if (job) backend.send({ type: 'finished', jobId: job.id, outcome: 'done' });
}

async function submit(path: string, payload: object, as = owner): Promise<JobView['request']> {
  const res = await as({ method: 'POST', url: path, payload });
  assert.equal(res.statusCode, 202, res.body);
  const job = (await app.inject({ url: `/api/jobs/${(res.json() as { id: string }).id}` })).json() as JobView;
  assert.equal(backend.runs.at(-1)?.id, job.id, 'the job reached the backend');
  finishRunning();
  return job.request;
}

test('anyone signed in reads the server settings; the defaults', async () => {
  const defaults = { filters: { forceNsfwFilter: false, nsfwModel: 'auto' }, performance: { lowMemory: 'auto', optimizedModelCache: true } };
  assert.deepEqual(await read(), defaults);
  assert.deepEqual(await read(asGuest), defaults);
  assert.equal((await app.inject({ remoteAddress: LAN, url: '/api/settings/server' })).statusCode, 401, 'not signed in');
});

test('only the owner changes them: a guest gets 403, whatever the body', async () => {
  for (const body of [{ filters: { forceNsfwFilter: true } }, { filters: { nsfwModel: 'nonsense' } }]) {
    const res = await patch(body, asGuest);
    assert.equal(res.statusCode, 403, res.body);
    assert.equal((res.json() as { error: { code: string } }).error.code, 'EASEL_ERR_OWNER_ONLY');
  }
  assert.equal((await read()).filters.forceNsfwFilter, false);
});

test('bad values are 400s naming the field and what is allowed', async () => {
  const cases: [unknown, string, RegExp][] = [
    [{ filters: { nsfwModel: 'nsfw-vit-huge' } }, 'filters.nsfwModel', /must be one of auto, nsfwjs, nsfw-marqo-384/],
    [{ filters: { nsfwModel: 5 } }, 'filters.nsfwModel', /must be one of auto, nsfwjs, nsfw-marqo-384/],
    [{ performance: { lowMemory: 'maybe' } }, 'performance.lowMemory', /must be one of auto, on, off/],
    [{ filters: { forceNsfwFilter: 'yes' } }, 'filters.forceNsfwFilter', /must be of type boolean/],
    [{ filters: { colour: 'red' } }, 'filters.colour', /not a known field/],
    [{ theme: 'dark' }, 'theme', /not a known field/],
    [{ filters: { nsfwModel: 'nsfw-marqo-384' } }, 'filters.nsfwModel', /"nsfw-marqo-384" is not installed; download it from the model catalog/],
  ];
  for (const [body, field, message] of cases) {
    const res = await patch(body);
    assert.equal(res.statusCode, 400, `${JSON.stringify(body)} → ${res.statusCode}`);
    const { error } = res.json() as { error: { field: string; message: string } };
    assert.equal(error.field, field, JSON.stringify(body));
    assert.match(error.message, message);
  }
  assert.deepEqual((await read()).filters, { forceNsfwFilter: false, nsfwModel: 'auto' }, 'nothing was changed');
});

test('enforced: jobs that asked for no NSFW check get one, from /api/jobs, /sdapi and POST /api/filters', async () => {
  const job = { prompt: 'a cat', steps: 2, width: 64, height: 64 };
  assert.equal((await submit('/api/jobs', { ...job, nsfwFilter: false })).nsfwFilter, undefined, 'not enforced yet: as asked');

  const on = await patch({ filters: { forceNsfwFilter: true } });
  assert.equal(on.statusCode, 200, on.body);
  assert.equal((on.json() as ServerSettingsView).filters.forceNsfwFilter, true);
  const asked = await submit('/api/jobs', { ...job, nsfwFilter: false }, asGuest);
  assert.deepEqual([asked.nsfwFilter, asked.nsfwEnforced, asked.nsfwClassifier], [true, true, 'nsfwjs']);
  assert.equal(backend.runs.at(-1)?.nsfwFilter, true, 'the worker is told to check it');

  // The catalog ViT installed and chosen: later jobs name it.
  await mkdir(join(modelsDir, 'nsfw', 'nsfw-marqo-384'), { recursive: true });
  await writeFile(join(modelsDir, 'nsfw', 'nsfw-marqo-384', 'model.onnx'), 'stand-in');
  assert.equal((await patch({ filters: { nsfwModel: 'nsfw-marqo-384' } })).statusCode, 200);
  assert.equal((await submit('/api/jobs', job)).nsfwClassifier, 'nsfw-marqo-384');

  const picture = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#808080' } }).png().toBuffer();
  const filtered = await submit('/api/filters', { image: `data:image/png;base64,${picture.toString('base64')}`, upscale: { factor: 2, model: 'lanczos' } });
  assert.deepEqual([filtered.kind, filtered.nsfwFilter, filtered.nsfwEnforced], ['filter', true, true]);

  const runs = backend.runs.length;
  const a1111 = owner({ method: 'POST', url: '/sdapi/v1/txt2img', payload: { prompt: 'a dog', steps: 2, width: 64, height: 64 } });
  while (backend.runs.length === runs) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual([backend.runs.at(-1)?.nsfwFilter, backend.runs.at(-1)?.nsfwEnforced], [true, true]);
  finishRunning();
  assert.equal((await a1111).statusCode, 200);

  assert.equal((await patch({ filters: { forceNsfwFilter: false } })).statusCode, 200);
  assert.equal((await submit('/api/jobs', { ...job, nsfwFilter: false })).nsfwFilter, undefined, 'off again: as asked');
});

test("the worker hears the owner's settings (low-memory mode, model cache, NSFW rules) at start and on every change; they survive a restart", async () => {
  const cacheDir = join(modelsDir, 'data', 'cache', 'onnxruntime');
  const { nsfwModel } = (await read()).filters;
  const worker = (lowMemory: string, cache: string | null, forceNsfwFilter: boolean) => ({
    lowMemory,
    optimizedCacheDir: cache,
    ownerFilters: { forceNsfwFilter, nsfwModel },
  });
  const atStart = { lowMemory: 'auto', optimizedCacheDir: cacheDir, ownerFilters: { forceNsfwFilter: false, nsfwModel: 'auto' } };
  assert.deepEqual(backend.configured[0], atStart, 'the worker hears them before any job');
  const res = await patch({ performance: { lowMemory: 'on' }, filters: { forceNsfwFilter: true } });
  assert.equal(res.statusCode, 200, res.body);
  assert.deepEqual(backend.configured.at(-1), worker('on', cacheDir, true));
  assert.equal((await patch({ performance: { optimizedModelCache: false } })).statusCode, 200);
  assert.deepEqual(backend.configured.at(-1), worker('on', null, true), 'the worker deletes the copies (e2e/server-settings)');
  assert.equal((await patch({ performance: { optimizedModelCache: 'yes' } })).statusCode, 400);

  await app.close();
  await start();
  assert.deepEqual(backend.configured, [worker('on', null, true)], 'the restarted worker starts with the saved settings');
  const saved = await read();
  assert.deepEqual([saved.filters.forceNsfwFilter, saved.performance.lowMemory, saved.performance.optimizedModelCache], [true, 'on', false]);
  assert.equal((await patch({ performance: { optimizedModelCache: true }, filters: { forceNsfwFilter: false } })).statusCode, 200);
  assert.deepEqual(backend.configured.at(-1), worker('on', cacheDir, false));
});

test('jobs queued before the owner forced the NSFW check get it when they start, and their record says so', async () => {
  const job = { prompt: 'queued early', steps: 2, width: 64, height: 64 };
  const post = async () => {
    const res = await owner({ method: 'POST', url: '/api/jobs', payload: job });
    assert.equal(res.statusCode, 202, res.body);
    return (res.json() as { id: string }).id;
  };
  const first = await post();
  const second = await post();
  assert.equal(backend.runs.at(-1)?.id, first);
  assert.equal(backend.runs.at(-1)?.nsfwFilter, undefined, 'the running job started before the switch');
  assert.equal((await patch({ filters: { forceNsfwFilter: true } })).statusCode, 200);
  finishRunning();
  const started = backend.runs.at(-1);
  assert.equal(started?.id, second);
  assert.deepEqual([started?.nsfwFilter, started?.nsfwEnforced], [true, true]);
  assert.ok(['nsfwjs', 'nsfw-marqo-384'].includes(started?.nsfwClassifier ?? ''), `classifier ${started?.nsfwClassifier}`);
  const view = (await owner({ url: `/api/jobs/${second}` })).json() as JobView;
  assert.equal(view.request.nsfwEnforced, true, 'the job record shows the enforced check');
  finishRunning();
  assert.equal((await patch({ filters: { forceNsfwFilter: false } })).statusCode, 200);
});

test('EASEL_LOW_MEMORY overrides the saved mode from start-up until the owner picks one', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'easel-server-settings-'));
  try {
    const settings = new ServerSettings(new SettingsStore(dir), dir, { EASEL_LOW_MEMORY: 'on' });
    assert.equal(settings.lowMemory, 'on');
    assert.equal(settings.view().performance.lowMemory, 'on');
    await settings.update({ performance: { lowMemory: 'off' } });
    assert.equal(settings.lowMemory, 'off');
    assert.equal(new ServerSettings(new SettingsStore(dir), dir, {}).lowMemory, 'off', 'saved, without the variable');
    assert.throws(() => new ServerSettings(new SettingsStore(dir), dir, { EASEL_LOW_MEMORY: 'maybe' }), /EASEL_LOW_MEMORY must be auto, on or off/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
