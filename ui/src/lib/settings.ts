// The form's values as plain data: their defaults, checking values that come from outside (localStorage, pasted
// JSON, a job's request), and turning them into the job requests one click queues. Pure: no Svelte, no DOM.
import type { JobRequest, JobView } from '../../../server/src/http/schemas.js';
import { LIMITS } from './limits.js';
import { applyModifiers, parseChosen, type ChosenModifier } from './modifiers.js';

export type OutputFormat = 'png' | 'jpeg' | 'webp';

export interface FormValues {
  prompt: string;
  negativePrompt: string;
  model: string;
  sampler: string;
  /** Number fields are null when emptied: empty means "the server's default". */
  steps: number | null;
  cfgScale: number | null;
  width: number | null;
  height: number | null;
  seed: number | null;
  randomSeed: boolean;
  /** Images per prompt. */
  count: number;
  outputFormat: OutputFormat;
  quality: number;
  /** img2img: how far the picture may move from the initial image. */
  strength: number;
  preserveColors: boolean;
  /** Show step previews while a job runs (the server sends them either way). */
  livePreview: boolean;
  /** Chime (and notify while the page is hidden) when the last job of the queue finishes. */
  alertWhenDone: boolean;
  /** Filters after generation, as the server offers them: 0 = no upscale. */
  upscaleFactor: 0 | 2 | 3 | 4;
  fixFaces: boolean;
  nsfwFilter: boolean;
  watermark: boolean;
  modifiers: ChosenModifier[];
}

/** The server's defaults (resolve-job.ts), an empty prompt, no modifiers. */
export const DEFAULT_VALUES: Readonly<FormValues> = Object.freeze({
  prompt: '',
  negativePrompt: '',
  model: '',
  sampler: '',
  steps: 20,
  cfgScale: 7.5,
  width: 512,
  height: 512,
  seed: 0,
  randomSeed: true,
  count: 1,
  outputFormat: 'png',
  quality: 90,
  strength: 0.75,
  preserveColors: false,
  livePreview: true,
  alertWhenDone: false,
  upscaleFactor: 0,
  fixFaces: false,
  nsfwFilter: false,
  watermark: false,
  modifiers: [],
});

/** A picture handed to the job: `ref` is what the request carries (a data URL or an image id made here). */
export interface PictureRef {
  ref: string;
  /** Something an <img> can show: the data URL itself, or /api/images/<id>. */
  url: string;
  width: number;
  height: number;
}

type Check = (value: unknown) => boolean;
const int = (min: number, max: number): Check => (v) => Number.isInteger(v) && (v as number) >= min && (v as number) <= max;
const real = (min: number, max: number): Check => (v) => typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max;
const orNull = (check: Check): Check => (v) => v === null || check(v);
const size: Check = (v) => int(LIMITS.minSize, LIMITS.maxSize)(v) && (v as number) % LIMITS.sizeMultiple === 0;
const text = (max: number): Check => (v) => typeof v === 'string' && v.length <= max;
const bool: Check = (v) => typeof v === 'boolean';

const CHECKS: { [K in Exclude<keyof FormValues, 'modifiers'>]: Check } = {
  prompt: text(LIMITS.promptChars),
  negativePrompt: text(LIMITS.promptChars),
  model: text(200),
  sampler: text(64),
  steps: orNull(int(LIMITS.minSteps, LIMITS.maxSteps)),
  cfgScale: orNull(real(0, LIMITS.maxCfgScale)),
  width: orNull(size),
  height: orNull(size),
  seed: orNull(int(0, LIMITS.maxSeed)),
  randomSeed: bool,
  count: int(1, LIMITS.maxCount),
  outputFormat: (v) => v === 'png' || v === 'jpeg' || v === 'webp',
  quality: int(1, 100),
  strength: (v) => real(0, 1)(v) && (v as number) > 0,
  preserveColors: bool,
  livePreview: bool,
  alertWhenDone: bool,
  upscaleFactor: (v) => v === 0 || v === 2 || v === 3 || v === 4,
  fixFaces: bool,
  nsfwFilter: bool,
  watermark: bool,
};

