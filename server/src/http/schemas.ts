// The HTTP API contract, once: TypeBox schemas validate requests and responses, and `Static<>` gives the
// types that the routes, the queue and the UI share.
import { Type, type Static } from '@sinclair/typebox';
import { LIMITS } from './limits.js';
import type { NsfwClassifier } from '../filters/available.js';
import { FilterSettings, PerformanceSettings } from '../settings/settings-store.js';

export { LIMITS };

/** Filters chained after generation (a job) or run on an existing image (POST /api/filters). */
export const UpscaleOptions = Type.Object(
  {
    factor: Type.Union([Type.Literal(2), Type.Literal(3), Type.Literal(4)]),
    model: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: "'esrgan-slim' (built-in, default), 'lanczos', or an installed upscaler id" })),
  },
  { additionalProperties: false },
);
export const FaceRestoreOptions = Type.Object(
  {
    model: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    strength: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  },
  { additionalProperties: false },
);
export const WatermarkOption = Type.Union([
  Type.Boolean({ description: 'true embeds "StableDiffusionV1", as the reference scripts do' }),
  Type.Object({ text: Type.String({ minLength: 1, maxLength: 100 }) }, { additionalProperties: false }),
]);
const filterFields = {
  upscale: Type.Optional(UpscaleOptions),
  faceRestore: Type.Optional(FaceRestoreOptions),
  nsfwFilter: Type.Optional(
    Type.Boolean({ description: 'blur the image (and its previews) when the NSFW classifier flags it; on for every job when the owner enforces it' }),
  ),
  watermark: Type.Optional(WatermarkOption),
};

/** The chain as the worker runs it: defaults filled, the watermark text spelled out. */
export interface FilterChain {
  upscale?: { factor: 2 | 3 | 4; model: string };
  faceRestore?: { model?: string; strength?: number };
  nsfwFilter?: boolean;
  /** The classifier the NSFW check uses, from the owner's setting (absent on older jobs: nsfwjs). */
  nsfwClassifier?: NsfwClassifier;
  /** The owner enforces the NSFW check on every job (server settings), whatever the request said. */
  nsfwEnforced?: boolean;
  watermark?: { text: string };
}

export const FilterRequest = Type.Object(
  {
    image: Type.String({ minLength: 1, maxLength: LIMITS.imageChars, description: 'a data URL (PNG, JPEG or WebP) or the id of an image made here' }),
    ...filterFields,
  },
  { additionalProperties: false },
);
export type FilterRequest = Static<typeof FilterRequest>;

const FilterModel = Type.Object({ id: Type.String(), name: Type.String(), builtin: Type.Boolean(), licence: Type.String(), nonCommercial: Type.Boolean() });
export const AvailableFilters = Type.Object({
  upscalers: Type.Array(FilterModel),
  faceRestorers: Type.Array(FilterModel),
  nsfw: Type.Array(FilterModel),
  watermark: Type.Boolean({ description: 'whether invisible watermarking is available' }),
  upscaleFactors: Type.Array(Type.Integer()),
  defaultWatermarkText: Type.String(),
});
export type AvailableFilters = Static<typeof AvailableFilters>;

/** GET /api/settings/server (anyone signed in) and PATCH (the owner): what every job runs under. */
export const ServerSettingsView = Type.Object({ filters: FilterSettings, performance: PerformanceSettings });
export type ServerSettingsView = Static<typeof ServerSettingsView>;

export const ServerSettingsUpdate = Type.Object(
  {
    filters: Type.Optional(Type.Partial(FilterSettings, { additionalProperties: false })),
    performance: Type.Optional(Type.Partial(PerformanceSettings, { additionalProperties: false })),
  },
  { additionalProperties: false },
);
export type ServerSettingsUpdate = Static<typeof ServerSettingsUpdate>;

/** Where and how outputs are saved; absent: `<outputs>/<job id>-<index>.<ext>`, no sidecars. */
export const SaveAs = Type.Object(
  {
    folder: Type.Optional(Type.String({ maxLength: 200, description: 'folder pattern under the outputs folder, "/" between levels, e.g. "[date]/[model]"' })),
    fileName: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'file name pattern without extension, e.g. "[counter]-[seed]-[prompt_words]"' })),
    txt: Type.Optional(Type.Boolean({ description: 'write the infotext beside the image as <name>.txt' })),
    json: Type.Optional(Type.Boolean({ description: 'write the request beside the image as <name>.json' })),
  },
  { additionalProperties: false },
);
export type SaveAs = Static<typeof SaveAs>;

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
    ...filterFields,
    saveAs: Type.Optional(SaveAs),
  },
  { additionalProperties: false },
);
export type JobRequest = Static<typeof JobRequest>;

