// Downloads model files: streamed (never a whole file in memory), resumable (`.partial` + HTTP Range), verified
// (size, sha256) and atomic (a file is renamed into place once verified; a model folder once all its files are).
import { once } from 'node:events';
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { pathProblem, type CatalogEntry } from './catalog.js';

export type DownloadErrorCode =
  | 'EASEL_ERR_DOWNLOAD_NOT_FOUND' | 'EASEL_ERR_DOWNLOAD_HTTP' | 'EASEL_ERR_DOWNLOAD_OFFLINE' | 'EASEL_ERR_DOWNLOAD_INTERRUPTED'
  | 'EASEL_ERR_DISK_FULL' | 'EASEL_ERR_DOWNLOAD_CHECKSUM' | 'EASEL_ERR_DOWNLOAD_SIZE' | 'EASEL_ERR_DOWNLOAD_ABORTED'
  | 'EASEL_ERR_DOWNLOAD_BUSY' | 'EASEL_ERR_DOWNLOAD_IO';

/** Codes after which calling again continues from the bytes already on disk. */
const RESUMABLE = new Set<DownloadErrorCode>(['EASEL_ERR_DOWNLOAD_OFFLINE', 'EASEL_ERR_DOWNLOAD_INTERRUPTED', 'EASEL_ERR_DISK_FULL', 'EASEL_ERR_DOWNLOAD_ABORTED']);

export class DownloadError extends Error {
  readonly url?: string;
  /** The HTTP status, for the HTTP codes. */
  readonly status?: number;

  constructor(readonly code: DownloadErrorCode, message: string, details: { url?: string; status?: number; cause?: unknown } = {}) {
    super(message, { cause: details.cause });
    Object.assign(this, { name: 'DownloadError', url: details.url, status: details.status });
  }

  get resumable(): boolean {
    return RESUMABLE.has(this.code) || (this.status !== undefined && this.status >= 500);
  }
}

export interface DownloadProgress {
  /** Bytes of this file on disk so far, including a resumed part. */
  received: number;
  total: number | null;
  bytesPerSecond: number;
}

export interface DownloadFileOptions {
  url: string;
  dest: string;
  expectedSize?: number;
  sha256?: string;
  signal?: AbortSignal;
  onProgress?: (progress: DownloadProgress) => void;
  fetchImpl?: typeof fetch;
}

export interface DownloadedFile {
  path: string;
  size: number;
  /** Computed while streaming; equals the expected hash when one was given. */
  sha256: string;
  /** Bytes that were already on disk from an earlier attempt (0 for a fresh download). */
  resumedFrom: number;
}

/** What `<dest>.partial.json` remembers so a resume can prove it continues the same file. */
interface PartialMeta {
  url: string;
  /** A strong ETag or a Last-Modified date, sent back as If-Range. */
  validator: string | null;
  total: number | null;
}

const PROGRESS_INTERVAL_MS = 200;

