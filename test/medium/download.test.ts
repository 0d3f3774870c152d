// The downloader against a real HTTP server on 127.0.0.1 that supports Range and can misbehave on purpose: drop the
// connection, ignore Range, change the file, serve wrong bytes, answer 404, or trickle so a test can abort midway.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CatalogEntry } from '../../server/src/models/catalog.js';
import {
  DownloadError,
  downloadFile,
  downloadModel,
  downloadState,
  type DownloadProgress,
  type ModelDownloadProgress,
} from '../../server/src/models/download.js';
import { ModelRegistry } from '../../server/src/models/model-registry.js';

const MiB = 1024 * 1024;

interface Served {
  body: Buffer;
  etag: string;
  /** Send this many bytes of the first full response, then cut the connection. */
  dropOnceAfter?: number;
  ignoreRange?: boolean;
  /** Serve these bytes instead of `body` (same length): a corrupt mirror. */
  wrongBody?: Buffer;
  /** Write 64 KiB at a time with this pause between writes. */
  trickleMs?: number;
}

interface SeenRequest {
  path: string;
  range?: string;
  ifRange?: string;
}

/** Deterministic bytes that differ per seed, so a wrong offset or a mixed-up file shows in the hash. */
function bytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

const files = new Map<string, Served>();
const seen: SeenRequest[] = [];
let server: Server;
let base: string;
let root: string;

function handle(path: string, rangeHeader: string | undefined, ifRange: string | undefined, res: ServerResponse): void {
  const file = files.get(path);
  if (!file) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    return;
  }
  let body = file.wrongBody ?? file.body;
  const headers: Record<string, string | number> = { 'content-type': 'application/octet-stream', etag: file.etag, 'accept-ranges': 'bytes' };
  let status = 200;
  const match = /^bytes=(\d+)-$/.exec(rangeHeader ?? '');
  if (match && !file.ignoreRange && (ifRange === undefined || ifRange === file.etag)) {
    const start = Number(match[1]);
    if (start >= body.length) {
      res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
      return;
    }
    status = 206;
    headers['content-range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
    body = body.subarray(start);
  }
  res.writeHead(status, { ...headers, 'content-length': body.length });
  if (file.dropOnceAfter !== undefined && status === 200) {
    const cut = file.dropOnceAfter;
    file.dropOnceAfter = undefined;
    res.write(body.subarray(0, cut), () => res.socket?.destroy());
    return;
  }
  if (file.trickleMs === undefined) {
    res.end(body);
    return;
  }
  const chunks = Math.ceil(body.length / (64 * 1024));
  const send = (i: number): void => {
    if (res.destroyed) return;
    if (i === chunks) {
      res.end();
      return;
    }
    res.write(body.subarray(i * 64 * 1024, (i + 1) * 64 * 1024));
    setTimeout(() => send(i + 1), file.trickleMs);
  };
  send(0);
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'easel-download-'));
  server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const ifRange = req.headers['if-range']?.toString();
    seen.push({ path, range: req.headers.range, ifRange });
    handle(path, req.headers.range, ifRange, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(root, { recursive: true, force: true });
});

function serve(path: string, served: Omit<Served, 'etag'> & { etag?: string }): { url: string; body: Buffer } {
  files.set(path, { etag: '"v1"', ...served });
  return { url: `${base}${path}`, body: served.body };
}

async function rejectsWith(promise: Promise<unknown>, code: string, message?: RegExp): Promise<DownloadError> {
  const error = await promise.then(
    () => assert.fail(`expected ${code}, but it succeeded`),
    (e: unknown) => e,
  );
  assert.ok(error instanceof DownloadError, `expected a DownloadError, got ${String(error)}`);
  assert.equal(error.code, code, error.message);
  if (message) assert.match(error.message, message);
  return error;
}

