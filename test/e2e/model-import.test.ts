// Importing checkpoints through the real server: by path (the reference tiny-sd1 checkpoint), by upload (a tiny
// checkpoint this test writes from random weights, so no shared data is needed), and by dropping a file into the
// store. Each runs in the import worker thread, reports progress over the websocket, and ends as a model that a job
// can use. Cancelling and refusing (never a 500) too.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../server/src/app.js';
import { loadConfig } from '../../server/src/config/config.js';
import type { WsEvent } from '../../server/src/http/events.js';
import type { ImportView } from '../../server/src/http/models.schemas.js';
import type { ModelInfo } from '../../server/src/http/schemas.js';
import { tinyCheckpointConfig, writeConfigFolder, writeRandomCheckpoint } from '../../server/src/bench/random-checkpoint.js';
import { jsonClient } from '../helpers/http-json.js';
import { watchEvents, type EventWatcher } from '../helpers/ws-events.js';

const TINY_SD1 = fileURLToPath(new URL('../../../shared/data/tiny-sd1/', import.meta.url));
const HAVE_TINY_SD1 = existsSync(join(TINY_SD1, 'tiny-sd1.safetensors'));
const UPLOAD_LIMIT = 6 * 1024 * 1024;

let root: string;
let modelsDir: string;
let dataDir: string;
let app: FastifyInstance;
let url: string;
let ws: EventWatcher;
/** A tiny SD 1.x-style checkpoint from random weights, and the config folder its architecture needs. */
let checkpoint: string;
let configDir: string;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'easel-model-import-'));
  modelsDir = join(root, 'models');
  dataDir = join(root, 'data');
  checkpoint = join(root, 'random-tiny.safetensors');
  configDir = join(root, 'random-tiny-config');
  await writeRandomCheckpoint(checkpoint, { config: tinyCheckpointConfig(), family: 'sd1', seed: 7 });
  await writeConfigFolder(configDir, tinyCheckpointConfig());
  const config = loadConfig(['--port', '0', '--models', modelsDir, '--data', dataDir, '--no-browser'], {});
  app = await buildApp(config, { models: { uploadLimitBytes: UPLOAD_LIMIT, autoImportQuietMs: 300 } });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  url = `http://127.0.0.1:${address.port}`;
  ws = await watchEvents(url);
});

after(async () => {
  ws.close();
  await app.close();
  await rm(root, { recursive: true, force: true });
});

type ImportEvent = Extract<WsEvent, { type: `model.import.${string}` }>;
const isImport = (e: WsEvent): e is ImportEvent => e.type.startsWith('model.import.');
const importEvents = (id: string) => ws.events.filter(isImport).filter((e) => e.import.id === id);
const ended = (id: string) => (e: WsEvent): e is ImportEvent => isImport(e) && e.import.id === id && e.type !== 'model.import.progress';

const api = jsonClient(() => url);

const models = async (kind = '') => (await api<ModelInfo[]>('GET', `/api/models${kind ? `?kind=${kind}` : ''}`)).body;

async function runJob(model: string): Promise<void> {
  const created = await api<{ id: string }>('POST', '/api/jobs', { prompt: 'a red barn', model, steps: 2, width: 64, height: 64, seed: 1 });
  assert.equal(created.status, 202, JSON.stringify(created.body));
  const id = created.body.id;
  const end = await ws.waitFor((e) => (e.type === 'job.done' || e.type === 'job.failed') && e.job.id === id);
  assert.equal(end.type, 'job.done', JSON.stringify(end));
}

test('a checkpoint on the server disk imports over HTTP with progress events, is listed, and renders', { skip: !HAVE_TINY_SD1 && 'shared data tiny-sd1 absent' }, async () => {
  const res = await api<{ importId: string }>('POST', '/api/models/import', {
    path: join(TINY_SD1, 'tiny-sd1.safetensors'),
    config: join(TINY_SD1, 'diffusers'),
    name: 'tiny-sd1',
  });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  const done = await ws.waitFor(ended(res.body.importId));
  assert.equal(done.type, 'model.import.done', JSON.stringify(done));

  const progress = importEvents(res.body.importId).filter((e) => e.type === 'model.import.progress').map((e) => e.import);
  assert.ok(progress.length >= 3, `${progress.length} progress events`);
  assert.deepEqual(progress.slice(0, 2).map((p) => p.state), ['queued', 'running']);
  assert.ok(progress.some((p) => p.stage === 'unet'), 'the UNet stage is reported');
  for (let i = 1; i < progress.length; i++) assert.ok(progress[i]!.progress >= progress[i - 1]!.progress, 'progress never goes back');
  assert.equal(done.import.progress, 1);
  assert.equal(done.import.description, 'SD 1.x');

  const listed = (await models()).find((m) => m.id === 'tiny-sd1');
  assert.ok(listed?.ready, JSON.stringify(listed));
  assert.equal(listed.family, 'sd1');
  assert.ok(listed.components?.includes('unet') && listed.components.includes('vae_encoder'));
  const imports = (await api<ImportView[]>('GET', '/api/models/imports')).body;
  assert.equal(imports.find((i) => i.id === res.body.importId)?.state, 'done');
  await runJob('tiny-sd1');
});

