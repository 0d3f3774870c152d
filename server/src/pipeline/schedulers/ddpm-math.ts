// Shared pieces of the ᾱ-parameterised ("DDPM family") schedulers: DDIM, PNDM and LCM. They index ᾱ by integer
// timestep and keep samples in VP space (init_noise_sigma 1), unlike the sigma family (Euler, LMS). The VP-level
// math (x0, ε and add_noise from α and σ_t) serves DPM++ 2M and UniPC too, which keep their samples in VP space.
// Arithmetic mirrors diffusers' float32 tensors: Math.fround after every operation.
import { alphasCumprod, checkSameLength, checkStepIndex, roundHalfEven, spacedTimesteps } from './scheduler.js';
import type {
  NoiseSource,
  PredictionType,
  Scheduler,
  SchedulerConfig,
  SchedulerStepResult,
  TimestepSpacing,
} from './scheduler.js';

const f32 = Math.fround;

/** float32 √x, as torch's `x ** 0.5` / `x.sqrt()` on a float32 tensor. */
export const sqrt32 = (x: number): number => f32(Math.sqrt(x));

export interface DdpmSchedule {
  /** ᾱ_t for every training timestep (float32 values). */
  readonly alphasCumprod: Float64Array;
  /** The ᾱ used past the end of the schedule (t < 0): 1 with set_alpha_to_one, else ᾱ_0. */
  readonly finalAlphaCumprod: number;
}

export function ddpmSchedule(config: SchedulerConfig): DdpmSchedule {
  const alphas = alphasCumprod(config);
  return { alphasCumprod: alphas, finalAlphaCumprod: config.set_alpha_to_one ? 1 : alphas[0] };
}

/** ᾱ at an integer timestep; negative timesteps (the step past t = 0) take the final ᾱ, as diffusers does. */
export function alphaProdAt(schedule: DdpmSchedule, timestep: number): number {
  if (timestep < 0) return schedule.finalAlphaCumprod;
  if (!Number.isInteger(timestep) || timestep >= schedule.alphasCumprod.length) {
    throw new Error(`timestep ${timestep} is outside the training schedule 0..${schedule.alphasCumprod.length - 1}`);
  }
  return schedule.alphasCumprod[timestep];
}

/**
 * Integer timesteps, descending, for the schedulers that index ᾱ directly. Leading and trailing are integers
 * already; "linspace" is rounded (half to even) from NumPy's float64 values, not from float32 ones, because a value
 * that float32 moved onto .5 would round differently.
 */
export function integerTimesteps(config: SchedulerConfig, steps: number, classDefault: TimestepSpacing): number[] {
  const spacing = config.timestep_spacing ?? classDefault;
  const spaced = spacedTimesteps(config, steps, spacing);
  if (spacing !== 'linspace') return spaced;
  const last = config.num_train_timesteps - 1;
  const stride = steps > 1 ? last / (steps - 1) : 0;
  return spaced.map((_, k) => {
    const i = steps - 1 - k;
    return i === steps - 1 && steps > 1 ? last : roundHalfEven(i * stride);
  });
}

/**
 * A noise level in VP space, float32: x_t = α·x0 + σ_t·ε. The DDPM family reads it off ᾱ (`vpLevel`); DPM++ and
 * UniPC off a sigma (`vpPoint` in sigma-schedule.ts).
 */
export interface VpLevel {
  alpha: number;
  sigmaT: number;
}

/** α = √ᾱ, σ_t = √(1 − ᾱ), as diffusers' `alpha_prod_t ** 0.5` and `(1 - alpha_prod_t) ** 0.5`. */
export function vpLevel(alphaProd: number): VpLevel {
  return { alpha: sqrt32(alphaProd), sigmaT: sqrt32(f32(1 - alphaProd)) };
}

/**
 * α·x0 + σ_t·ε in float32, a new array: diffusers' add_noise in VP space, and the DDIM (η = 0) and LCM steps,
 * which noise their x0 back to the next level the same way.
 */
