// The downloads API against a local HTTP server on 127.0.0.1 serving a tiny model: GET /api/models/catalog with
// states, POST /api/models/downloads with progress over the websocket until the model is listed, cancel (DELETE)
// midway with everything fetched deleted, a missing file, conversion after download for a diffusers entry, and the
// 4xx answers (unknown, busy, installed) — never a 500.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../server/src/app.js';
import { loadConfig } from '../../server/src/config/config.js';
import type { WsEvent } from '../../server/src/http/events.js';
import type { CatalogItem, DownloadView } from '../../server/src/http/models.schemas.js';
import type { ModelInfo } from '../../server/src/http/schemas.js';
import type { CatalogEntry } from '../../server/src/models/catalog.js';
import { FakeBackend } from '../helpers/fake-backend.js';
import { tinyModelStore } from '../helpers/tiny-model.js';
import { jsonClient } from '../helpers/http-json.js';
import { watchEvents, type EventWatcher } from '../helpers/ws-events.js';

const TINY_SD1_DIFFUSERS = fileURLToPath(new URL('../../../shared/data/tiny-sd1/diffusers/', import.meta.url));

/** path → body; a path listed in `slow` trickles out 64 KiB at a time. */
const served = new Map<string, Buffer>();
const slow = new Set<string>();
let server: Server;
let base: string;
let root: string;
let modelsDir: string;
let app: FastifyInstance;
let url: string;
let ws: EventWatcher;
const entries: CatalogEntry[] = [];

async function filesOf(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.isDirectory()) out.push(...(await filesOf(join(dir, e.name))));
    else out.push(join(dir, e.name));
  }
  return out;
}

/** Serves every file of `dir` under `/<prefix>/` and returns catalog file entries for them. */
async function serveFolder(dir: string, prefix: string): Promise<CatalogEntry['files']> {
  const files: CatalogEntry['files'] = [];
  for (const path of await filesOf(dir)) {
    const rel = relative(dir, path).split('\\').join('/');
    served.set(`/${prefix}/${rel}`, await readFile(path));
    files.push({ path: rel, url: `${base}/${prefix}/${rel}` });
  }
  return files;
}

function entry(id: string, files: CatalogEntry['files'], extra: Partial<CatalogEntry> = {}): CatalogEntry {
  return {
    id, kind: 'stable-diffusion', name: `Test ${id}`, description: 'served by the test', format: 'onnx', needsConversion: false,
    licence: { id: 'MIT', name: 'MIT', url: 'https://example.com', nonCommercial: id === 'tiny-nc' }, sizeBytes: 1_000_000,
    homepage: 'https://example.com', files, ...extra,
  };
}

