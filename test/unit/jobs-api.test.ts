// The HTTP contract without a worker: validation, 400s that name the field, and a queue that survives them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../server/src/app.js';
import { loadConfig } from '../../server/src/config/config.js';
import { FakeBackend } from '../helpers/fake-backend.js';
import { fakeModelStore } from '../helpers/fake-model-store.js';

let app: FastifyInstance;
let modelsDir: string;
const backend = new FakeBackend();

before(async () => {
  modelsDir = await fakeModelStore(['alpha', 'beta']);
  const config = loadConfig(['--models', modelsDir, '--data', `${modelsDir}/data`], {});
  app = await buildApp(config, { backend });
});
after(async () => {
  await app.close();
  await rm(modelsDir, { recursive: true, force: true });
});

const post = (payload: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  app.inject({ method: 'POST', url: '/api/jobs', payload: typeof payload === 'string' ? payload : JSON.stringify(payload), headers });

test('a good job is accepted with 202, an id and its queue position', async () => {
  const res = await post({ prompt: 'a cat', steps: 10, width: 512, height: 768 });
  assert.equal(res.statusCode, 202);
  const body = res.json() as { id: string; position: number };
  assert.match(body.id, /^[0-9a-f-]{36}$/);
  const job = (await app.inject({ url: `/api/jobs/${body.id}` })).json() as { request: Record<string, unknown>; state: string };
  assert.equal(job.request.model, 'alpha', 'the first installed model is the default');
  assert.equal(job.request.sampler, 'euler');
  assert.equal(job.request.height, 768);
  assert.ok(Number.isInteger(job.request.seed) && (job.request.seed as number) >= 0, 'a random seed is chosen and reported');
});

const malformed: [string, unknown, string][] = [
  ['no prompt', { steps: 10 }, 'prompt'],
  ['blank prompt', { prompt: '   ' }, 'prompt'],
  ['steps 0', { prompt: 'x', steps: 0 }, 'steps'],
  ['steps 100000', { prompt: 'x', steps: 100000 }, 'steps'],
  ['width 513', { prompt: 'x', width: 513 }, 'width'],
  ['height as text', { prompt: 'x', height: 'big' }, 'height'],
  ['unknown sampler', { prompt: 'x', sampler: 'warp drive' }, 'sampler'],
  ['unknown model', { prompt: 'x', model: 'gamma' }, 'model'],
  ['unknown field', { prompt: 'x', cfg_scale: 7 }, 'cfg_scale'],
  ['seed too large', { prompt: 'x', seed: 2 ** 40 }, 'seed'],
  ['mask without an init image', { prompt: 'x', mask: 'data:image/png;base64,AAAA' }, 'mask'],
  ['strength without an init image', { prompt: 'x', strength: 0.5 }, 'strength'],
  ['strength 0', { prompt: 'x', initImage: 'abc', strength: 0 }, 'strength'],
  ['init image that is not an image', { prompt: 'x', initImage: 'data:image/png;base64,bm90IGFuIGltYWdl' }, 'initImage'],
  ['init image id that does not exist', { prompt: 'x', initImage: 'no-such-image' }, 'initImage'],
];

for (const [name, body, field] of malformed) {
  test(`400 naming "${field}" for ${name}`, async () => {
    const res = await post(body);
    assert.equal(res.statusCode, 400, res.body);
    const { error } = res.json() as { error: { code: string; message: string; field: string } };
    assert.equal(error.field, field);
    assert.match(error.message, new RegExp(field.replace('_', '.')));
  });
}

test('an init image given as a data URL is stored once and referred to by id', async () => {
  const sharp = (await import('sharp')).default;
  const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } }).png().toBuffer();
  const dataUrl = `data:image/png;base64,${png.toString('base64')}`;
  const res = await post({ prompt: 'x', initImage: dataUrl, mask: dataUrl });
  assert.equal(res.statusCode, 202, res.body);
  const job = (await app.inject({ url: `/api/jobs/${(res.json() as { id: string }).id}` })).json() as { request: Record<string, unknown> };
  assert.match(String(job.request.initImage), /^in-[0-9a-f]{24}$/);
  assert.equal(job.request.mask, job.request.initImage, 'the same bytes are stored once');
  assert.equal(job.request.strength, 0.75, "A1111's default strength");
  const file = await app.inject({ url: `/api/images/${String(job.request.initImage)}` });
  assert.equal(file.statusCode, 200);
  assert.equal(file.headers['content-type'], 'image/png');
});