export async function downloadFile(opts: DownloadFileOptions): Promise<DownloadedFile> {
  const { url, dest, signal, expectedSize } = opts;
  const { partial, metaPath } = partialPaths(dest);
  const state: TransferState = { phase: 'connect', received: 0 };
  try {
    signal?.throwIfAborted();
    await mkdir(dirname(dest), { recursive: true });
    let have = await sizeOf(partial);
    const meta = await readJson<PartialMeta>(metaPath);
    // Bytes we cannot vouch for (other URL, no record, longer than the file) are worth less than a clean start.
    if (have > 0 && (meta?.url !== url || (expectedSize !== undefined && have > expectedSize))) {
      await discard(dest);
      have = 0;
    }
    // Read back what is already here before asking the server, so its response does not sit unread meanwhile.
    const resumed = have > 0 ? await hashFile(partial, have, signal) : undefined;
    if (resumed && have === expectedSize) return await finish(opts, have, resumed, have);

    // identity: a compressed body would make Content-Length and byte offsets meaningless.
    const headers: Record<string, string> = { 'accept-encoding': 'identity' };
    if (have > 0) Object.assign(headers, { range: `bytes=${have}-` }, meta?.validator ? { 'if-range': meta.validator } : {});
    const response = await (opts.fetchImpl ?? fetch)(url, { headers, signal });
    state.phase = 'transfer';

    let start = 0;
    let total = response.headers.has('content-encoding') ? null : numberHeader(response, 'content-length');
    const range = parseContentRange(response.headers.get('content-range'));
    const restart = async (): Promise<DownloadedFile> => {
      await response.body?.cancel();
      await discard(dest);
      return downloadFile(opts);
    };
    if (response.status === 416 && have > 0) {
      // Every byte is already here (a crash between the last write and the rename), or the partial is useless.
      if (!resumed || range?.total !== have || (meta?.total ?? have) !== have) return await restart();
      await response.body?.cancel();
      return await finish(opts, have, resumed, have);
    }
    if (response.status === 206 && have > 0) {
      // A range we did not ask for, or a file of another size: the bytes on disk may belong to another version.
      if (!resumed || range?.start !== have || (meta?.total != null && range.total !== meta.total)) return await restart();
      start = have;
      total = range.total ?? (total === null ? null : have + total);
    } else if (!response.ok) {
      await response.body?.cancel();
      throw httpError(url, response.status);
    }
    // Any other success is the whole file: the server ignored Range, or If-Range saw a new version.

    if (expectedSize !== undefined && total !== null && total !== expectedSize) {
      await response.body?.cancel();
      await discard(dest);
      const sizes = `${formatBytes(total)} on the server, but the catalog expects ${formatBytes(expectedSize)}`;
      throw new DownloadError('EASEL_ERR_DOWNLOAD_SIZE', `${fileName(url)} is ${sizes}; the catalog entry needs updating`, { url });
    }
    await ensureFreeSpace(dirname(dest), (total ?? expectedSize ?? 0) - start, url, response);
    if (start === 0) await writeFile(metaPath, JSON.stringify({ url, validator: validatorOf(response), total } satisfies PartialMeta));

    const hash = start > 0 && resumed ? resumed : createHash('sha256');
    const report = progressReporter(opts.onProgress, total);
    state.received = start;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        state.received += chunk.length;
        report(state.received);
        callback(null, chunk);
      },
    });
    const body = response.body ? Readable.fromWeb(response.body as WebReadableStream<Uint8Array>) : Readable.from([]);
    const file = createWriteStream(partial, { flags: start > 0 ? 'a' : 'w' });
    try {
      await pipeline(body, counter, file, { signal });
    } finally {
      // On an error pipeline() settles before the file has flushed and closed: wait, so the partial file a resume
      // starts from (and the caller may look at) holds every byte received.
      if (!file.closed) await once(file, 'close');
    }
    if (total !== null && state.received < total) {
      throw new DownloadError('EASEL_ERR_DOWNLOAD_INTERRUPTED', interruptedMessage(url, state.received), { url });
    }
    return await finish(opts, state.received, hash, start);
  } catch (error) {
    throw toDownloadError(error, url, signal, state);
  }
}

/** Checks size and hash, then renames the partial into place; a file that fails a check is deleted. */
async function finish(opts: DownloadFileOptions, size: number, hash: Hash, resumedFrom: number): Promise<DownloadedFile> {
  const { url, dest, expectedSize } = opts;
  const { partial, metaPath } = partialPaths(dest);
  if (expectedSize !== undefined && size !== expectedSize) {
    await discard(dest);
    const sizes = `${formatBytes(size)} instead of ${formatBytes(expectedSize)}`;
    throw new DownloadError('EASEL_ERR_DOWNLOAD_SIZE', `${fileName(url)} arrived as ${sizes}; it was deleted, try again`, { url });
  }
  const sha256 = hash.digest('hex');
  if (opts.sha256 !== undefined && sha256 !== opts.sha256.toLowerCase()) {
    await discard(dest);
    const why = 'is corrupt or not the expected file (its sha256 does not match); it was deleted, try again';
    throw new DownloadError('EASEL_ERR_DOWNLOAD_CHECKSUM', `${fileName(url)} ${why}`, { url });
  }
  await rename(partial, dest);
  await rm(metaPath, { force: true });
  opts.onProgress?.({ received: size, total: size, bytesPerSecond: 0 });
  return { path: dest, size, sha256, resumedFrom };
}

