// The generate form: its values, the pictures handed to img2img, the lists its pickers offer, and queuing the
// jobs one click makes. Values survive a reload through localStorage (see persist()); the pure rules live in
// settings.ts, prompt-expand.ts and modifiers.ts.
import type { ErrorInfo, ImageRef, JobView, ModelInfo, SamplerInfo } from '../../../server/src/http/schemas.js';
import { api, toErrorInfo } from './api.js';
import type { ImageMetadata } from './image-metadata.js';
import { matchModel, matchSampler } from './name-match.js';
import { countLabel, expandPrompts } from './prompt-expand.js';
import { DEFAULT_VALUES, buildRequests, fitSize, sanitizeValues, valuesFromRequest, type FormValues, type PictureRef } from './settings.js';

const VALUES_KEY = 'easel.form.v2';
const OLD_VALUES_KEY = 'easel.form.v1';
const PICTURES_KEY = 'easel.pictures.v1';
const PREFERRED_SAMPLER = 'euler';
/** One click may queue this many jobs; a bigger matrix is almost surely a typo. */
export const MAX_JOBS_PER_CLICK = 500;

export const FIELD_LABELS: Record<string, string> = {
  prompt: 'Prompt',
  negativePrompt: 'Negative prompt',
  model: 'Model',
  sampler: 'Sampler',
  steps: 'Steps',
  cfgScale: 'Guidance',
  width: 'Width',
  height: 'Height',
  seed: 'Seed',
  count: 'Images',
  outputFormat: 'Format',
  quality: 'Quality',
  initImage: 'Initial image',
  strength: 'Strength',
  mask: 'Mask',
  preserveColors: 'Keep colours',
};

