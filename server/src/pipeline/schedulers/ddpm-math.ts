// Shared pieces of the ᾱ-parameterised ("DDPM family") schedulers: DDIM, PNDM and LCM. They index ᾱ by integer
// timestep and keep samples in VP space (init_noise_sigma 1), unlike the sigma family (Euler, LMS).
// Arithmetic mirrors diffusers' float32 tensors: Math.fround after every operation.
import { alphasCumprod, roundHalfEven, spacedTimesteps } from './scheduler.js';
import type { PredictionType, SchedulerConfig, TimestepSpacing } from './scheduler.js';

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

/** diffusers' add_noise for this family: √ᾱ_t·x0 + √(1−ᾱ_t)·ε in float32. Returns a new array. */
export function addNoiseAtAlpha(alphaProd: number, original: Float32Array, noise: Float32Array): Float32Array {
  if (noise.length !== original.length) {
    throw new Error(`add noise: noise has ${noise.length} values, the sample has ${original.length}`);
  }
  const signal = sqrt32(alphaProd);
  const spread = sqrt32(f32(1 - alphaProd));
  return original.map((x, i) => f32(signal * x) + f32(spread * noise[i]));
}

/** x0 predicted from a UNet output at ᾱ_t: ε → (x − √(1−ᾱ)ε)/√ᾱ; v → √ᾱ·x − √(1−ᾱ)·v. */
export function predictOriginal(
  predictionType: PredictionType,
  alphaProd: number,
  sample: Float32Array,
  modelOutput: Float32Array,
): Float32Array {
  const sqrtAlpha = sqrt32(alphaProd);
  const sqrtBeta = sqrt32(f32(1 - alphaProd));
  const out = new Float32Array(sample.length);
  if (predictionType === 'epsilon') {
    for (let i = 0; i < out.length; i++) out[i] = f32(sample[i] - f32(sqrtBeta * modelOutput[i])) / sqrtAlpha;
  } else {
    for (let i = 0; i < out.length; i++) out[i] = f32(sqrtAlpha * sample[i]) - f32(sqrtBeta * modelOutput[i]);
  }
  return out;
}

/** ε from a v-prediction at ᾱ_t: √ᾱ·v + √(1−ᾱ)·x. */
export function epsilonFromVelocity(alphaProd: number, sample: Float32Array, velocity: Float32Array): Float32Array {
  const sqrtAlpha = sqrt32(alphaProd);
  const sqrtBeta = sqrt32(f32(1 - alphaProd));
  return velocity.map((v, i) => f32(sqrtAlpha * v) + f32(sqrtBeta * sample[i]));
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
