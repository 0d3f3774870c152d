// Messages between the main thread and the render worker. Both sides import these unions, so a message that
// one side sends and the other does not handle is a type error.
import type { Progress, ResolvedJob } from '../http/schemas.js';
import type { LowMemorySetting } from '../pipeline/memory-mode.js';
import type { FilterSettings } from '../settings/settings-store.js';

export interface RenderJob extends ResolvedJob {
  id: string;
  modelDir: string;
  outputsDir: string;
  /** Where uploaded init images and masks are kept. */
  inputsDir: string;
  /** The model store root, where filter models live (`<models>/upscaler/…`, `<models>/.builtin/…`). */
  modelsDir?: string;
  version: string;
}

/** The owner's settings the worker runs under (server settings); sent at start and after every change. */
export interface WorkerSettings {
  /** Applies from the next model load; a warm model in the other mode is loaded again. */
  lowMemory: LowMemorySetting;
  /**
   * Where onnxruntime's optimized models are kept (optimized-model-cache.ts); null: none are kept, and the worker
   * deletes the folder it used, after the job in progress. From the next load.
   */
  optimizedCacheDir: string | null;
  /** The owner's NSFW rules, applied to every job the worker runs from now on, the one in progress included. */
  ownerFilters: Pick<FilterSettings, 'forceNsfwFilter' | 'nsfwModel'>;
  /** EASEL_BATCH_SIZE as the config validated it at start; absent: the execution provider's default. */
  batchSize?: number;
}

export type ToWorker =
  | { type: 'run'; job: RenderJob }
  | ({ type: 'settings' } & WorkerSettings)
  | { type: 'cancel'; jobId: string }
  /** Stop the images in progress (partial) and go on with the job's next ones. */
  | { type: 'skip'; jobId: string }
  | { type: 'shutdown' };

export interface WorkerImage {
  index: number;
  imageId: string;
  file: string;
  seed: number;
  width: number;
  height: number;
  partial: boolean;
}

/** Where a job's time went, as the worker saw it. */
export interface JobTimings {
  /** From the worker taking the job to its last image saved. */
  workerMs: number;
  /** Inside onnxruntime's run() calls (all networks). */
  onnxMs: number;
  onnxRuns: number;
}

export interface WorkerError {
  code: string;
  message: string;
}

export type FromWorker =
  | { type: 'ready'; devices: { id: string; name: string; reason: string }[] }
  | { type: 'started'; jobId: string }
  /**
   * Denoising steps, or with `stage` the units (tiles…) of a filter run after decoding. `images`: how many images,
   * from `image` on, reached this step together in one batch (1 when absent).
   */
  | { type: 'progress'; jobId: string; image: number; images?: number; step: number; totalSteps: number; stage?: Progress['stage'] }
  | { type: 'preview'; jobId: string; image: number; step: number; totalSteps: number; jpeg: Uint8Array; width: number; height: number }
  | { type: 'image'; jobId: string; image: WorkerImage }
  | { type: 'finished'; jobId: string; outcome: 'done' | 'cancelled'; timings?: JobTimings }
  | { type: 'failed'; jobId: string; error: WorkerError };
