// The render worker: owns every onnxruntime session and runs one job at a time. It never decides what runs
// next; the main thread's queue does.
import { parentPort } from 'node:worker_threads';
import { freemem } from 'node:os';
import { rm } from 'node:fs/promises';
import { preserveColors } from '../images/color-correction.js';
import { encodeImage, encodePreview, type RgbImage } from '../images/encode.js';
import { formatInfotext } from '../images/infotext.js';
import { OutputStore } from '../images/output-store.js';
import { createPreviewer, releasePreviewDecoders, type Previewer } from '../pipeline/preview/previewer.js';
import { findSampler } from '../pipeline/schedulers/samplers.js';
import { loadSdModel, onnxStats, releaseSdModel, type SdModel } from '../pipeline/sd-model.js';
import { encodeJobPrompt, generateBatch, type GenerateResult, type StepInfo } from '../pipeline/generate.js';
import { chooseExecutionProvider } from '../pipeline/onnx/execution-provider.js';
import { physicalCores } from '../pipeline/onnx/cpu-cores.js';
import { lowMemorySetting, modeFits, useLowMemory, type LowMemorySetting } from '../pipeline/memory-mode.js';
import { applyFilterChain, withFilterParams } from '../filters/filter-chain.js';
import { chainHooks, modelsDirOf, previewFilter, runFilterJob, type WorkerHooks } from '../filters/filter-job.js';
import { enforceOwnerNsfw } from '../filters/resolve-filters.js';
import { batchSizeFor } from '../config/batch-size.js';
import { loadInit } from './job-images.js';
import { loadedWeightBytes, WarmModels } from './warm-models.js';
import { saveOutput } from './save-output.js';
import type { FromWorker, RenderJob, ToWorker, WorkerSettings } from './protocol.js';

const port = parentPort;
if (!port) throw new Error('render-worker must run in a worker thread');

const PREVIEW_SIDE = 256;
// The owner's settings (server settings, sent by the main thread at start and on every change): low-memory mode
// (EASEL_LOW_MEMORY until they arrive), the model cache, and the NSFW rules every job runs under.
let lowMemory: LowMemorySetting | undefined;
// <data>/cache/onnxruntime: saved optimized graphs make every later load of a model several times faster
// (optimized-model-cache.ts); null when the owner turned the cache off.
let onnxCacheDir: string | null = null;
let ownerFilters: WorkerSettings['ownerFilters'] | undefined;
let batchSize: number | undefined;
port.on('message', (message: ToWorker) => {
  if (message.type !== 'settings') return;
  const previousCache = onnxCacheDir;
  lowMemory = message.lowMemory;
  onnxCacheDir = message.optimizedCacheDir;
  ownerFilters = message.ownerFilters;
  batchSize = message.batchSize;
  // Turned off: the copies go once the job in progress is over (a load may be writing one now).
  if (previousCache && !onnxCacheDir) {
    running = running.then(() => rm(previousCache, { recursive: true, force: true }).catch((e: Error) => console.warn(`easel: could not delete ${previousCache}: ${e.message}`)));
  }
});
const lowMemoryMode = (): LowMemorySetting => lowMemory ?? lowMemorySetting();
// Loaded lazily, kept warm; others are released first when memory is short (warm-models.ts).
const models = new WarmModels<SdModel>({
  load: async (id, dir) =>
    loadSdModel(id, dir, {
      threads: physicalCores(),
      providers: (await provider).providers,
      ...(onnxCacheDir ? { optimizedCacheDir: onnxCacheDir } : {}),
      lowMemory: useLowMemory(lowMemoryMode(), await weightBytes(dir), freemem()),
    }),
  release: releaseSdModel,
  sizeOf: (dir) => weightBytes(dir),
});
async function weightBytes(dir: string): Promise<number> {
  return loadedWeightBytes(dir, (await provider).providers[0] === 'cpu');
}
const cancelled = new Set<string>();
const skipped = new Set<string>();
let running: Promise<void> = Promise.resolve();
// Chosen once, before the first model loads (a load waits for it); /api/health reports it with its reason.
const provider = chooseExecutionProvider();

function send(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(message, transfer);
}

function modelFor(job: RenderJob): Promise<SdModel> {
  // A warm model loaded under other settings (low-memory mode, the model cache) is loaded again.
  const mode = lowMemoryMode();
  const cache = onnxCacheDir;
  return models.get(job.model, job.modelDir, (model) => modeFits(mode, model.lowMemory) && (model.sessionOptions.optimizedCacheDir ?? null) === cache);
}

/** The job under the owner's NSFW rules as they are now: they may be newer than the job, even mid-image. */
function underOwnerRules(job: RenderJob): RenderJob {
  return ownerFilters ? enforceOwnerNsfw(job, ownerFilters, modelsDirOf(job)) : job;
}

/** The job's preview filter, switching to the NSFW guard as soon as the owner forces it. */
function livePreviewFilter(job: RenderJob): (rgb: RgbImage) => Promise<RgbImage> {
  let filter = previewFilter(job);
  let guarded = job.nsfwFilter === true;
  return (rgb) => {
    if (!guarded) {
      const now = underOwnerRules(job);
      if (now.nsfwFilter) [filter, guarded] = [previewFilter(now), true];
    }
    return filter(rgb);
  };
}