export interface ModelDownloadProgress extends DownloadProgress {
  /** True while the total still leans on the catalog's approximate size for files not started yet. */
  estimated: boolean;
  file: { path: string; index: number; count: number };
}

export type ModelDownloadOptions = Pick<DownloadFileOptions, 'signal' | 'fetchImpl'> & {
  onProgress?: (progress: ModelDownloadProgress) => void;
};

export interface ModelDownloadResult {
  dir: string;
  alreadyInstalled: boolean;
  files: { path: string; size: number; sha256: string }[];
}

/** Kept in the model folder: what was downloaded from where, with the hashes computed on the way. */
interface DownloadManifest {
  id: string;
  completedAt?: string;
  files: Record<string, { url: string; size: number; sha256: string }>;
}

export const MANIFEST_NAME = '.easel-download.json';
const activeDownloads = new Set<string>();

export const modelFolder = (entry: CatalogEntry, modelsDir: string): string => join(modelsDir, entry.kind, entry.id);
/** Hidden (the registry skips dot-folders) and beside the target, so the final rename stays on one file system. */
export const stagingFolder = (entry: CatalogEntry, modelsDir: string): string => join(modelsDir, entry.kind, `.${entry.id}.download`);

/**
 * Downloads every file of a catalog entry into a staging folder, then renames it to `<models>/<kind>/<id>/`.
 * A failed or aborted call leaves the staging folder, and calling again resumes it.
 */
export async function downloadModel(entry: CatalogEntry, modelsDir: string, opts: ModelDownloadOptions = {}): Promise<ModelDownloadResult> {
  const dir = modelFolder(entry, modelsDir);
  const staging = stagingFolder(entry, modelsDir);
  if (await exists(dir)) {
    const manifest = await readJson<DownloadManifest>(join(dir, MANIFEST_NAME));
    return { dir, alreadyInstalled: true, files: manifestFiles(manifest) };
  }
  if (activeDownloads.has(staging)) throw new DownloadError('EASEL_ERR_DOWNLOAD_BUSY', `${entry.name} is already being downloaded`);
  activeDownloads.add(staging);
  try {
    await mkdir(staging, { recursive: true });
    const manifest: DownloadManifest = (await readJson<DownloadManifest>(join(staging, MANIFEST_NAME))) ?? { id: entry.id, files: {} };
    const saveManifest = () => writeFile(join(staging, MANIFEST_NAME), JSON.stringify(manifest, null, 2));
    const sizes: (number | undefined)[] = entry.files.map((f) => f.size);
    const received: number[] = entry.files.map(() => 0);
    const report = (index: number, bytesPerSecond: number): void => {
      const known = sizes.reduce<number>((sum, s) => sum + (s ?? 0), 0);
      const unknown = sizes.filter((s) => s === undefined).length;
      const sum = received.reduce((a, b) => a + b, 0);
      const total = Math.max(sum, unknown > 0 ? Math.max(known, entry.sizeBytes) : known);
      const path = entry.files[index]?.path ?? '';
      opts.onProgress?.({ received: sum, total, bytesPerSecond, estimated: unknown > 0, file: { path, index, count: entry.files.length } });
    };

    for (const [index, file] of entry.files.entries()) {
      const dest = insideFolder(staging, file.path);
      const done = manifest.files[file.path];
      const unchanged = done && done.url === file.url && (file.size ?? done.size) === done.size && (file.sha256 ?? done.sha256) === done.sha256;
      if (unchanged && (await sizeOf(dest)) === done.size) {
        sizes[index] = received[index] = done.size;
        continue;
      }
      const onProgress = (p: DownloadProgress): void => {
        received[index] = p.received;
        if (p.total !== null) sizes[index] = p.total;
        report(index, p.bytesPerSecond);
      };
      const { signal, fetchImpl } = opts;
      const result = await downloadFile({ url: file.url, dest, expectedSize: file.size, sha256: file.sha256, signal, fetchImpl, onProgress });
      manifest.files[file.path] = { url: file.url, size: result.size, sha256: result.sha256 };
      await saveManifest();
    }
    report(entry.files.length - 1, 0);
    manifest.completedAt = new Date().toISOString();
    await saveManifest();
    await rename(staging, dir);
    return { dir, alreadyInstalled: false, files: manifestFiles(manifest) };
  } catch (error) {
    throw toDownloadError(error, undefined, opts.signal, { phase: 'transfer', received: 0 });
  } finally {
    activeDownloads.delete(staging);
  }
}

