// What every scheduler shares: the diffusers scheduler_config.json keys with typed defaults, the training noise
// schedule, timestep spacing, and the small interface the denoise loop talks to.

export type BetaSchedule = 'scaled_linear' | 'linear';
export type PredictionType = 'epsilon' | 'v_prediction';
export type TimestepSpacing = 'leading' | 'linspace' | 'trailing';
export type InterpolationType = 'linear' | 'log_linear';

/** diffusers scheduler_config.json, keys spelled as in the file. */
export interface SchedulerConfig {
  num_train_timesteps: number;
  beta_start: number;
  beta_end: number;
  beta_schedule: BetaSchedule;
  /** Explicit betas replace the beta_* schedule when present. */
  trained_betas: number[] | null;
  prediction_type: PredictionType;
  /** Absent when neither the file nor the caller chose: each scheduler then applies its own class default. */
  timestep_spacing?: TimestepSpacing;
  steps_offset: number;
  set_alpha_to_one: boolean;
  skip_prk_steps: boolean;
  clip_sample: boolean;
  clip_sample_range: number;
  use_karras_sigmas: boolean;
  interpolation_type: InterpolationType;
}

/** The random source a stochastic step draws from (TorchGenerator fits). */
export interface NoiseSource {
  randn(count: number): Float32Array;
}

export interface SchedulerStepResult {
  prevSample: Float32Array;
  predOriginal: Float32Array;
}

export interface Scheduler {
  /** The t fed to the UNet, in order. */
  readonly timesteps: number[];
  readonly initNoiseSigma: number;
  readonly order: number;
  /** Returns a new array. */
  scaleModelInput(sample: Float32Array, stepIndex: number): Float32Array;
  step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array, rng: NoiseSource): SchedulerStepResult;
  /**
   * img2img: noises clean latents to the level of `timesteps[stepIndex]`, the first step that will run
   * (x0 + σ·ε for sigma schedulers, √ᾱ·x0 + √(1−ᾱ)·ε for the others). Returns a new array.
   */
  addNoise(original: Float32Array, noise: Float32Array, stepIndex: number): Float32Array;
}

/** Throws unless `steps` is a whole number of inference steps that a schedule of `total` timesteps can give. */
export function checkSteps(steps: number, total: number): void {
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`number of steps must be a positive integer, got ${steps}`);
  if (steps > total) throw new Error(`cannot take ${steps} steps: the model was trained with ${total} timesteps`);
}

/** Throws unless `stepIndex` addresses one of `count` timesteps. */
export function checkStepIndex(scheduler: string, stepIndex: number, count: number): void {
  if (!Number.isInteger(stepIndex) || stepIndex < 0 || stepIndex >= count) {
    throw new Error(`${scheduler}: step index ${stepIndex} is outside 0..${count - 1}`);
  }
}

/** Throws unless the model output and the sample have the same size. */
export function checkSameLength(scheduler: string, modelOutput: Float32Array, sample: Float32Array): void {
  if (modelOutput.length !== sample.length) {
    throw new Error(`${scheduler} step: model output has ${modelOutput.length} values, sample has ${sample.length}`);
  }
}

/** For schedulers whose history must be one run's: throws unless `stepIndex` follows `last` (null: none ran yet). */
export function checkFollows(scheduler: string, last: number | null, stepIndex: number): void {
  if (last !== null && stepIndex !== last + 1) {
    throw new Error(`${scheduler} is stateful: step ${stepIndex} follows step ${last}; use a fresh scheduler per image`);
  }
}

export interface SchedulerDefaults {
  /** The scheduler class's own default: "linspace" for the Euler family, "leading" for DDIM / PNDM. */
  timestepSpacing?: TimestepSpacing;
}

// diffusers' class defaults, used when a key is missing. SD files set all of these explicitly.
const DEFAULTS: Omit<SchedulerConfig, 'timestep_spacing'> = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  trained_betas: null,
  prediction_type: 'epsilon',
  steps_offset: 0,
  set_alpha_to_one: false,
  skip_prk_steps: false,
  clip_sample: false,
  clip_sample_range: 1,
  use_karras_sigmas: false,
  interpolation_type: 'linear',
};