/** A request with every default filled in and the sampler and seeds resolved: what the worker runs. */
export interface ResolvedJob extends FilterChain {
  /** 'filter': no generation, only the filter chain run on `sourceImage` (POST /api/filters). */
  kind?: 'filter';
  sourceImage?: string;
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
  saveAs?: SaveAs;
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
  images: Type.Optional(Type.Integer({ description: 'images made together from `image` on (a batch sharing each UNet call); 1 when absent' })),
  count: Type.Integer(),
  etaMs: Type.Number(),
  /** Time per image-step: a batch of n images (`images`) takes n × this per UNet step. */
  msPerStep: Type.Number(),
  /** Set while a filter runs after decoding; step/totalSteps then count that filter's units (tiles). */
  stage: Type.Optional(Type.Union([Type.Literal('faceRestore'), Type.Literal('upscale'), Type.Literal('nsfw'), Type.Literal('watermark')])),
});
export type Progress = Static<typeof Progress>;

/** A converted model's float type: the one schema for import requests, imports and listings. */
export const PrecisionSchema = Type.Union([Type.Literal('fp32'), Type.Literal('fp16')], {
  description: 'fp32 (default) or fp16: float16 weights and compute for GPUs, half the size (CPUs run fp32 faster)',
});

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
    upscale: Type.Optional(Type.Object({ factor: Type.Integer(), model: Type.String() })),
    faceRestore: Type.Optional(Type.Object({ model: Type.Optional(Type.String()), strength: Type.Optional(Type.Number()) })),
    nsfwFilter: Type.Optional(Type.Boolean()),
    nsfwClassifier: Type.Optional(Type.String()),
    nsfwEnforced: Type.Optional(Type.Boolean()),
    watermark: Type.Optional(Type.Object({ text: Type.String() })),
    kind: Type.Optional(Type.Literal('filter')),
    sourceImage: Type.Optional(Type.String()),
    saveAs: Type.Optional(SaveAs),
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
  /** Sub-networks present (text_encoder, unet, …) or the .onnx files of a single-network model. */
  components: Type.Optional(Type.Array(Type.String())),
  /** onnx: usable; checkpoint: a single .safetensors file that needs importing first. */
  format: Type.Optional(Type.String()),
  /** Where it is on the server's disk (a checkpoint is imported by this path). */
  path: Type.Optional(Type.String()),
  /** Why it is not ready, in words ("PyTorch weights: …", "an SDXL checkpoint: not supported yet"). */
  problem: Type.Optional(Type.String()),
  /** For a checkpoint already imported: the model it became. */
  importedAs: Type.Optional(Type.String()),
  /** The networks' float type when the folder says (Easel's imports record it in model_index.json). */
  precision: Type.Optional(PrecisionSchema),
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

/** POST /api/png-info and POST /api/watermark/check: a picture to look into. */
export const ImageProbeRequest = Type.Object(
  {
    image: Type.String({ minLength: 1, maxLength: LIMITS.imageChars, description: 'a data URL (PNG, JPEG or WebP) or the id of an image made here' }),
    lengthBits: Type.Optional(Type.Integer({ minimum: 8, maximum: 4096, description: 'watermark only: bits to read (136 = "StableDiffusionV1")' })),
  },
  { additionalProperties: false },
);
export type ImageProbeRequest = Static<typeof ImageProbeRequest>;

export const PngInfoResult = Type.Object({
  parameters: Type.Union([Type.String(), Type.Null()], { description: 'the A1111 infotext (PNG parameters chunk or EXIF UserComment)' }),
  source: Type.Union([Type.Literal('easel'), Type.Literal('a1111'), Type.Literal('invokeai'), Type.Literal('comfyui'), Type.Null()]),
  fields: Type.Object({
    prompt: Type.Optional(Type.String()),
    negativePrompt: Type.Optional(Type.String()),
    steps: Type.Optional(Type.Number()),
    sampler: Type.Optional(Type.String({ description: "Easel's sampler id, when Easel has the image's sampler" })),
    samplerName: Type.Optional(Type.String({ description: 'the sampler as the image names it' })),
    cfgScale: Type.Optional(Type.Number()),
    seed: Type.Optional(Type.Number()),
    width: Type.Optional(Type.Number()),
    height: Type.Optional(Type.Number()),
    model: Type.Optional(Type.String()),
    strength: Type.Optional(Type.Number()),
  }),
  params: Type.Record(Type.String(), Type.String(), { description: "the infotext's Key: value pairs" }),
  items: Type.Record(Type.String(), Type.String(), { description: 'other text entries (ComfyUI prompt/workflow, InvokeAI metadata, …)' }),
});
export type PngInfoResult = Static<typeof PngInfoResult>;

export const WatermarkCheckResult = Type.Object({
  text: Type.String({ description: 'the bits read as UTF-8 (U+FFFD where they are not valid)' }),
  bits: Type.Array(Type.Integer({ minimum: 0, maximum: 1 })),
  matchesDefault: Type.Boolean({ description: 'the bits spell "StableDiffusionV1" exactly' }),
  defaultBitsMatched: Type.Integer({ description: 'how many of the 136 bits of "StableDiffusionV1" were read right (about 68 is chance)' }),
});
export type WatermarkCheckResult = Static<typeof WatermarkCheckResult>;
