// Receives an uploaded checkpoint: the request body is streamed to a file under `<data>/uploads/` (memory stays flat
// whatever the size), cut off at a size limit, and renamed into place only when complete.
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError, badRequest } from '../http/errors.js';
import { formatBytes } from './download.js';

/** Big enough for any SD 1.x/2.x checkpoint, full-precision EMA ones (~7.7 GB) included. */
export const DEFAULT_UPLOAD_LIMIT_BYTES = 16 * 2 ** 30;

export interface UploadOptions {
  dir: string;
  limitBytes: number;
  /** Content-Length, when the client sent one. */
  declaredBytes?: number;
}

const tooLarge = (limit: number) =>
  new AppError(413, 'EASEL_ERR_UPLOAD_TOO_LARGE', `the upload is larger than the ${formatBytes(limit)} allowed; import the file by its path instead`);

/** Streams `body` to `<dir>/<random>.safetensors` and returns the path; nothing is left behind on failure. */
export async function receiveUpload(body: Readable, opts: UploadOptions): Promise<string> {
  const { dir, limitBytes, declaredBytes } = opts;
  if (declaredBytes !== undefined && declaredBytes > limitBytes) throw tooLarge(limitBytes);
  await mkdir(dir, { recursive: true });
  if (declaredBytes !== undefined) {
    const free = await statfs(dir).then((s) => s.bavail * s.bsize, () => Infinity);
    if (declaredBytes > free) {
      throw new AppError(507, 'EASEL_ERR_DISK_FULL', `the upload needs ${formatBytes(declaredBytes)} in ${dir}, and only ${formatBytes(free)} is free`);
    }
  }
  const path = join(dir, `${randomUUID()}.safetensors`);
  const partial = `${path}.partial`;
  let received = 0;
  const limiter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      received += chunk.length;
      callback(received > limitBytes ? tooLarge(limitBytes) : null, chunk);
    },
  });
  try {
    await pipeline(body, limiter, createWriteStream(partial));
  } catch (error) {
    await rm(partial, { force: true });
    if (error instanceof AppError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') throw new AppError(507, 'EASEL_ERR_DISK_FULL', `the disk under ${dir} filled up during the upload`);
    throw badRequest('EASEL_ERR_UPLOAD_INTERRUPTED', 'the upload stopped before the whole file arrived; try again', 'body');
  }
  if (received === 0) {
    await rm(partial, { force: true });
    throw badRequest('EASEL_ERR_UPLOAD_EMPTY', 'the upload is empty: send the .safetensors file as the request body', 'body');
  }
  if (declaredBytes !== undefined && received !== declaredBytes) {
    await rm(partial, { force: true });
    throw badRequest('EASEL_ERR_UPLOAD_INTERRUPTED', `the upload stopped after ${formatBytes(received)} of ${formatBytes(declaredBytes)}; try again`, 'body');
  }
  await rename(partial, path);
  return path;
}