export function addNoiseAt(level: VpLevel, original: Float32Array, noise: Float32Array): Float32Array {
  if (noise.length !== original.length) {
    throw new Error(`add noise: noise has ${noise.length} values, the sample has ${original.length}`);
  }
  const { alpha, sigmaT } = level;
  return original.map((x, i) => f32(alpha * x) + f32(sigmaT * noise[i]));
}

/** x0 predicted from a UNet output at a VP level: ε → (x − σ_t·ε)/α; v → α·x − σ_t·v. */
export function predictOriginal(
  predictionType: PredictionType,
  level: VpLevel,
  sample: Float32Array,
  modelOutput: Float32Array,
): Float32Array {
  const { alpha, sigmaT } = level;
  const out = new Float32Array(sample.length);
  if (predictionType === 'epsilon') {
    for (let i = 0; i < out.length; i++) out[i] = f32(sample[i] - f32(sigmaT * modelOutput[i])) / alpha;
  } else {
    for (let i = 0; i < out.length; i++) out[i] = f32(alpha * sample[i]) - f32(sigmaT * modelOutput[i]);
  }
  return out;
}

/** ε from a v-prediction at a VP level: α·v + σ_t·x. */
export function epsilonFromVelocity(level: VpLevel, sample: Float32Array, velocity: Float32Array): Float32Array {
  const { alpha, sigmaT } = level;
  return velocity.map((v, i) => f32(alpha * v) + f32(sigmaT * sample[i]));
}

/** diffusers' clip_sample: clamps x0 to ±clip_sample_range in place when the config asks for it. */
export function clipPredOriginal(predOriginal: Float32Array, config: SchedulerConfig): void {
  if (!config.clip_sample) return;
  const range = config.clip_sample_range;
  for (let i = 0; i < predOriginal.length; i++) predOriginal[i] = Math.min(range, Math.max(-range, predOriginal[i]));
}

/**
 * What the schedulers that keep samples in VP space share (DDIM, PNDM and LCM below; DPM++ 2M and UniPC through
 * VpSigmaScheduler): init_noise_sigma 1, no input scaling, and order 1 (PNDM's too in diffusers, so an img2img run
 * starts at index t_start of `timesteps`).
 */
export abstract class VpScheduler implements Scheduler {
  readonly order = 1;
  readonly initNoiseSigma = 1;

  /** `name` names the scheduler in errors. */
  constructor(protected readonly name: string, readonly timesteps: number[]) {}

  abstract step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array, rng: NoiseSource): SchedulerStepResult;
  abstract addNoise(original: Float32Array, noise: Float32Array, stepIndex: number): Float32Array;

  scaleModelInput(sample: Float32Array, stepIndex: number): Float32Array {
    checkStepIndex(this.name, stepIndex, this.timesteps.length);
    return sample.slice();
  }

  /** The checks every step starts with: a valid index, then a model output the sample's size. */
  protected checkStep(modelOutput: Float32Array, stepIndex: number, sample: Float32Array): void {
    checkStepIndex(this.name, stepIndex, this.timesteps.length);
    checkSameLength(this.name, modelOutput, sample);
  }
}

/** DDIM, PNDM and LCM: ᾱ indexed by each call's integer timestep, add_noise at the timestep of `stepIndex`. */
export abstract class DdpmScheduler extends VpScheduler {
  protected readonly schedule: DdpmSchedule;

  constructor(name: string, timesteps: number[], protected readonly config: SchedulerConfig) {
    super(name, timesteps);
    this.schedule = ddpmSchedule(config);
  }

  override addNoise(original: Float32Array, noise: Float32Array, stepIndex: number): Float32Array {
    checkStepIndex(this.name, stepIndex, this.timesteps.length);
    return addNoiseAt(vpLevel(alphaProdAt(this.schedule, this.timesteps[stepIndex])), original, noise);
  }
}
