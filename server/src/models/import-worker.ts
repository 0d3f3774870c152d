// The import worker thread: runs importCheckpoint once for the job in workerData, posts progress a few times a
// second, then its result or a readable error, and exits. Cancelling is the host terminating the thread.
import { parentPort, workerData } from 'node:worker_threads';
import { importCheckpoint } from '../convert/import-checkpoint.js';
import type { FromImportWorker, ImportJob } from './import-host.js';
import { importErrorInfo } from './import-errors.js';

const port = parentPort;
if (!port) throw new Error('import-worker must run in a worker thread');
const job = workerData as ImportJob;
const send = (message: FromImportWorker): void => port.postMessage(message);

const PROGRESS_INTERVAL_MS = 200;
let lastSent = 0;
let lastStage = '';

importCheckpoint({
  source: job.source,
  outDir: job.outDir,
  configDir: job.configDir,
  name: job.name,
  precision: job.precision,
  onProgress: ({ stage, done, total }) => {
    const now = performance.now();
    if (stage === lastStage && done < total && now - lastSent < PROGRESS_INTERVAL_MS) return;
    lastSent = now;
    lastStage = stage;
    send({ type: 'progress', stage, done, total });
  },
}).then(
  (result) =>
    send({
      type: 'done',
      summary: {
        description: result.description,
        family: result.family,
        inpainting: result.inpainting,
        predictionType: result.predictionType,
        tokenizerSource: result.tokenizerSource,
        warnings: result.warnings,
      },
    }),
  (error: unknown) => send({ type: 'failed', error: importErrorInfo(error) }),
);