/** The value when it is one of `allowed`, undefined when the key is missing; anything else is an error. */
function oneOf<T extends string>(json: Record<string, unknown>, key: string, allowed: readonly T[]): T | undefined {
  const value = json[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw new Error(`scheduler config: ${key} ${JSON.stringify(value)} is not supported (expected ${allowed.join(' | ')})`);
}

function numberAt(json: Record<string, unknown>, key: string, fallback: number): number {
  const value = json[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  throw new Error(`scheduler config: ${key} must be a number, got ${JSON.stringify(value)}`);
}

function booleanAt(json: Record<string, unknown>, key: string, fallback: boolean): boolean {
  const value = json[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value === 'boolean') return value;
  throw new Error(`scheduler config: ${key} must be true or false, got ${JSON.stringify(value)}`);
}

/**
 * Reads the keys of a diffusers scheduler_config.json; other keys (_class_name, ...) are ignored. Without a
 * spacing default, a file that names no spacing leaves it to the scheduler built from it, as diffusers' from_config
 * does (SD 1.5's PNDM file has none: Euler then uses "linspace", DDIM "leading").
 */
export function parseSchedulerConfig(json: unknown, defaults: SchedulerDefaults = {}): SchedulerConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new Error('scheduler config must be a JSON object');
  }
  const raw = json as Record<string, unknown>;
  const trained = raw.trained_betas;
  if (trained !== undefined && trained !== null && !(Array.isArray(trained) && trained.every((b) => typeof b === 'number'))) {
    throw new Error('scheduler config: trained_betas must be a list of numbers or null');
  }
  const spacing = oneOf(raw, 'timestep_spacing', ['leading', 'linspace', 'trailing']) ?? defaults.timestepSpacing;
  const config: SchedulerConfig = {
    num_train_timesteps: numberAt(raw, 'num_train_timesteps', DEFAULTS.num_train_timesteps),
    beta_start: numberAt(raw, 'beta_start', DEFAULTS.beta_start),
    beta_end: numberAt(raw, 'beta_end', DEFAULTS.beta_end),
    beta_schedule: oneOf(raw, 'beta_schedule', ['scaled_linear', 'linear']) ?? DEFAULTS.beta_schedule,
    trained_betas: Array.isArray(trained) ? (trained as number[]) : null,
    prediction_type: oneOf(raw, 'prediction_type', ['epsilon', 'v_prediction']) ?? DEFAULTS.prediction_type,
    ...(spacing ? { timestep_spacing: spacing } : {}),
    steps_offset: numberAt(raw, 'steps_offset', DEFAULTS.steps_offset),
    set_alpha_to_one: booleanAt(raw, 'set_alpha_to_one', DEFAULTS.set_alpha_to_one),
    skip_prk_steps: booleanAt(raw, 'skip_prk_steps', DEFAULTS.skip_prk_steps),
    clip_sample: booleanAt(raw, 'clip_sample', DEFAULTS.clip_sample),
    clip_sample_range: numberAt(raw, 'clip_sample_range', DEFAULTS.clip_sample_range),
    use_karras_sigmas: booleanAt(raw, 'use_karras_sigmas', DEFAULTS.use_karras_sigmas),
    interpolation_type: oneOf(raw, 'interpolation_type', ['linear', 'log_linear']) ?? DEFAULTS.interpolation_type,
  };
  const steps = config.num_train_timesteps;
  if (!Number.isInteger(steps) || steps < 2) throw new Error(`scheduler config: num_train_timesteps must be an integer ≥ 2, got ${steps}`);
  if (config.trained_betas && config.trained_betas.length !== steps) {
    throw new Error(`scheduler config: trained_betas has ${config.trained_betas.length} values for ${steps} timesteps`);
  }
  return config;
}

// ---- training schedule --------------------------------------------------------------------------------------------
// diffusers keeps betas and ᾱ in float32 torch tensors. Rounding them the same way matters: 1 − β₀ in float32 moves
// σ_min by 1.3e-5 relative against a float64 schedule, more than the 1e-6 the reference sigmas allow.

const f32 = Math.fround;

/** torch.linspace in float32: float endpoints, each value rounded once, built from both ends toward the middle. */
function linspaceFloat32(start: number, end: number, count: number): Float32Array {
  const from = f32(start);
  const to = f32(end);
  const step = (to - from) / (count - 1);
  const half = Math.floor(count / 2);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = i < half ? from + step * i : to - step * (count - 1 - i);
  return out;
}

/** β_t as diffusers builds them (float32 values). */
export function betas(config: SchedulerConfig): Float32Array {
  const count = config.num_train_timesteps;
  if (config.trained_betas) return Float32Array.from(config.trained_betas);
  if (config.beta_schedule === 'linear') return linspaceFloat32(config.beta_start, config.beta_end, count);
  const roots = linspaceFloat32(Math.sqrt(config.beta_start), Math.sqrt(config.beta_end), count);
  return roots.map((r) => r * r);
}

/** ᾱ_t = Π(1 − β): float32 values (torch accumulates the product in double and rounds each entry). */
export function alphasCumprod(config: SchedulerConfig): Float64Array {
  const beta = betas(config);
  const out = new Float64Array(beta.length);
  let product = 1;
  for (let t = 0; t < beta.length; t++) {
    product *= f32(1 - beta[t]);
    out[t] = f32(product);
  }
  return out;
}

/** NumPy's round: halves go to the even neighbour (937.5 → 938, 812.5 → 812). */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * Inference timesteps, descending, as float32 values, with the config's spacing or else `classDefault`.
 * "linspace" keeps fractions (the Euler family feeds them to the UNet as-is); integer-only schedulers round them.
 */
export function spacedTimesteps(config: SchedulerConfig, steps: number, classDefault: TimestepSpacing): number[] {
  const total = config.num_train_timesteps;
  checkSteps(steps, total);
  const out: number[] = [];
  switch (config.timestep_spacing ?? classDefault) {
    case 'linspace': {
      const stride = steps > 1 ? (total - 1) / (steps - 1) : 0;
      for (let i = steps - 1; i >= 0; i--) out.push(f32(i === steps - 1 && steps > 1 ? total - 1 : i * stride));
      break;
    }
    case 'leading': {
      const ratio = Math.floor(total / steps);
      for (let i = steps - 1; i >= 0; i--) out.push(f32(i * ratio + config.steps_offset));
      break;
    }
    case 'trailing': {
      const ratio = total / steps;
      for (let i = 0; i < steps; i++) out.push(f32(roundHalfEven(total - i * ratio) - 1));
      break;
    }
  }
  return out;
}
