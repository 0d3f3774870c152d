// The worker's side of filters: the hooks that turn a chain's progress into worker messages, and the 'filter' job
// (POST /api/filters), which runs the chain on an existing image and saves the result as a new gallery image.
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import sharp from 'sharp';
import { encodeImage, type RgbImage } from '../images/encode.js';
import { formatInfotext } from '../images/infotext.js';
import { OutputStore } from '../images/output-store.js';
import { readPngText } from '../images/png-text.js';
import type { FromWorker, RenderJob } from '../worker/protocol.js';
import { saveOutput } from '../worker/save-output.js';
import { applyFilterChain, withFilterParams, type ChainHooks } from './filter-chain.js';
import { previewGuard } from './nsfw.js';

export interface WorkerHooks {
  send(message: FromWorker): void;
  shouldStop(): boolean;
  /** Called once the job is over, whatever the outcome. */
  done?(): void;
}

/** The model store root; a job queued before it was recorded has only its SD model's `<models>/stable-diffusion/<id>`. */
export const modelsDirOf = (job: RenderJob): string => job.modelsDir ?? dirname(dirname(job.modelDir));

/** Chain hooks for image `index` of a job: progress goes out as `progress` messages carrying the stage. */
export function chainHooks(job: RenderJob, index: number, hooks: WorkerHooks): ChainHooks {
  return {
    modelsDir: modelsDirOf(job),
    shouldStop: hooks.shouldStop,
    onProgress: (stage, done, total) => hooks.send({ type: 'progress', jobId: job.id, image: index, step: done, totalSteps: total, stage }),
  };
}

/** The request as recorded in the image's `easel` chunk: without the worker's plumbing. */
function recorded(job: RenderJob): Record<string, unknown> {
  const { id: _i, modelDir: _m, modelsDir: _d, outputsDir: _o, inputsDir: _n, version: _v, ...request } = job;
  return { ...request, app: 'easel', version: job.version };
}

async function loadSource(job: RenderJob): Promise<{ image: RgbImage; infotext: string }> {
  const id = job.sourceImage;
  if (!id) throw new Error('a filter job needs a sourceImage');
  const found = (await new OutputStore(job.outputsDir).find(id)) ?? (await new OutputStore(job.inputsDir).find(id));
  if (!found) throw new Error(`image ${id} is gone from the outputs and inputs folders`);
  const bytes = await readFile(found.file);
  const { data, info } = await sharp(bytes).flatten({ background: '#ffffff' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const image = { width: info.width, height: info.height, pixels: new Uint8Array(data.buffer, data.byteOffset, data.length) };
  // Keep what the source says about how it was made: its own infotext, or ours rebuilt from its job's request.
  let infotext = found.mime === 'image/png' ? (readPngText(bytes).parameters ?? '') : '';
  if (!infotext && job.model) infotext = formatInfotext({ ...job, width: image.width, height: image.height });
  return { image, infotext };
}

export async function runFilterJob(job: RenderJob, hooks: WorkerHooks): Promise<void> {
  hooks.send({ type: 'started', jobId: job.id });
  const startedAt = performance.now();
  try {
    const source = await loadSource(job);
    const result = await applyFilterChain(source.image, job, chainHooks(job, 0, hooks));
    const timings = () => ({ workerMs: performance.now() - startedAt, onnxMs: 0, onnxRuns: 0 });
    if (result.stopped) {
      // Cancelled mid-filter: a copy of the source with only some filters applied is not worth a gallery slot.
      hooks.send({ type: 'finished', jobId: job.id, outcome: 'cancelled', timings: timings() });
      return;
    }
    const { image } = result;
    const parameters = withFilterParams(source.infotext, result.params);
    const easel = JSON.stringify(recorded(job));
    const bytes = await encodeImage(image, job.outputFormat, job.quality, { parameters, easel });
    const imageId = OutputStore.imageId(job.id, 0);
    const file = await saveOutput(job, { imageId, index: 0, seed: job.seed, width: image.width, height: image.height, bytes, parameters, easel });
    hooks.send({ type: 'image', jobId: job.id, image: { index: 0, imageId, file, seed: job.seed, width: image.width, height: image.height, partial: false } });
    hooks.send({ type: 'finished', jobId: job.id, outcome: hooks.shouldStop() ? 'cancelled' : 'done', timings: timings() });
  } catch (error) {
    hooks.send({ type: 'failed', jobId: job.id, error: { code: 'EASEL_ERR_FILTER', message: error instanceof Error ? error.message : String(error) } });
  } finally {
    hooks.done?.();
  }
}

/**
 * What a job's live previews pass through: with the NSFW filter on, a flagged preview (and every later one of the
 * same image) is blurred; otherwise previews pass unchanged. One per image.
 */
export function previewFilter(job: RenderJob): (preview: RgbImage) => Promise<RgbImage> {
  if (!job.nsfwFilter) return async (preview) => preview;
  return previewGuard({ modelsDir: modelsDirOf(job) }, job.nsfwClassifier);
}