export async function downloadState(entry: CatalogEntry, modelsDir: string): Promise<'installed' | 'partial' | 'absent'> {
  if (await exists(modelFolder(entry, modelsDir))) return 'installed';
  return (await exists(stagingFolder(entry, modelsDir))) ? 'partial' : 'absent';
}

/** Deletes what an unfinished download left behind ("cancel" rather than "pause"). */
export async function discardDownload(entry: CatalogEntry, modelsDir: string): Promise<void> {
  const staging = stagingFolder(entry, modelsDir);
  if (activeDownloads.has(staging)) throw new DownloadError('EASEL_ERR_DOWNLOAD_BUSY', `${entry.name} is still downloading; abort it first`);
  await rm(staging, { recursive: true, force: true });
}

function insideFolder(folder: string, path: string): string {
  const target = resolve(folder, path);
  const problem = pathProblem(path) ?? (target.startsWith(resolve(folder) + sep) ? undefined : 'leaves the model folder');
  if (problem) throw new DownloadError('EASEL_ERR_DOWNLOAD_IO', `the catalog path "${path}" ${problem}`);
  return target;
}

function manifestFiles(manifest: DownloadManifest | undefined): ModelDownloadResult['files'] {
  return Object.entries(manifest?.files ?? {}).map(([path, f]) => ({ path, size: f.size, sha256: f.sha256 }));
}

/** Throttled to a few events a second; the first chunk reports at once, and finish() reports the end. */
function progressReporter(onProgress: DownloadFileOptions['onProgress'], total: number | null) {
  const samples: { at: number; bytes: number }[] = [];
  return (received: number): void => {
    const now = performance.now();
    if (!onProgress || now - (samples.at(-1)?.at ?? -Infinity) < PROGRESS_INTERVAL_MS) return;
    // Speed over the last few seconds: smooth enough to show, quick to follow a change.
    samples.push({ at: now, bytes: received });
    while (samples.length > 2 && now - samples[0]!.at > 5000) samples.shift();
    const { at, bytes } = samples[0]!;
    onProgress({ received, total, bytesPerSecond: now > at ? Math.round(((received - bytes) * 1000) / (now - at)) : 0 });
  };
}

async function hashFile(path: string, length: number, signal?: AbortSignal): Promise<Hash> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { start: 0, end: length - 1, signal })) hash.update(chunk as Buffer);
  return hash;
}

async function ensureFreeSpace(folder: string, needed: number, url: string, response: Response): Promise<void> {
  const free = await statfs(folder).then((fs) => fs.bavail * fs.bsize, () => Infinity);
  if (needed <= free) return;
  await response.body?.cancel();
  const why = `${fileName(url)} needs ${formatBytes(needed)}, ${formatBytes(free)} is free`;
  throw new DownloadError('EASEL_ERR_DISK_FULL', diskFullMessage(folder, why), { url });
}

const OFFLINE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ENETUNREACH', 'EHOSTUNREACH', 'ECONNRESET',
  'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'CERT_HAS_EXPIRED', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE']);

type TransferState = { phase: 'connect' | 'transfer'; received: number };

