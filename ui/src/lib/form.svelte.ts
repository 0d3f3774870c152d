// The generate form: its fields, the lists its pickers offer, turning it into a JobRequest, and the last
// error the server gave back. The fields survive a reload through localStorage.
import type { ErrorInfo, JobRequest, ModelInfo, SamplerInfo } from '../../../server/src/http/schemas.js';
import { ApiError, api } from './api.js';

const STORAGE_KEY = 'easel.form.v1';
const PREFERRED_SAMPLER = 'euler';

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
};

/** The server names a field as a dotted path (`steps`, `upscale.factor`); tolerate `/steps` and `body.steps`. */
export function fieldName(field: string | undefined): string | null {
  if (!field) return null;
  const path = field.replace(/^\//, '').replace(/\//g, '.').replace(/^body\.?/, '');
  return path || null;
}

interface Saved {
  prompt: string;
  negativePrompt: string;
  model: string;
  sampler: string;
  steps: number | null;
  cfgScale: number | null;
  width: number | null;
  height: number | null;
  seed: number | null;
  randomSeed: boolean;
}

export class JobForm {
  prompt = $state('');
  negativePrompt = $state('');
  model = $state('');
  sampler = $state('');
  // The server's defaults (resolve-job.ts). Number inputs give null when emptied: empty means "server default".
  steps = $state<number | null>(20);
  cfgScale = $state<number | null>(7.5);
  width = $state<number | null>(512);
  height = $state<number | null>(512);
  seed = $state<number | null>(0);
  randomSeed = $state(true);

  models = $state<ModelInfo[]>([]);
  samplers = $state<SamplerInfo[]>([]);
  error = $state<ErrorInfo | null>(null);
  submitting = $state(false);

  errorField = $derived(fieldName(this.error?.field));
  #submission = 0;
  readonly #storage: Storage | null;

  constructor(storage: Storage | null = globalThis.localStorage ?? null) {
    this.#storage = storage;
    this.#restore();
  }

  async loadOptions(): Promise<void> {
    const [models, samplers] = await Promise.allSettled([api.models(), api.samplers()]);
    if (models.status === 'fulfilled') {
      this.models = models.value;
      if (!this.models.some((m) => m.id === this.model)) {
        this.model = (this.models.find((m) => m.ready) ?? this.models[0])?.id ?? '';
      }
    }
    if (samplers.status === 'fulfilled') {
      this.samplers = samplers.value;
      if (!this.samplers.some((s) => s.id === this.sampler)) {
        this.sampler = (this.samplers.find((s) => s.id === PREFERRED_SAMPLER) ?? this.samplers[0])?.id ?? '';
      }
    }
    const failed = [models, samplers].find((r) => r.status === 'rejected');
    if (failed && failed.status === 'rejected' && !this.error) this.error = asErrorInfo(failed.reason);
  }

  setSize(width: number, height: number): void {
    this.width = width;
    this.height = height;
  }

  toRequest(): JobRequest {
    const request: JobRequest = { prompt: this.prompt };
    if (this.negativePrompt.trim()) request.negativePrompt = this.negativePrompt;
    if (this.model) request.model = this.model;
    if (this.sampler) request.sampler = this.sampler;
    if (isNumber(this.steps)) request.steps = this.steps;
    if (isNumber(this.cfgScale)) request.cfgScale = this.cfgScale;
    if (isNumber(this.width)) request.width = this.width;
    if (isNumber(this.height)) request.height = this.height;
    request.seed = this.randomSeed || !isNumber(this.seed) ? -1 : this.seed;
    return request;
  }

  /** Posts the job; resolves to its id, or null when the server refused it (see `error`). */
  async submit(): Promise<string | null> {
    const ticket = ++this.#submission;
    this.submitting = true;
    this.#save();
    try {
      const created = await api.createJob(this.toRequest());
      if (ticket === this.#submission) this.error = null;
      return created.id;
    } catch (error) {
      if (ticket === this.#submission) this.error = asErrorInfo(error);
      return null;
    } finally {
      if (ticket === this.#submission) this.submitting = false;
    }
  }

  dismissError(): void {
    this.error = null;
  }

  #save(): void {
    const saved: Saved = {
      prompt: this.prompt,
      negativePrompt: this.negativePrompt,
      model: this.model,
      sampler: this.sampler,
      steps: this.steps,
      cfgScale: this.cfgScale,
      width: this.width,
      height: this.height,
      seed: this.seed,
      randomSeed: this.randomSeed,
    };
    try {
      this.#storage?.setItem(STORAGE_KEY, JSON.stringify(saved));
    } catch {
      // Private mode or a full quota: the form simply is not remembered.
    }
  }

  #restore(): void {
    let saved: Partial<Saved>;
    try {
      saved = JSON.parse(this.#storage?.getItem(STORAGE_KEY) ?? '{}') as Partial<Saved>;
    } catch {
      return;
    }
    if (typeof saved.prompt === 'string') this.prompt = saved.prompt;
    if (typeof saved.negativePrompt === 'string') this.negativePrompt = saved.negativePrompt;
    if (typeof saved.model === 'string') this.model = saved.model;
    if (typeof saved.sampler === 'string') this.sampler = saved.sampler;
    if (saved.steps === null || isNumber(saved.steps)) this.steps = saved.steps;
    if (saved.cfgScale === null || isNumber(saved.cfgScale)) this.cfgScale = saved.cfgScale;
    if (saved.width === null || isNumber(saved.width)) this.width = saved.width;
    if (saved.height === null || isNumber(saved.height)) this.height = saved.height;
    if (saved.seed === null || isNumber(saved.seed)) this.seed = saved.seed;
    if (typeof saved.randomSeed === 'boolean') this.randomSeed = saved.randomSeed;
  }
}

function isNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function asErrorInfo(error: unknown): ErrorInfo {
  if (error instanceof ApiError) return error.info;
  return { code: 'EASEL_UI_ERROR', message: error instanceof Error ? error.message : String(error) };
}
