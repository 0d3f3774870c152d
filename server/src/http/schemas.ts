// The HTTP API contract, once: TypeBox schemas validate requests and responses, and `Static<>` gives the
// types that the routes, the queue and the UI share.
import { Type, type Static } from '@sinclair/typebox';
import { LIMITS } from './limits.js';

export { LIMITS };


export const JobRequest = Type.Object(
  {
    prompt: Type.String({ minLength: 1, maxLength: LIMITS.promptChars }),
    negativePrompt: Type.Optional(Type.String({ maxLength: LIMITS.promptChars })),
    model: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    sampler: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    steps: Type.Optional(Type.Integer({ minimum: LIMITS.minSteps, maximum: LIMITS.maxSteps })),
    cfgScale: Type.Optional(Type.Number({ minimum: 0, maximum: LIMITS.maxCfgScale })),
    width: Type.Optional(
      Type.Integer({ minimum: LIMITS.minSize, maximum: LIMITS.maxSize, multipleOf: LIMITS.sizeMultiple }),
    ),
    height: Type.Optional(
      Type.Integer({ minimum: LIMITS.minSize, maximum: LIMITS.maxSize, multipleOf: LIMITS.sizeMultiple }),
    ),
    seed: Type.Optional(Type.Integer({ minimum: -1, maximum: LIMITS.maxSeed })),
    count: Type.Optional(Type.Integer({ minimum: 1, maximum: LIMITS.maxCount })),
    outputFormat: Type.Optional(Type.Union([Type.Literal('png'), Type.Literal('jpeg'), Type.Literal('webp')])),
    quality: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
    initImage: Type.Optional(
      Type.String({ minLength: 1, maxLength: LIMITS.imageChars, description: 'a data URL (PNG, JPEG or WebP) or the id of an image made here' }),
    ),
    strength: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1, description: 'how much img2img changes the initial image' })),
    mask: Type.Optional(
      Type.String({ minLength: 1, maxLength: LIMITS.imageChars, description: 'inpainting mask: white is repainted, black kept' }),
    ),
    preserveColors: Type.Optional(Type.Boolean({ description: "img2img: keep the initial image's colour profile" })),
  },
  { additionalProperties: false },
);
export type JobRequest = Static<typeof JobRequest>;

/** A request with every default filled in and the sampler and seeds resolved: what the worker runs. */
export interface ResolvedJob {
  prompt: string;
  negativePrompt: string;
  model: string;
  sampler: string;
  steps: number;
  cfgScale: number;
  width: number;
  height: number;
  seed: number;
  count: number;
  outputFormat: 'png' | 'jpeg' | 'webp';
  quality: number;
  /** Image ids (uploads are stored first), so a job's request stays small and can be repeated. */
  initImage?: string;
  strength?: number;
  mask?: string;
  preserveColors?: boolean;
}

export const JobState = Type.Union([
  Type.Literal('queued'),
  Type.Literal('running'),
  Type.Literal('done'),
  Type.Literal('failed'),
  Type.Literal('cancelled'),
]);
export type JobState = Static<typeof JobState>;

export const ImageRef = Type.Object({
  id: Type.String(),
  url: Type.String(),
  seed: Type.Integer(),
  width: Type.Integer(),
  height: Type.Integer(),
  /** Set when the job was cancelled mid-image: the denoiser's best guess at that step. */
  partial: Type.Optional(Type.Boolean()),
});
export type ImageRef = Static<typeof ImageRef>;

export const Progress = Type.Object({
  step: Type.Integer(),
  totalSteps: Type.Integer(),
  image: Type.Integer({ description: 'index of the image being made, from 0' }),
  count: Type.Integer(),
  etaMs: Type.Number(),
  msPerStep: Type.Number(),
});
export type Progress = Static<typeof Progress>;

export const ErrorInfo = Type.Object({
  code: Type.String(),
  message: Type.String(),
  field: Type.Optional(Type.String()),
});
export type ErrorInfo = Static<typeof ErrorInfo>;