test('the width error says what is allowed', async () => {
  const { error } = (await post({ prompt: 'x', width: 513 })).json() as { error: { message: string } };
  assert.equal(error.message, 'width must be a multiple of 8');
});

test('a body that is not JSON gets a 400 that says so', async () => {
  const res = await post('{"prompt": "x",');
  assert.equal(res.statusCode, 400);
  const { error } = res.json() as { error: { message: string; field: string } };
  assert.equal(error.field, 'body');
  assert.match(error.message, /not valid JSON/);
});

test('a 50 MB body gets a 400 naming the size limit', async () => {
  const res = await post(JSON.stringify({ prompt: 'x'.repeat(50 * 1024 * 1024) }));
  assert.equal(res.statusCode, 400);
  const { error } = res.json() as { error: { code: string } };
  assert.equal(error.code, 'EASEL_ERR_BODY_TOO_LARGE');
});

test('bad requests leave the queued jobs alone', async () => {
  const before = ((await app.inject({ url: '/api/jobs' })).json() as { queue: { id: string }[] }).queue.map((j) => j.id);
  assert.ok(before.length > 0);
  await post({ prompt: 'x', steps: 0 });
  await post('not json');
  const after = ((await app.inject({ url: '/api/jobs' })).json() as { queue: { id: string }[] }).queue.map((j) => j.id);
  assert.deepEqual(after, before);
});

test('unknown jobs and images are 404 with a code', async () => {
  const job = await app.inject({ url: '/api/jobs/nope' });
  assert.equal(job.statusCode, 404);
  assert.equal((job.json() as { error: { code: string } }).error.code, 'EASEL_ERR_JOB_NOT_FOUND');
  const image = await app.inject({ url: '/api/images/..%2F..%2Fetc%2Fpasswd' });
  assert.equal(image.statusCode, 404);
});

test('models, samplers and health describe the server', async () => {
  const models = (await app.inject({ url: '/api/models' })).json() as { id: string; family: string; ready: boolean }[];
  assert.deepEqual(models.map((m) => [m.id, m.family, m.ready]), [['alpha', 'sd1', true], ['beta', 'sd1', true]]);
  const samplers = (await app.inject({ url: '/api/samplers' })).json() as { id: string; aliases: string[] }[];
  assert.ok(samplers.some((s) => s.id === 'euler'));
  const health = (await app.inject({ url: '/api/health' })).json() as { status: string; models: number };
  assert.equal(health.status, 'ok');
  assert.equal(health.models, 2);
});

test('queue controls: pause and resume, reorder with a 400 for unknown ids, cancel-all', async () => {
  const paused = await app.inject({ method: 'POST', url: '/api/queue/pause' });
  assert.equal((paused.json() as { paused: boolean }).paused, true);
  assert.equal(((await app.inject({ url: '/api/jobs' })).json() as { paused: boolean }).paused, true);
  const bad = await app.inject({ method: 'PUT', url: '/api/queue/order', payload: { ids: ['nope'] } });
  assert.equal(bad.statusCode, 400);
  assert.equal((bad.json() as { error: { field: string } }).error.field, 'ids');
  const resumed = await app.inject({ method: 'POST', url: '/api/queue/resume' });
  assert.equal((resumed.json() as { paused: boolean }).paused, false);
  const cleared = await app.inject({ method: 'POST', url: '/api/queue/cancel-all' });
  assert.ok((cleared.json() as { queue: { state: string }[] }).queue.every((j) => j.state === 'running'));
});

test('deleting an unknown image is a 404; the gallery answers', async () => {
  assert.equal((await app.inject({ method: 'DELETE', url: '/api/images/nope' })).statusCode, 404);
  const gallery = await app.inject({ url: '/api/gallery?q=cat&limit=5' });
  assert.equal(gallery.statusCode, 200);
  assert.equal((await app.inject({ url: '/api/gallery?limit=abc' })).statusCode, 400);
});
