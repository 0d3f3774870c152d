// POST /api/tokenize: the prompt box's token counter, on real tokenizer files.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../../server/src/app.js';
import { loadConfig } from '../../server/src/config/config.js';
import { FakeBackend } from '../helpers/fake-backend.js';
import { tinyModelStore } from '../helpers/tiny-model.js';

const cleanup: string[] = [];
after(async () => {
  for (const dir of cleanup) await rm(dir, { recursive: true, force: true });
});

async function appWith(modelsDir: string) {
  const data = await mkdtemp(join(tmpdir(), 'easel-tok-'));
  cleanup.push(data);
  return buildApp(loadConfig(['--models', modelsDir, '--data', data], {}), { backend: new FakeBackend() });
}

test('counts tokens and chunks on the test model; long prompts take more chunks; unknown models are a 400', async () => {
  const app = await appWith((await tinyModelStore()).modelsDir);
  const tokenize = async (body: unknown) => app.inject({ method: 'POST', url: '/api/tokenize', payload: body as object });
  const short = (await tokenize({ text: 'a photo of a cat' })).json() as { ids: number[]; count: number; chunks: number; limit: number };
  assert.equal(short.count, short.ids.length);
  assert.deepEqual([short.chunks, short.limit], [1, 75]);
  const long = (await tokenize({ text: Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ') })).json() as { count: number; chunks: number; limit: number };
  assert.ok(long.count > 75);
  assert.equal(long.chunks, Math.ceil(long.count / 75));
  assert.equal(long.limit, 75 * long.chunks);
  const emphasis = (await tokenize({ text: '(a photo:1.3) of [a cat]' })).json() as { ids: number[] };
  assert.deepEqual(emphasis.ids, short.ids, 'markup is not counted as tokens');
  const bad = await tokenize({ text: 'x', model: 'nope' });
  assert.equal(bad.statusCode, 400);
  assert.equal((bad.json() as { error: { field: string } }).error.field, 'model');
  await app.close();
});

const sharedModel = join(import.meta.dirname, '..', '..', '..', 'shared', 'data', 'tiny-sd1', 'onnx');
test('the real CLIP vocabulary gives the reference ids', { skip: existsSync(sharedModel) ? false : `reference model not found at ${sharedModel}` }, async () => {
  const store = await mkdtemp(join(tmpdir(), 'easel-tok-models-'));
  cleanup.push(store);
  await mkdir(join(store, 'stable-diffusion'));
  await symlink(sharedModel, join(store, 'stable-diffusion', 'tiny-sd1'));
  const app = await appWith(store);
  const res = (await app.inject({ method: 'POST', url: '/api/tokenize', payload: { text: 'a photo of a cat', model: 'tiny-sd1' } })).json() as { ids: number[] };
  assert.deepEqual(res.ids, [320, 1125, 539, 320, 2368]);
  await app.close();
});