export const JobView = Type.Object({
  id: Type.String(),
  state: JobState,
  position: Type.Integer({ description: '1-based place in the queue while queued, 0 otherwise' }),
  progress: Type.Union([Progress, Type.Null()]),
  images: Type.Array(ImageRef),
  error: Type.Union([ErrorInfo, Type.Null()]),
  request: Type.Object({
    prompt: Type.String(),
    negativePrompt: Type.String(),
    model: Type.String(),
    sampler: Type.String(),
    steps: Type.Integer(),
    cfgScale: Type.Number(),
    width: Type.Integer(),
    height: Type.Integer(),
    seed: Type.Integer(),
    count: Type.Integer(),
    outputFormat: Type.String(),
    quality: Type.Integer(),
    initImage: Type.Optional(Type.String()),
    strength: Type.Optional(Type.Number()),
    mask: Type.Optional(Type.String()),
    preserveColors: Type.Optional(Type.Boolean()),
  }),
  createdAt: Type.String(),
  startedAt: Type.Union([Type.String(), Type.Null()]),
  finishedAt: Type.Union([Type.String(), Type.Null()]),
  timings: Type.Optional(
    Type.Object({
      workerMs: Type.Number({ description: 'from the worker taking the job to its last image saved' }),
      onnxMs: Type.Number({ description: "inside onnxruntime's run() calls" }),
      onnxRuns: Type.Integer(),
    }),
  ),
});
export type JobView = Static<typeof JobView>;

export const JobCreated = Type.Object({ id: Type.String(), position: Type.Integer() });
export type JobCreated = Static<typeof JobCreated>;

export const JobList = Type.Object({
  queue: Type.Array(JobView, { description: 'the running job first, then queued jobs in order' }),
  paused: Type.Boolean({ description: 'while paused, the running job finishes and no new one starts' }),
  recent: Type.Array(JobView, { description: 'finished jobs, newest first' }),
});
export type JobList = Static<typeof JobList>;

export const JobIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
export type JobIdParams = Static<typeof JobIdParams>;

export const ModelInfo = Type.Object({
  id: Type.String(),
  name: Type.String(),
  family: Type.String(),
  kind: Type.String(),
  sizeBytes: Type.Integer(),
  ready: Type.Boolean(),
});
export type ModelInfo = Static<typeof ModelInfo>;

export const SamplerInfo = Type.Object({
  id: Type.String(),
  name: Type.String(),
  aliases: Type.Array(Type.String()),
});
export type SamplerInfo = Static<typeof SamplerInfo>;

export const Health = Type.Object({
  status: Type.Literal('ok'),
  version: Type.String(),
  devices: Type.Array(Type.Object({ id: Type.String(), name: Type.String(), reason: Type.String() })),
  models: Type.Integer(),
});
export type Health = Static<typeof Health>;

export const ErrorBody = Type.Object({ error: ErrorInfo });
export type ErrorBody = Static<typeof ErrorBody>;

export const TokenizeRequest = Type.Object(
  {
    text: Type.String({ maxLength: LIMITS.promptChars }),
    model: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  { additionalProperties: false },
);
export type TokenizeRequest = Static<typeof TokenizeRequest>;

export const TokenizeResult = Type.Object({
  ids: Type.Array(Type.Integer(), { description: 'content token ids, without start/end tokens' }),
  count: Type.Integer({ description: 'tokens used, as A1111 counts them (a chunk closed early counts as full)' }),
  chunks: Type.Integer({ description: 'how many 75-token chunks the prompt takes' }),
  limit: Type.Integer({ description: 'the count the next chunk starts at: 75, 150, …' }),
});
export type TokenizeResult = Static<typeof TokenizeResult>;

export const GalleryQuery = Type.Object(
  {
    cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })),
    q: Type.Optional(Type.String({ maxLength: 500 })),
    model: Type.Optional(Type.String({ maxLength: 200 })),
    limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$', description: 'images per page, 1–200 (default 50)' })),
  },
  { additionalProperties: false },
);
export type GalleryQuery = Static<typeof GalleryQuery>;

export const GalleryImage = Type.Intersect([
  ImageRef,
  Type.Object({
    jobId: Type.String(),
    prompt: Type.String(),
    negativePrompt: Type.String(),
    model: Type.String(),
    sampler: Type.String(),
    steps: Type.Integer(),
    cfgScale: Type.Number(),
    createdAt: Type.String(),
    request: JobView.properties.request,
  }),
]);

export const GalleryPage = Type.Object({
  images: Type.Array(GalleryImage),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});
export type GalleryPage = Static<typeof GalleryPage>;

export const QueueOrder = Type.Object(
  { ids: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 1000, description: 'queued job ids, first to run first' }) },
  { additionalProperties: false },
);
export type QueueOrder = Static<typeof QueueOrder>;

export const QueueState = Type.Object({ queue: Type.Array(JobView), paused: Type.Boolean() });
export type QueueState = Static<typeof QueueState>;