/** The well-formed values in untrusted data (stored or pasted JSON); anything else is left out. */
export function sanitizeValues(input: unknown): Partial<FormValues> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return {};
  const source = input as Record<string, unknown>;
  const out: Partial<Record<keyof FormValues, unknown>> = {};
  for (const [key, check] of Object.entries(CHECKS) as [keyof typeof CHECKS, Check][]) {
    if (key in source && check(source[key])) out[key] = source[key];
  }
  if ('modifiers' in source) out.modifiers = parseChosen(source.modifiers);
  return out as Partial<FormValues>;
}

/** Settings as JSON for the clipboard, prompt and modifiers included (pictures are not: they are too big). */
export function valuesToJson(values: FormValues): string {
  return JSON.stringify(values, null, 2);
}

/** The values that reproduce a job: its request, with its seed fixed (fields the form lacks are dropped). */
export function valuesFromRequest(request: JobView['request']): Partial<FormValues> {
  return sanitizeValues({
    ...request,
    randomSeed: false,
    preserveColors: request.preserveColors === true,
    upscaleFactor: request.upscale?.factor ?? 0,
    fixFaces: request.faceRestore !== undefined,
    nsfwFilter: request.nsfwFilter === true,
    watermark: request.watermark !== undefined,
  });
}

/** A finished job's request, ready to post again (optionally with changes, such as a new random seed). */
export function repeatRequest(request: JobView['request'], changes: Partial<JobRequest> = {}): JobRequest {
  const format = request.outputFormat;
  const repeated: JobRequest = {
    prompt: request.prompt,
    negativePrompt: request.negativePrompt,
    model: request.model,
    sampler: request.sampler,
    steps: request.steps,
    cfgScale: request.cfgScale,
    width: request.width,
    height: request.height,
    seed: request.seed,
    count: request.count,
    ...(format === 'png' || format === 'jpeg' || format === 'webp' ? { outputFormat: format, quality: request.quality } : {}),
    ...(request.initImage === undefined ? {} : { initImage: request.initImage, strength: request.strength }),
    ...(request.initImage !== undefined && request.mask !== undefined ? { mask: request.mask } : {}),
    ...(request.initImage !== undefined && request.preserveColors ? { preserveColors: true } : {}),
  };
  if (repeated.strength === undefined) delete repeated.strength;
  return { ...repeated, ...changes };
}

/** One request per prompt: the modifiers appended, the shared settings and pictures on each. */
export function buildRequests(values: FormValues, prompts: readonly string[], init: PictureRef | null, mask: PictureRef | null): JobRequest[] {
  const shared: Omit<JobRequest, 'prompt'> = {};
  if (values.negativePrompt.trim()) shared.negativePrompt = values.negativePrompt;
  if (values.model) shared.model = values.model;
  if (values.sampler) shared.sampler = values.sampler;
  if (values.steps !== null) shared.steps = values.steps;
  if (values.cfgScale !== null) shared.cfgScale = values.cfgScale;
  if (values.width !== null) shared.width = values.width;
  if (values.height !== null) shared.height = values.height;
  shared.seed = values.randomSeed || values.seed === null ? -1 : values.seed;
  // A number input gives null when emptied, whatever the type says: then the server's default applies.
  if (Number.isInteger(values.count)) shared.count = values.count;
  shared.outputFormat = values.outputFormat;
  if (values.outputFormat !== 'png' && Number.isInteger(values.quality)) shared.quality = values.quality;
  if (init) {
    shared.initImage = init.ref;
    shared.strength = values.strength;
    if (mask) shared.mask = mask.ref;
    if (values.preserveColors) shared.preserveColors = true;
  }
  if (values.upscaleFactor) shared.upscale = { factor: values.upscaleFactor };
  if (values.fixFaces) shared.faceRestore = {};
  if (values.nsfwFilter) shared.nsfwFilter = true;
  if (values.watermark) shared.watermark = true;
  return prompts.map((prompt) => ({ prompt: applyModifiers(prompt, values.modifiers), ...shared }));
}

/** The size the server accepts nearest to a picture's, keeping its shape within the limits. */
export function fitSize(width: number, height: number, longest = 1024): { width: number; height: number } {
  const scale = Math.min(1, longest / Math.max(width, height, 1));
  const snap = (v: number) =>
    Math.min(LIMITS.maxSize, Math.max(LIMITS.minSize, Math.round((v * scale) / LIMITS.sizeMultiple) * LIMITS.sizeMultiple));
  return { width: snap(width), height: snap(height) };
}