function assertMonotonic(events: readonly DownloadProgress[], total: number): void {
  assert.ok(events.length >= 2, `expected several progress events, got ${events.length}`);
  for (let i = 1; i < events.length; i++) {
    assert.ok(events[i]!.received >= events[i - 1]!.received, `received went back at event ${i}`);
  }
  assert.equal(events.at(-1)!.received, total);
  assert.equal(events.at(-1)!.total, total);
  assert.ok(events.every((e) => e.bytesPerSecond >= 0));
}

test('a file arrives whole, with its sha256, progress that only grows and ends at the total, and no temp files', async () => {
  const { url, body } = serve('/plain.bin', { body: bytes(3 * MiB, 1), trickleMs: 5 });
  const dest = join(root, 'plain', 'model.onnx');
  const events: DownloadProgress[] = [];
  const result = await downloadFile({ url, dest, expectedSize: body.length, sha256: sha256(body), onProgress: (p) => events.push(p) });
  assert.equal(result.sha256, sha256(body));
  assert.equal(result.size, body.length);
  assert.equal(result.resumedFrom, 0);
  assert.ok((await readFile(dest)).equals(body));
  assertMonotonic(events, body.length);
  assert.ok(events.slice(0, -1).every((e) => e.total === body.length), 'Content-Length gives the total from the start');
  assert.deepEqual(await readdir(join(root, 'plain')), ['model.onnx']);
});

test('a dropped connection keeps the partial file; the next call resumes it with a Range request', async () => {
  const { url, body } = serve('/drop.bin', { body: bytes(3 * MiB, 2), dropOnceAfter: 1 * MiB });
  const dest = join(root, 'drop', 'unet.onnx');
  const first = await rejectsWith(downloadFile({ url, dest }), 'EASEL_ERR_DOWNLOAD_INTERRUPTED', /dropped after .* start again to resume/);
  assert.equal(first.resumable, true);
  const kept = (await stat(`${dest}.partial`)).size;
  assert.ok(kept > 0 && kept < body.length, `partial holds ${kept} bytes`);

  const events: DownloadProgress[] = [];
  const result = await downloadFile({ url, dest, sha256: sha256(body), onProgress: (p) => events.push(p) });
  assert.equal(result.resumedFrom, kept);
  assert.equal(result.sha256, sha256(body));
  assert.ok((await readFile(dest)).equals(body));
  assert.deepEqual(seen.filter((r) => r.path === '/drop.bin').at(-1), { path: '/drop.bin', range: `bytes=${kept}-`, ifRange: '"v1"' });
  assert.ok(events[0]!.received > kept, 'progress continues from the resumed part');
  assertMonotonic(events, body.length);
  assert.equal(existsSync(`${dest}.partial`), false);
});

test('a server that ignores Range (200 instead of 206) makes the download restart cleanly', async () => {
  const { url, body } = serve('/norange.bin', { body: bytes(2 * MiB, 3), dropOnceAfter: 700_000, ignoreRange: true });
  const dest = join(root, 'norange', 'file.bin');
  await rejectsWith(downloadFile({ url, dest }), 'EASEL_ERR_DOWNLOAD_INTERRUPTED');
  const result = await downloadFile({ url, dest, sha256: sha256(body) });
  assert.equal(seen.filter((r) => r.path === '/norange.bin').at(-1)?.range?.startsWith('bytes='), true);
  assert.equal(result.resumedFrom, 0);
  assert.ok((await readFile(dest)).equals(body), 'the old partial bytes were not kept in front');
});

test('a file that changed on the server since the partial (If-Range no longer matches) starts over', async () => {
  const path = '/changed.bin';
  const { url } = serve(path, { body: bytes(2 * MiB, 4), dropOnceAfter: 600_000 });
  const dest = join(root, 'changed', 'file.bin');
  await rejectsWith(downloadFile({ url, dest }), 'EASEL_ERR_DOWNLOAD_INTERRUPTED');
  const newer = bytes(2 * MiB, 5);
  serve(path, { body: newer, etag: '"v2"' });
  const result = await downloadFile({ url, dest });
  assert.equal(result.resumedFrom, 0);
  assert.equal(result.sha256, sha256(newer));
});

