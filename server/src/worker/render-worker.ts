// The render worker: owns every onnxruntime session and runs one job at a time. It never decides what runs
// next; the main thread's queue does.
import { parentPort } from 'node:worker_threads';
import { freemem } from 'node:os';
import { dirname, join } from 'node:path';
import { preserveColors } from '../images/color-correction.js';
import { encodeImage, encodePreview } from '../images/encode.js';
import { formatInfotext } from '../images/infotext.js';
import { OutputStore } from '../images/output-store.js';
import { latentsToRgb } from '../pipeline/preview/latent-preview.js';
import { findSampler } from '../pipeline/schedulers/samplers.js';
import { loadSdModel, onnxStats, releaseSdModel, type SdModel } from '../pipeline/sd-model.js';
import { generate } from '../pipeline/generate.js';
import { chooseExecutionProvider } from '../pipeline/onnx/execution-provider.js';
import { physicalCores } from '../pipeline/onnx/cpu-cores.js';
import { lowMemorySetting, useLowMemory } from '../pipeline/memory-mode.js';
import { applyFilterChain, withFilterParams } from '../filters/filter-chain.js';
import { chainHooks, previewFilter, runFilterJob } from '../filters/filter-job.js';
import { loadInit } from './job-images.js';
import { folderBytes, WarmModels } from './warm-models.js';
import { saveOutput } from './save-output.js';
import type { FromWorker, RenderJob, ToWorker } from './protocol.js';

const port = parentPort;
if (!port) throw new Error('render-worker must run in a worker thread');

const PREVIEW_SIDE = 256;
// Loaded lazily, kept warm; others are released first when memory is short (warm-models.ts).
const models = new WarmModels<SdModel>({
  load: async (id, dir) =>
    loadSdModel(id, dir, {
      threads: physicalCores(),
      providers: (await provider).providers,
      // Saved optimized graphs make every later load of a model several times faster (optimized-model-cache.ts).
      ...(onnxCacheDir ? { optimizedCacheDir: onnxCacheDir } : {}),
      lowMemory: useLowMemory(lowMemorySetting(), await folderBytes(dir), freemem()),
    }),
  release: releaseSdModel,
});
// <data>/cache/onnxruntime: jobs carry <data>/inputs, the data folder's only path the worker is given.
let onnxCacheDir: string | undefined;
const cancelled = new Set<string>();
let running: Promise<void> = Promise.resolve();
// Chosen once, before the first model loads (a load waits for it); /api/health reports it with its reason.
const provider = chooseExecutionProvider();

function send(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(message, transfer);
}

function modelFor(job: RenderJob): Promise<SdModel> {
  onnxCacheDir ??= join(dirname(job.inputsDir), 'cache', 'onnxruntime');
  return models.get(job.model, job.modelDir);
}

async function run(job: RenderJob): Promise<void> {
  const hooks = { send, shouldStop: () => cancelled.has(job.id), done: () => void cancelled.delete(job.id) };
  if (job.kind === 'filter') return runFilterJob(job, hooks);
  send({ type: 'started', jobId: job.id });
  const samplerName = findSampler(job.sampler)?.name ?? job.sampler;
  const startedAt = performance.now();
  let before = { ms: 0, runs: 0 };
  let model: SdModel | undefined;
  try {
    model = await modelFor(job);
    before = onnxStats(model);
    const init = await loadInit(job);
    for (let index = 0; index < job.count; index++) {
      const seed = (job.seed + index) % 4_294_967_296;
      const shownPreview = previewFilter(job);
      const result = await generate(
        model,
        { ...job, seed, ...(init ? { init } : {}) },
        {
          shouldStop: () => cancelled.has(job.id),
          onStep: async (info) => {
            send({ type: 'progress', jobId: job.id, image: index, step: info.step, totalSteps: info.totalSteps });
            const preview = await encodePreview(await shownPreview(latentsToRgb(info.predOriginal, info.latentWidth, info.latentHeight)), PREVIEW_SIDE);
            const jpeg = new Uint8Array(preview.jpeg);
            send(
              { type: 'preview', jobId: job.id, image: index, step: info.step, totalSteps: info.totalSteps, jpeg, width: preview.width, height: preview.height },
              [jpeg.buffer as ArrayBuffer],
            );
          },
        },
      );
      if (!result) break;
      const { partial } = result;
      const decoded = job.preserveColors && init ? preserveColors(result.image, init.image) : result.image;
      const { image, params } = await applyFilterChain(decoded, job, chainHooks(job, index, hooks), { partial });
      const parameters = withFilterParams(formatInfotext({ ...job, seed, sampler: samplerName, model: job.model, ...(init ? { strength: init.strength } : {}) }), params);
      const easel = JSON.stringify({ ...pick(job), seed, app: 'easel', version: job.version });
      const bytes = await encodeImage(image, job.outputFormat, job.quality, { parameters, easel });
      const imageId = OutputStore.imageId(job.id, index);
      const file = await saveOutput(job, { imageId, index, seed, width: image.width, height: image.height, bytes, parameters, easel });
      send({ type: 'image', jobId: job.id, image: { index, imageId, file, seed, width: image.width, height: image.height, partial } });
      if (partial) break;
    }
    const after = onnxStats(model);
    const timings = { workerMs: performance.now() - startedAt, onnxMs: after.ms - before.ms, onnxRuns: after.runs - before.runs };
    send({ type: 'finished', jobId: job.id, outcome: cancelled.has(job.id) ? 'cancelled' : 'done', timings });
  } catch (error) {
    send({ type: 'failed', jobId: job.id, error: { code: 'EASEL_ERR_RENDER', message: error instanceof Error ? error.message : String(error) } });
  } finally {
    cancelled.delete(job.id);
  }
}

/** The request as the user gave it, without the worker's own plumbing (paths, ids). */
function pick(job: RenderJob): Omit<RenderJob, 'id' | 'modelDir' | 'modelsDir' | 'outputsDir' | 'inputsDir' | 'version' | 'seed'> {
  const { id: _id, modelDir: _m, modelsDir: _ms, outputsDir: _o, inputsDir: _i, version: _v, seed: _s, ...request } = job;
  return request;
}

port.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'run':
      running = running.then(() => run(message.job));
      break;
    case 'cancel':
      cancelled.add(message.jobId);
      break;
    case 'shutdown':
      void running.then(async () => {
        await models.releaseAll();
        port.close();
      });
      break;
  }
});

void provider.then((choice) => send({ type: 'ready', devices: [choice.device] }));