test('an uploaded checkpoint (random weights, no tokenizer) streams to disk, imports with the bundled tokenizer, and renders', async () => {
  const body = await readFile(checkpoint);
  const query = new URLSearchParams({ filename: 'Random Tiny.safetensors', config: configDir });
  const res = await fetch(`${url}/api/models/import/upload?${query}`, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(res.status, 202, await res.clone().text());
  const { importId } = (await res.json()) as { importId: string };
  const done = await ws.waitFor(ended(importId));
  assert.equal(done.type, 'model.import.done', JSON.stringify(done));
  assert.equal(done.import.origin, 'upload');
  assert.equal(done.import.source, 'Random Tiny.safetensors');

  const listed = (await models()).find((m) => m.id === 'Random Tiny');
  assert.ok(listed?.ready, JSON.stringify(listed));
  const special = JSON.parse(await readFile(join(modelsDir, 'stable-diffusion', 'Random Tiny', 'tokenizer', 'special_tokens_map.json'), 'utf8')) as { pad_token: string };
  assert.equal(special.pad_token, '<|endoftext|>', 'SD 1.x gets the bundled tokenizer with its pad token');
  assert.deepEqual(await readdir(join(dataDir, 'uploads')), [], 'the uploaded file is gone once imported');
  await runJob('Random Tiny');
});

test('precision fp16 imports float16 networks that are listed as fp16 and render', async () => {
  const res = await api<{ importId: string }>('POST', '/api/models/import', { path: checkpoint, config: configDir, name: 'random-fp16', precision: 'fp16' });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  const done = await ws.waitFor(ended(res.body.importId));
  assert.equal(done.type, 'model.import.done', JSON.stringify(done));
  assert.equal(done.import.precision, 'fp16');
  const listed = (await models()).find((m) => m.id === 'random-fp16');
  assert.ok(listed?.ready, JSON.stringify(listed));
  assert.equal(listed.precision, 'fp16');
  await runJob('random-fp16');
});

test('a checkpoint dropped into models/stable-diffusion/ is imported once, when models are listed, and left in place', async () => {
  const folder = join(modelsDir, 'stable-diffusion');
  await mkdir(folder, { recursive: true });
  const dropped = join(folder, 'dropped.safetensors');
  await cp(checkpoint, dropped);
  // Its architecture is not SD 1.5's: the config folder beside it says what it is.
  await cp(configDir, join(folder, 'dropped.config'), { recursive: true });
  const old = new Date(Date.now() - 60_000);
  await utimes(dropped, old, old);

  await models(); // listing notices it
  const started = (await ws.waitFor((e) => isImport(e) && e.import.origin === 'auto' && e.import.name === 'dropped')) as ImportEvent;
  const done = await ws.waitFor(ended(started.import.id));
  assert.equal(done.type, 'model.import.done', JSON.stringify(done));
  assert.ok((await models()).some((m) => m.id === 'dropped' && m.ready));
  assert.ok(existsSync(dropped), 'the checkpoint stays where it was put');
  const marks = JSON.parse(await readFile(join(folder, '.easel-imports.json'), 'utf8')) as { files: Record<string, { state: string; modelId: string }> };
  const mark = marks.files['dropped.safetensors'];
  assert.deepEqual([mark?.state, mark?.modelId], ['imported', 'dropped'], JSON.stringify(mark));
  const checkpoints = await models('checkpoint');
  assert.equal(checkpoints.find((c) => c.id === 'dropped.safetensors')?.importedAs, 'dropped');

  await models();
  const autoImports = (await api<ImportView[]>('GET', '/api/models/imports')).body.filter((i) => i.origin === 'auto');
  assert.equal(autoImports.length, 1, 'listing again does not import it again');
});

test('imports can be cancelled, queued or running, and leave nothing behind', async () => {
  const start = async (name: string) => (await api<{ importId: string }>('POST', '/api/models/import', { path: checkpoint, config: configDir, name })).body.importId;
  const running = await start('cancel-running');
  const queued = await start('cancel-queued');
  assert.equal((await api('DELETE', `/api/models/imports/${queued}`)).status, 204);
  await ws.waitFor((e) => isImport(e) && e.import.id === running && e.import.state === 'running');
  assert.equal((await api('DELETE', `/api/models/imports/${running}`)).status, 204);
  for (const id of [running, queued]) {
    const end = await ws.waitFor(ended(id));
    assert.equal(end.type, 'model.import.failed');
    assert.equal(end.type === 'model.import.failed' && end.error.code, 'EASEL_ERR_IMPORT_CANCELLED');
    assert.equal(end.import.state, 'cancelled');
  }
  const left = await readdir(join(modelsDir, 'stable-diffusion'));
  assert.deepEqual(left.filter((n) => n.includes('cancel')), [], 'no model and no work folder left');
  const again = await api<{ error: { code: string } }>('DELETE', `/api/models/imports/${running}`);
  assert.deepEqual([again.status, again.body.error.code], [409, 'EASEL_ERR_IMPORT_FINISHED']);
});

test('bad imports are refused with a 4xx and a reason, never a 500', async () => {
  const pickle = join(root, 'old.ckpt');
  await writeFile(pickle, Buffer.from('PK\x03\x04 torch zip'));
  const notModel = join(root, 'notes.safetensors');
  await writeFile(notModel, 'just some text, not a checkpoint');
  const sdxl = join(root, 'xl.safetensors');
  await writeFile(sdxl, safetensorsHeaderOnly(['conditioner.embedders.0.transformer.text_model.final_layer_norm.weight', 'model.diffusion_model.input_blocks.0.0.weight']));
  const cases: [unknown, number, string][] = [
    [{}, 400, 'EASEL_ERR_INVALID'],
    [{ path: checkpoint, extra: 1 }, 400, 'EASEL_ERR_INVALID'],
    [{ path: join(root, 'missing.safetensors') }, 400, 'EASEL_ERR_IMPORT_SOURCE'],
    [{ path: root }, 400, 'EASEL_ERR_IMPORT_SOURCE'],
    [{ path: pickle }, 400, 'EASEL_ERR_MODEL_UNSUPPORTED'],
    [{ path: notModel }, 400, 'EASEL_ERR_IMPORT_INVALID'],
    [{ path: sdxl }, 400, 'EASEL_ERR_MODEL_UNSUPPORTED'],
    [{ path: checkpoint, name: '../escape' }, 400, 'EASEL_ERR_INVALID'],
    [{ path: checkpoint, config: join(root, 'no-such-config') }, 400, 'EASEL_ERR_IMPORT_CONFIG'],
    [{ path: checkpoint, name: 'dropped' }, 409, 'EASEL_ERR_MODEL_EXISTS'],
    [{ path: checkpoint, precision: 'fp8' }, 400, 'EASEL_ERR_INVALID'],
    [{ path: checkpoint, precision: 16 }, 400, 'EASEL_ERR_INVALID'],
  ];
  for (const [body, status, code] of cases) {
    const res = await api<{ error: { code: string; message: string } }>('POST', '/api/models/import', body);
    assert.deepEqual([res.status, res.body.error.code], [status, code], `${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
    assert.ok(res.body.error.message.length > 10);
  }
  const badPrecision = await api<{ error: { field: string; message: string } }>('POST', '/api/models/import', { path: checkpoint, precision: 'half' });
  assert.equal(badPrecision.body.error.field, 'precision');
  assert.match(badPrecision.body.error.message, /precision must be one of fp32, fp16/);
  const upload = (body: Uint8Array<ArrayBuffer> | string, query = '') => fetch(`${url}/api/models/import/upload${query}`, { method: 'POST', body });
  const tooBig = await upload(new Uint8Array(UPLOAD_LIMIT + 1));
  assert.equal(tooBig.status, 413);
  assert.equal(((await tooBig.json()) as { error: { code: string } }).error.code, 'EASEL_ERR_UPLOAD_TOO_LARGE');
  assert.equal((await upload('')).status, 400);
  assert.equal((await upload('not a checkpoint', '?filename=x.safetensors')).status, 400);
  assert.equal((await upload('x', '?unknown=1')).status, 400);
  // Checked with the querystring, before the body is read: a bad value costs no upload.
  const badUpload = await upload(await readFile(checkpoint), '?filename=x.safetensors&precision=half');
  assert.equal(badUpload.status, 400);
  const refused = (await badUpload.json()) as { error: { field: string; message: string } };
  assert.equal(refused.error.field, 'precision');
  assert.match(refused.error.message, /precision must be one of fp32, fp16/);
  assert.deepEqual(await readdir(join(dataDir, 'uploads')), [], 'refused uploads are deleted');
  assert.equal((await api('GET', '/api/models?kind=everything')).status, 400);
  assert.equal((await api('DELETE', '/api/models/imports/nope')).status, 404);
});

/** A .safetensors file whose header names these tensors (one F16 zero each). */
function safetensorsHeaderOnly(names: string[]): Buffer {
  const header = Object.fromEntries(names.map((n, i) => [n, { dtype: 'F16', shape: [1], data_offsets: [2 * i, 2 * i + 2] }]));
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, json, Buffer.alloc(2 * names.length)]);
}