test('a partial that already holds every byte (a crash before the rename) is verified, not fetched again', async () => {
  const { url, body } = serve('/complete.bin', { body: bytes(500_000, 14) });
  const dest = join(root, 'complete', 'file.bin');
  await mkdir(join(root, 'complete'));
  await writeFile(`${dest}.partial`, body);
  // What the first attempt records beside its partial file.
  await writeFile(`${dest}.partial.json`, JSON.stringify({ url, validator: '"v1"', total: body.length }));
  const result = await downloadFile({ url, dest, sha256: sha256(body) });
  assert.equal(result.resumedFrom, body.length);
  assert.deepEqual(seen.filter((r) => r.path === '/complete.bin'), [{ path: '/complete.bin', range: `bytes=${body.length}-`, ifRange: '"v1"' }]);
  assert.deepEqual(await readdir(join(root, 'complete')), ['file.bin']);
});

test('wrong bytes fail the checksum, and the bad file is deleted', async () => {
  const good = bytes(1 * MiB, 6);
  const { url } = serve('/corrupt.bin', { body: good, wrongBody: bytes(1 * MiB, 7) });
  const dest = join(root, 'corrupt', 'model.onnx');
  await rejectsWith(downloadFile({ url, dest, sha256: sha256(good) }), 'EASEL_ERR_DOWNLOAD_CHECKSUM', /corrupt\.bin is corrupt .* deleted/);
  assert.deepEqual(await readdir(join(root, 'corrupt')), []);
});

test('a size other than the expected one is refused before downloading', async () => {
  const { url, body } = serve('/size.bin', { body: bytes(300_000, 8) });
  const dest = join(root, 'size', 'file.bin');
  await rejectsWith(downloadFile({ url, dest, expectedSize: body.length + 1 }), 'EASEL_ERR_DOWNLOAD_SIZE', /300\.0 KB on the server/);
  assert.deepEqual(await readdir(join(root, 'size')), []);
});

test('404 says the file is gone and the catalog needs updating', async () => {
  const error = await rejectsWith(
    downloadFile({ url: `${base}/nowhere/model.onnx`, dest: join(root, 'missing', 'model.onnx') }),
    'EASEL_ERR_DOWNLOAD_NOT_FOUND',
    /model\.onnx is not on the server any more \(HTTP 404\)/,
  );
  assert.equal(error.status, 404);
  assert.equal(error.resumable, false);
});

test('a refused connection reads as offline', async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  const error = await rejectsWith(
    downloadFile({ url: `http://127.0.0.1:${port}/model.onnx`, dest: join(root, 'offline', 'model.onnx') }),
    'EASEL_ERR_DOWNLOAD_OFFLINE',
    new RegExp(`cannot reach 127\\.0\\.0\\.1:${port} \\(the connection was refused\\); check the internet connection`),
  );
  assert.equal(error.resumable, true);
});

test('an AbortSignal stops the download midway; the partial stays for a resume', async () => {
  const { url, body } = serve('/slow.bin', { body: bytes(2 * MiB, 9), trickleMs: 20 });
  const dest = join(root, 'abort', 'file.bin');
  const controller = new AbortController();
  // The second event comes a few hundred KB in; the whole file takes about 0.6 s to trickle out.
  let events = 0;
  const onProgress = (): void => {
    if (++events === 2) controller.abort();
  };
  await rejectsWith(downloadFile({ url, dest, signal: controller.signal, onProgress }), 'EASEL_ERR_DOWNLOAD_ABORTED', /stopped; start it again/);
  const kept = (await stat(`${dest}.partial`)).size;
  assert.ok(kept > 0 && kept < body.length, `partial holds ${kept} bytes`);
  files.get('/slow.bin')!.trickleMs = undefined;
  const result = await downloadFile({ url, dest, sha256: sha256(body) });
  assert.equal(result.resumedFrom, kept);
});