async function run(job: RenderJob): Promise<void> {
  const hooks = { send, shouldStop: () => cancelled.has(job.id), done: () => void cancelled.delete(job.id) };
  if (job.kind === 'filter') return runFilterJob(underOwnerRules(job), hooks);
  send({ type: 'started', jobId: job.id });
  const startedAt = performance.now();
  let before = { ms: 0, runs: 0 };
  let model: SdModel | undefined;
  try {
    model = await modelFor(job);
    before = onnxStats(model);
    const init = await loadInit(job);
    const params = { ...job, ...(init ? { init } : {}) };
    const prompt = await encodeJobPrompt(model, job);
    // Images of one batch share each UNet call (generate.ts); image i still uses seed + i, so batching does not
    // change a picture (bit for bit on the CPU; a GPU may pick other kernels for another batch size).
    const providers = (await provider).providers;
    const batch = Math.min(job.count, batchSizeFor(providers, batchSize, job));
    const session = { threads: physicalCores(), providers };
    for (let first = 0; first < job.count; first += batch) {
      const indices = Array.from({ length: Math.min(batch, job.count - first) }, (_, k) => first + k);
      const seeds = indices.map((index) => (job.seed + index) % 4_294_967_296);
      // The page shows a job's newest image, so a batch previews its last one, with the whole preview budget.
      const shown = indices.length - 1;
      const previewer = await createPreviewer({ modelsDir: job.modelsDir, latentChannels: 4, maxSide: PREVIEW_SIDE, session });
      const filter = livePreviewFilter(job);
      // A skip (A1111's /skip) is for the images in progress: one sent before this batch made a step is old news.
      skipped.delete(job.id);
      let stepped = false;
      const results = await generateBatch(
        model,
        params,
        seeds,
        {
          // A skip ends this batch's images early, like a cancel, but the job goes on with the next batch.
          shouldStop: () => cancelled.has(job.id) || (stepped && skipped.has(job.id)),
          onStep: async (info) => {
            stepped = true;
            send({ type: 'progress', jobId: job.id, image: first, images: indices.length, step: info.step, totalSteps: info.totalSteps });
            await sendPreview(job, indices[shown]!, info, info.predOriginals[shown]!, previewer, filter);
          },
        },
        prompt,
      );
      const skip = skipped.delete(job.id) && !cancelled.has(job.id);
      for (const [k, result] of (results ?? []).entries()) await saveImage(underOwnerRules(job), indices[k]!, seeds[k]!, result, init, hooks);
      if (cancelled.has(job.id) || (!skip && (!results || results[0]!.partial))) break;
    }
    const after = onnxStats(model);
    const timings = { workerMs: performance.now() - startedAt, onnxMs: after.ms - before.ms, onnxRuns: after.runs - before.runs };
    send({ type: 'finished', jobId: job.id, outcome: cancelled.has(job.id) ? 'cancelled' : 'done', timings });
  } catch (error) {
    send({ type: 'failed', jobId: job.id, error: { code: 'EASEL_ERR_RENDER', message: error instanceof Error ? error.message : String(error) } });
  } finally {
    cancelled.delete(job.id);
    skipped.delete(job.id);
  }
}

/**
 * One image's live preview at a step: latents → RGB (TAESD when installed and affordable, else the cheap linear
 * map; previewer.ts) → the job's preview filter → JPEG: ~4 ms at 256 px for the linear map against seconds a step
 * (docs/BENCHMARKS.md). The latents are the UNet's 4 output channels, also for a 9-channel inpainting UNet.
 */
async function sendPreview(
  job: RenderJob,
  image: number,
  info: StepInfo,
  latents: Float32Array,
  previewer: Previewer,
  filter: (rgb: RgbImage) => Promise<RgbImage>,
): Promise<void> {
  const preview = await encodePreview(await filter(await previewer.preview(latents, info.latentWidth, info.latentHeight)), PREVIEW_SIDE);
  const jpeg = new Uint8Array(preview.jpeg);
  send(
    { type: 'preview', jobId: job.id, image, step: info.step, totalSteps: info.totalSteps, jpeg, width: preview.width, height: preview.height },
    [jpeg.buffer as ArrayBuffer],
  );
}

/** Colour correction, the filter chain, metadata, then the file; tells the main thread. */
async function saveImage(job: RenderJob, index: number, seed: number, result: GenerateResult, init: Awaited<ReturnType<typeof loadInit>>, hooks: WorkerHooks): Promise<void> {
  const { partial } = result;
  const samplerName = findSampler(job.sampler)?.name ?? job.sampler;
  const decoded = job.preserveColors && init ? preserveColors(result.image, init.image) : result.image;
  const { image, params } = await applyFilterChain(decoded, job, chainHooks(job, index, hooks), { partial });
  const parameters = withFilterParams(formatInfotext({ ...job, seed, sampler: samplerName, model: job.model, ...(init ? { strength: init.strength } : {}) }), params);
  const easel = JSON.stringify({ ...pick(job), seed, app: 'easel', version: job.version });
  const bytes = await encodeImage(image, job.outputFormat, job.quality, { parameters, easel });
  const imageId = OutputStore.imageId(job.id, index);
  const file = await saveOutput(job, { imageId, index, seed, width: image.width, height: image.height, bytes, parameters, easel });
  send({ type: 'image', jobId: job.id, image: { index, imageId, file, seed, width: image.width, height: image.height, partial } });
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
    case 'skip':
      skipped.add(message.jobId);
      break;
    case 'shutdown':
      void running.then(async () => {
        await models.releaseAll();
        await releasePreviewDecoders();
        port.close();
      });
      break;
  }
});

void provider.then((choice) => send({ type: 'ready', devices: [choice.device] }));