function toDownloadError(error: unknown, url: string | undefined, signal: AbortSignal | undefined, state: TransferState): DownloadError {
  if (error instanceof DownloadError) return error;
  if (signal?.aborted || (error as Error | undefined)?.name === 'AbortError') {
    const message = 'the download was stopped; start it again to continue where it left off';
    return new DownloadError('EASEL_ERR_DOWNLOAD_ABORTED', message, { url, cause: error });
  }
  const code = errorCode(error);
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    const path = (error as { path?: string }).path;
    const folder = path ? dirname(path) : 'the models folder';
    return new DownloadError('EASEL_ERR_DISK_FULL', diskFullMessage(folder, 'the disk is full'), { url, cause: error });
  }
  const network = code === undefined ? error instanceof TypeError : OFFLINE_CODES.has(code);
  if (!network || !url) {
    return new DownloadError('EASEL_ERR_DOWNLOAD_IO', `the download failed: ${(error as Error).message}`, { url, cause: error });
  }
  const host = new URL(url).host;
  if (state.phase === 'connect') {
    const why = code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? 'its name does not resolve' : code === 'ECONNREFUSED' ? 'the connection was refused' : (code ?? 'no connection');
    const message = `cannot reach ${host} (${why}); check the internet connection and try again`;
    return new DownloadError('EASEL_ERR_DOWNLOAD_OFFLINE', message, { url, cause: error });
  }
  return new DownloadError('EASEL_ERR_DOWNLOAD_INTERRUPTED', interruptedMessage(url, state.received), { url, cause: error });
}

/** The first `code` along the cause chain: undici wraps socket errors as `TypeError('fetch failed', { cause })`. */
function errorCode(error: unknown): string | undefined {
  for (let e = error as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string') return e.code;
  }
  return undefined;
}

function httpError(url: string, status: number): DownloadError {
  if (status === 404 || status === 410) {
    const message = `${fileName(url)} is not on the server any more (HTTP ${status}); the catalog entry needs updating`;
    return new DownloadError('EASEL_ERR_DOWNLOAD_NOT_FOUND', message, { url, status });
  }
  const why = status === 401 || status === 403 ? 'access was refused; the model may need a login or a licence accepted on its web page'
    : status === 429 ? 'the server asks to slow down; try again in a few minutes'
    : status >= 500 ? 'the server has a problem; try again later' : 'the server refused the request';
  return new DownloadError('EASEL_ERR_DOWNLOAD_HTTP', `downloading ${fileName(url)} failed with HTTP ${status}: ${why}`, { url, status });
}

const interruptedMessage = (url: string, received: number): string =>
  `the connection to ${new URL(url).host} dropped after ${formatBytes(received)} of ${fileName(url)}; start again to resume`;

const diskFullMessage = (folder: string, why: string): string =>
  `not enough disk space in ${folder}: ${why}. Free some space, then start again to resume`;

function parseContentRange(value: string | null): { start: number; total: number | null } | undefined {
  const match = /^bytes (?:(\d+)-\d+|\*)\/(\d+|\*)$/.exec(value?.trim() ?? '');
  return match ? { start: match[1] === undefined ? -1 : Number(match[1]), total: match[2] === '*' ? null : Number(match[2]) } : undefined;
}

/** If-Range needs a strong validator (RFC 9110 §13.1.5): weak ETags never match. */
function validatorOf(response: Response): string | null {
  const etag = response.headers.get('etag');
  return etag && !etag.startsWith('W/') ? etag : response.headers.get('last-modified');
}

function numberHeader(response: Response, name: string): number | null {
  return /^\d+$/.test(response.headers.get(name) ?? '') ? Number(response.headers.get(name)) : null;
}

function fileName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.split('/').pop() || url);
}

export function formatBytes(bytes: number): string {
  const unit = Math.min(4, Math.max(0, Math.floor(Math.log10(Math.max(bytes, 1)) / 3)));
  return unit === 0 ? `${bytes} bytes` : `${(bytes / 1000 ** unit).toFixed(1)} ${['', 'KB', 'MB', 'GB', 'TB'][unit]}`;
}

const sizeOf = (path: string): Promise<number> => stat(path).then((s) => (s.isFile() ? s.size : 0), () => 0);
const exists = (path: string): Promise<boolean> => stat(path).then(() => true, () => false);
const readJson = <T>(path: string): Promise<T | undefined> => readFile(path, 'utf8').then((text) => JSON.parse(text) as T, () => undefined);

const partialPaths = (dest: string) => ({ partial: `${dest}.partial`, metaPath: `${dest}.partial.json` });

async function discard(dest: string): Promise<void> {
  const { partial, metaPath } = partialPaths(dest);
  await Promise.all([rm(partial, { force: true }), rm(metaPath, { force: true })]);
}