test('a full disk gives a disk-full message', { skip: !existsSync('/dev/full') && 'needs /dev/full (Linux)' }, async () => {
  const { url } = serve('/full.bin', { body: bytes(256 * 1024, 10) });
  const dest = join(root, 'full', 'file.bin');
  await downloadFile({ url: `${base}/nowhere`, dest }).catch(() => undefined); // creates the folder
  await symlink('/dev/full', `${dest}.partial`);
  const error = await rejectsWith(downloadFile({ url, dest }), 'EASEL_ERR_DISK_FULL', /not enough disk space .* Free some space/);
  assert.equal(error.resumable, true);
});

function entryFor(id: string, paths: Record<string, string>): CatalogEntry {
  return {
    id,
    kind: 'stable-diffusion',
    name: `Test model ${id}`,
    description: 'served by the test',
    format: 'onnx',
    needsConversion: false,
    licence: { id: 'MIT', name: 'MIT', url: 'https://example.com', nonCommercial: false },
    sizeBytes: 4 * MiB,
    homepage: 'https://example.com',
    files: Object.entries(paths).map(([path, url]) => ({ path, url })),
  };
}

test('a model folder appears only when every file is verified; a second call resumes the rest', async () => {
  const models = join(root, 'models');
  const parts = {
    'model_index.json': serve('/m/model_index.json', { body: Buffer.from('{"_class_name":"OnnxStableDiffusionPipeline"}') }),
    'tokenizer/vocab.json': serve('/m/vocab.json', { body: Buffer.from('{}') }),
    'text_encoder/model.onnx': serve('/m/text_encoder.onnx', { body: bytes(200_000, 11) }),
    'unet/model.onnx': serve('/m/unet.onnx', { body: bytes(3 * MiB, 12), dropOnceAfter: 1 * MiB }),
    'vae_decoder/model.onnx': serve('/m/vae_decoder.onnx', { body: bytes(300_000, 13) }),
  };
  const entry = entryFor('tiny', Object.fromEntries(Object.entries(parts).map(([p, s]) => [p, s.url])));
  const registry = new ModelRegistry(models);

  await rejectsWith(downloadModel(entry, models), 'EASEL_ERR_DOWNLOAD_INTERRUPTED');
  assert.equal(existsSync(join(models, 'stable-diffusion', 'tiny')), false);
  assert.deepEqual(await registry.list(), [], 'a half-downloaded model is not listed');
  assert.equal(await downloadState(entry, models), 'partial');

  const events: ModelDownloadProgress[] = [];
  const result = await downloadModel(entry, models, { onProgress: (p) => events.push(p) });
  const total = Object.values(parts).reduce((sum, s) => sum + s.body.length, 0);
  assertMonotonic(events, total);
  assert.equal(events.at(-1)!.estimated, false);
  assert.equal(result.alreadyInstalled, false);
  for (const [path, { body }] of Object.entries(parts)) {
    assert.ok((await readFile(join(result.dir, path))).equals(body), path);
    assert.equal(result.files.find((f) => f.path === path)?.sha256, sha256(body), `${path} hash recorded`);
  }
  assert.equal(seen.filter((r) => r.path === '/m/text_encoder.onnx').length, 1, 'finished files are not fetched again');
  const listed = await registry.list();
  assert.deepEqual(listed.map((m) => [m.id, m.ready]), [['tiny', true]]);
  assert.equal(await downloadState(entry, models), 'installed');
  assert.deepEqual((await readdir(join(models, 'stable-diffusion'))).sort(), ['tiny'], 'the staging folder is gone');

  const again = await downloadModel(entry, models);
  assert.equal(again.alreadyInstalled, true);
  assert.equal(again.files.length, 5);
});

test('a model with a missing file is not installed, and says which file', async () => {
  const models = join(root, 'models-404');
  const entry = entryFor('broken', {
    'model_index.json': serve('/b/model_index.json', { body: Buffer.from('{}') }).url,
    'unet/model.onnx': `${base}/b/unet-gone.onnx`,
  });
  await rejectsWith(downloadModel(entry, models), 'EASEL_ERR_DOWNLOAD_NOT_FOUND', /unet-gone\.onnx/);
  assert.equal(existsSync(join(models, 'stable-diffusion', 'broken')), false);
});