/** The server names a field as a dotted path (`steps`, `upscale.factor`); tolerate `/steps` and `body.steps`. */
export function fieldName(field: string | undefined): string | null {
  if (!field) return null;
  const path = field.replace(/^\//, '').replace(/\//g, '.').replace(/^body\.?/, '');
  return path || null;
}

const fresh = (): FormValues => ({ ...DEFAULT_VALUES, modifiers: [] });

export class JobForm {
  values = $state<FormValues>(fresh());
  /** The initial image (img2img) and the inpainting mask painted over it. */
  init = $state<PictureRef | null>(null);
  mask = $state<PictureRef | null>(null);

  models = $state<ModelInfo[]>([]);
  samplers = $state<SamplerInfo[]>([]);
  error = $state<ErrorInfo | null>(null);
  /** While queuing: how many of how many jobs are in. */
  queuing = $state<{ done: number; total: number } | null>(null);

  expansion = $derived(expandPrompts(this.values.prompt));
  makeLabel = $derived(countLabel(this.expansion, this.values.count));
  errorField = $derived(fieldName(this.error?.field));
  submitting = $derived(this.queuing !== null);

  readonly #storage: Storage | null;

  constructor(storage: Storage | null = globalThis.localStorage ?? null) {
    this.#storage = storage;
    this.#restore();
  }

  async loadOptions(): Promise<void> {
    const [models, samplers] = await Promise.allSettled([api.models(), api.samplers()]);
    if (models.status === 'fulfilled') this.models = models.value;
    if (samplers.status === 'fulfilled') this.samplers = samplers.value;
    this.#pickDefaults();
    const failed = [models, samplers].find((r) => r.status === 'rejected');
    if (failed && failed.status === 'rejected' && !this.error) this.error = toErrorInfo(failed.reason);
  }

  setSize(width: number, height: number): void {
    this.values.width = width;
    this.values.height = height;
  }

  swapSize(): void {
    this.setSize(this.values.height ?? DEFAULT_VALUES.height ?? 512, this.values.width ?? DEFAULT_VALUES.width ?? 512);
  }

  /** Posts one job per prompt; resolves to the ids queued. Stops at the first refusal (see `error`). */
  async submit(): Promise<string[]> {
    if (this.queuing) return [];
    const { prompts, truncated } = this.expansion;
    if (truncated || prompts.length > MAX_JOBS_PER_CLICK) {
      this.error = { code: 'EASEL_UI_TOO_MANY', message: `The prompt makes more than ${MAX_JOBS_PER_CLICK} prompts; one click queues at most ${MAX_JOBS_PER_CLICK}.`, field: 'prompt' };
      return [];
    }
    // No prompt at all still goes to the server, whose 400 names the field (modifiers alone are a prompt).
    const requests = buildRequests($state.snapshot(this.values), prompts.length ? prompts : [''], this.init, this.init ? this.mask : null);
    const ids: string[] = [];
    this.queuing = { done: 0, total: requests.length };
    try {
      for (const request of requests) {
        ids.push((await api.createJob(request)).id);
        this.queuing = { done: ids.length, total: requests.length };
      }
      this.error = null;
    } catch (error) {
      this.error = toErrorInfo(error);
    } finally {
      this.queuing = null;
    }
    return ids;
  }

  dismissError(): void {
    this.error = null;
  }

  /** Settings from pasted JSON or a stored copy; unknown or malformed fields are ignored. Returns how many applied. */
  applyValues(input: unknown): number {
    const clean = sanitizeValues(input);
    Object.assign(this.values, clean);
    return Object.keys(clean).length;
  }

  /** Settings back to the defaults; the prompts, modifiers and model stay. */
  reset(): void {
    const { prompt, negativePrompt, modifiers, model } = $state.snapshot(this.values);
    this.values = { ...fresh(), prompt, negativePrompt, modifiers, model };
    this.#pickDefaults();
    this.clearInit();
  }

  /** "Use these settings": the job's values, seed fixed, pictures included; modifiers are already in its prompt. */
  useRequest(request: JobView['request']): void {
    this.applyValues(valuesFromRequest(request));
    this.#disableModifiers();
    this.init = request.initImage ? pictureById(request.initImage, request.width, request.height) : null;
    this.mask = request.initImage && request.mask ? pictureById(request.mask, request.width, request.height) : null;
  }

  useAsInit(image: ImageRef): void {
    this.setInit({ ref: image.id, url: image.url, width: image.width, height: image.height });
  }

  /** A new initial image: the size follows it, and an old mask no longer fits it. */
  setInit(picture: PictureRef): void {
    this.init = picture;
    this.mask = null;
    const size = fitSize(picture.width, picture.height);
    this.setSize(size.width, size.height);
  }

  clearInit(): void {
    this.init = null;
    this.mask = null;
  }

  /** Fills the form from a dropped image's metadata; returns notes on what could not be matched. */
  applyMetadata(meta: ImageMetadata): string[] {
    const notes: string[] = [];
    const s = meta.settings;
    const values: Partial<FormValues> = { ...s, randomSeed: s.seed === undefined ? this.values.randomSeed : false };
    delete values.model;
    delete values.sampler;
    if (s.width !== undefined && s.height !== undefined) Object.assign(values, fitSize(s.width, s.height, 2048));
    this.applyValues(values);
    if (s.prompt !== undefined) this.#disableModifiers();
    if (s.model) {
      const model = matchModel(s.model, this.models);
      if (model) this.values.model = model;
      else notes.push(`Model “${s.model}” is not installed here; kept ${this.values.model || 'the default'}.`);
    }
    if (s.sampler) {
      const sampler = matchSampler(s.sampler, this.samplers);
      if (sampler) this.values.sampler = sampler;
      else notes.push(`Sampler “${s.sampler}” is not available; kept ${this.values.sampler || 'the default'}.`);
    }
    return notes;
  }

  /** Saves the values (cheap, on every change) and the pictures (only when they change). */
  persist(): void {
    this.#write(VALUES_KEY, $state.snapshot(this.values));
  }

  persistPictures(): void {
    // A big data URL may not fit the quota: the values matter more, so a failed write just forgets the pictures.
    if (!this.#write(PICTURES_KEY, { init: this.init, mask: this.mask })) this.#storage?.removeItem(PICTURES_KEY);
  }

  /** A model and sampler the server has, when the current ones are not (or not yet) known. */
  #pickDefaults(): void {
    if (this.models.length && !this.models.some((m) => m.id === this.values.model)) {
      this.values.model = (this.models.find((m) => m.ready) ?? this.models[0])?.id ?? '';
    }
    if (this.samplers.length && !this.samplers.some((s) => s.id === this.values.sampler)) {
      this.values.sampler = (this.samplers.find((s) => s.id === PREFERRED_SAMPLER) ?? this.samplers[0])?.id ?? '';
    }
  }

  #disableModifiers(): void {
    for (const modifier of this.values.modifiers) modifier.enabled = false;
  }

  #write(key: string, value: unknown): boolean {
    try {
      this.#storage?.setItem(key, JSON.stringify(value));
      return true;
    } catch {
      return false; // private mode or a full quota: simply not remembered
    }
  }

  #read(key: string): unknown {
    try {
      return JSON.parse(this.#storage?.getItem(key) ?? 'null');
    } catch {
      return null;
    }
  }

  #restore(): void {
    this.applyValues(this.#read(VALUES_KEY) ?? this.#read(OLD_VALUES_KEY));
    const pictures = this.#read(PICTURES_KEY) as { init?: unknown; mask?: unknown } | null;
    this.init = asPicture(pictures?.init);
    this.mask = this.init ? asPicture(pictures?.mask) : null;
  }
}

function pictureById(id: string, width: number, height: number): PictureRef {
  return { ref: id, url: `/api/images/${encodeURIComponent(id)}`, width, height };
}

function asPicture(value: unknown): PictureRef | null {
  const p = value as Partial<PictureRef> | null | undefined;
  if (!p || typeof p.ref !== 'string' || typeof p.url !== 'string') return null;
  if (typeof p.width !== 'number' || typeof p.height !== 'number') return null;
  return { ref: p.ref, url: p.url, width: p.width, height: p.height };
}