before(async () => {
  server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const body = served.get(path);
    if (!body) return void res.writeHead(404).end('not found');
    res.writeHead(200, { 'content-length': body.length, etag: '"1"', 'accept-ranges': 'bytes' });
    if (!slow.has(path)) return void res.end(body);
    let i = 0;
    const next = (): void => {
      if (res.destroyed) return;
      if (i >= body.length) return void res.end();
      res.write(body.subarray(i, (i += 64 * 1024)));
      setTimeout(next, 30);
    };
    next();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const { modelDir } = await tinyModelStore();
  entries.push(entry('tiny-dl', await serveFolder(modelDir, 'tiny')));
  served.set('/big.bin', Buffer.alloc(3 * 1024 * 1024, 7));
  slow.add('/big.bin');
  entries.push(entry('tiny-slow', [{ path: 'model_index.json', url: `${base}/tiny/model_index.json` }, { path: 'unet/model.onnx', url: `${base}/big.bin` }]));
  entries.push(entry('tiny-gone', [{ path: 'model_index.json', url: `${base}/tiny/model_index.json` }, { path: 'unet/model.onnx', url: `${base}/nowhere.onnx` }]));
  if (existsSync(TINY_SD1_DIFFUSERS)) {
    entries.push(entry('tiny-convert', await serveFolder(TINY_SD1_DIFFUSERS, 'diffusers'), { format: 'diffusers', needsConversion: true }));
  }

  root = await mkdtemp(join(tmpdir(), 'easel-downloads-api-'));
  modelsDir = join(root, 'models');
  const config = loadConfig(['--port', '0', '--models', modelsDir, '--data', join(root, 'data'), '--no-browser'], {});
  app = await buildApp(config, { backend: new FakeBackend(), models: { catalog: async () => entries } });
  await app.listen({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  ws = await watchEvents(url);
});

after(async () => {
  ws.close();
  await app.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(root, { recursive: true, force: true });
});

const api = jsonClient(() => url);

type DownloadEvent = Extract<WsEvent, { type: `model.download.${string}` }>;
const ofDownload = (id: string) => (e: WsEvent): e is DownloadEvent => e.type.startsWith('model.download.') && (e as DownloadEvent).download.id === id;
const endOf = (id: string) => (e: WsEvent): e is DownloadEvent => ofDownload(id)(e) && e.type !== 'model.download.progress';
const stateOf = async (id: string) => (await api<CatalogItem[]>('GET', '/api/models/catalog')).body.find((c) => c.id === id)?.state;

test('the catalog lists every entry with its state, size and licence', async () => {
  const res = await api<CatalogItem[]>('GET', '/api/models/catalog');
  assert.equal(res.status, 200);
  const item = res.body.find((c) => c.id === 'tiny-dl');
  assert.deepEqual([item?.state, item?.sizeBytes, item?.licence.name, item?.licence.nonCommercial, item?.download], ['absent', 1_000_000, 'MIT', false, null]);
});

test('a download streams progress over the websocket and ends as an installed, listed model', async () => {
  const res = await api<DownloadView>('POST', '/api/models/downloads', { id: 'tiny-dl' });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  const end = await ws.waitFor(endOf('tiny-dl'));
  assert.equal(end.type, 'model.download.done', JSON.stringify(end));
  const progress = ws.events.filter(ofDownload('tiny-dl')).map((e) => e.download.received);
  assert.ok(progress.length >= 2);
  for (let i = 1; i < progress.length; i++) assert.ok(progress[i]! >= progress[i - 1]!, 'received only grows');
  assert.equal(await stateOf('tiny-dl'), 'installed');
  const models = (await api<ModelInfo[]>('GET', '/api/models')).body;
  assert.ok(models.some((m) => m.id === 'tiny-dl' && m.ready), JSON.stringify(models));
  const again = await api<{ error: { code: string } }>('POST', '/api/models/downloads', { id: 'tiny-dl' });
  assert.deepEqual([again.status, again.body.error.code], [409, 'EASEL_ERR_MODEL_INSTALLED']);
});

test('cancelling stops a download midway and deletes what it fetched', async () => {
  assert.equal((await api('POST', '/api/models/downloads', { id: 'tiny-slow' })).status, 202);
  const busy = await api<{ error: { code: string } }>('POST', '/api/models/downloads', { id: 'tiny-slow' });
  assert.deepEqual([busy.status, busy.body.error.code], [409, 'EASEL_ERR_DOWNLOAD_BUSY']);
  await ws.waitFor((e) => ofDownload('tiny-slow')(e) && e.download.received > 0);
  assert.equal((await api('DELETE', '/api/models/downloads/tiny-slow')).status, 204);
  const end = await ws.waitFor(endOf('tiny-slow'));
  assert.equal(end.type, 'model.download.failed');
  assert.equal(end.type === 'model.download.failed' && end.error.code, 'EASEL_ERR_DOWNLOAD_ABORTED');
  assert.equal(await stateOf('tiny-slow'), 'absent');
  assert.deepEqual((await readdir(join(modelsDir, 'stable-diffusion'))).filter((n) => n.includes('tiny-slow')), []);
});

test('a file missing on the server fails the download with a reason; the partial download can be discarded', async () => {
  assert.equal((await api('POST', '/api/models/downloads', { id: 'tiny-gone' })).status, 202);
  const end = await ws.waitFor(endOf('tiny-gone'));
  assert.equal(end.type === 'model.download.failed' && end.error.code, 'EASEL_ERR_DOWNLOAD_NOT_FOUND');
  assert.match(end.type === 'model.download.failed' ? end.error.message : '', /nowhere\.onnx is not on the server/);
  assert.equal(await stateOf('tiny-gone'), 'partial');
  assert.equal((await api('DELETE', '/api/models/downloads/tiny-gone')).status, 204);
  assert.equal(await stateOf('tiny-gone'), 'absent');
});

test('an entry that needs conversion is downloaded, converted to ONNX, and its weights removed', { skip: !existsSync(TINY_SD1_DIFFUSERS) && 'shared data tiny-sd1 absent' }, async () => {
  assert.equal((await api('POST', '/api/models/downloads', { id: 'tiny-convert' })).status, 202);
  const end = await ws.waitFor(endOf('tiny-convert'));
  assert.equal(end.type, 'model.download.done', JSON.stringify(end));
  assert.ok(ws.events.some((e) => ofDownload('tiny-convert')(e) && e.download.phase === 'converting' && e.download.importId !== null));
  assert.equal(await stateOf('tiny-convert'), 'installed');
  assert.ok((await api<ModelInfo[]>('GET', '/api/models')).body.some((m) => m.id === 'tiny-convert' && m.ready));
  assert.deepEqual(await readdir(join(modelsDir, '.easel-sources', 'stable-diffusion')), [], 'the downloaded weights are deleted');
});

test('unknown catalog ids and malformed requests are 4xx', async () => {
  assert.equal((await api('POST', '/api/models/downloads', { id: 'nope' })).status, 404);
  assert.equal((await api('POST', '/api/models/downloads', {})).status, 400);
  assert.equal((await api('POST', '/api/models/downloads', { id: 'tiny-dl', more: 1 })).status, 400);
  assert.equal((await api('DELETE', '/api/models/downloads/nope')).status, 404);
});
