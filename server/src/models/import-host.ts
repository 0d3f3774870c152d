// Runs one checkpoint import in its own worker thread (import-worker.ts): converting a full-size model is ~40 s of CPU
// that must not stall the HTTP server or the render worker. A fresh thread per import means cancelling is simply
// terminating it, and whatever memory it used is gone with it.
import type { Worker } from 'node:worker_threads';
import { spawnWorker } from '../worker/spawn-worker.js';
import { rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { ErrorInfo } from '../http/schemas.js';
import type { Precision } from '../convert/graph-builder.js';

export interface ImportJob {
  source: string;
  outDir: string;
  configDir?: string;
  /** Recorded in model_index.json. */
  name?: string;
  precision?: Precision;
}

export interface ImportSummary {
  description: string;
  family: string;
  inpainting: boolean;
  predictionType: string;
  tokenizerSource: 'copied' | 'bundled';
  warnings: string[];
}

export type FromImportWorker =
  | { type: 'progress'; stage: string; done: number; total: number }
  | { type: 'done'; summary: ImportSummary }
  | { type: 'failed'; error: ErrorInfo };

export interface RunImportOptions {
  onProgress?: (p: { stage: string; done: number; total: number }) => void;
  signal?: AbortSignal;
}

/** An import that ended without a result: cancelled, or failed with a code and a readable reason. */
export class ImportError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ImportError';
  }
}

export const IMPORT_CANCELLED = 'EASEL_ERR_IMPORT_CANCELLED';

function spawn(job: ImportJob): Worker {
  return spawnWorker(import.meta.url, 'import-worker', { workerData: job });
}

/** The importer writes into this hidden folder and renames it at the end (import-checkpoint.ts). */
export const workFolder = (outDir: string): string => join(dirname(outDir), `.${basename(outDir)}.importing-${process.pid}`);

export function runImport(job: ImportJob, opts: RunImportOptions = {}): Promise<ImportSummary> {
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(new ImportError(IMPORT_CANCELLED, 'the import was cancelled'));
      return;
    }
    const worker = spawn(job);
    let settled = false;
    const finish = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      opts.signal?.removeEventListener('abort', abort);
      outcome();
    };
    // Terminating mid-write leaves the work folder behind; nothing else is written before the final rename.
    const failCleanly = (error: ImportError): void => {
      finish(() => void rm(workFolder(job.outDir), { recursive: true, force: true }).finally(() => reject(error)));
    };
    // The thread's 'exit' (below) settles a cancelled import, once the thread can no longer write.
    let cancelling = false;
    const abort = (): void => {
      if (settled) return;
      cancelling = true;
      void worker.terminate();
    };
    opts.signal?.addEventListener('abort', abort, { once: true });
    worker.on('message', (message: FromImportWorker) => {
      if (message.type === 'progress') opts.onProgress?.(message);
      else if (message.type === 'done') finish(() => resolve(message.summary));
      else failCleanly(new ImportError(message.error.code, message.error.message));
    });
    let lastError: string | undefined;
    worker.on('error', (error) => (lastError = error.message));
    worker.on('exit', (code) => {
      if (settled) return;
      if (cancelling) return failCleanly(new ImportError(IMPORT_CANCELLED, 'the import was cancelled'));
      const why = lastError ?? `exit code ${code}${code === 134 || code === 137 ? ', perhaps out of memory' : ''}`;
      failCleanly(new ImportError('EASEL_ERR_IMPORT_CRASHED', `the import stopped unexpectedly (${why})`));
    });
  });
}
