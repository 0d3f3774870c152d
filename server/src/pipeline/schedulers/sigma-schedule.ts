// Schedule pieces shared by the schedulers: training sigmas and their interpolation, the k-diffusion sigma family
// (Euler, Euler a, LMS, Heun: schedule, input scaling, x0, add_noise), integer timesteps as DPMSolverMultistep and
// UniPCMultistep space them, Karras sigmas with their timesteps found back by log-σ interpolation, and the VP view
// of a sigma (DPM++, UniPC). diffusers computes the schedule in NumPy (float64 unless the input is float32) and
// steps in float32 torch tensors; the rounding below follows each.
import { addNoiseAt, VpScheduler } from './ddpm-math.js';
import type { VpLevel } from './ddpm-math.js';
import { alphasCumprod, checkStepIndex, checkSteps, roundHalfEven, spacedTimesteps } from './scheduler.js';
import type { NoiseSource, Scheduler, SchedulerConfig, SchedulerStepResult } from './scheduler.js';

const f32 = Math.fround;

/** σ(t) = √((1 − ᾱ_t)/ᾱ_t) for every training timestep, in float32 like diffusers. */
export function trainingSigmas(config: SchedulerConfig): Float64Array {
  return alphasCumprod(config).map((a) => f32(Math.sqrt(f32(f32(1 - a) / a))));
}

/** np.interp of the training sigmas at (possibly fractional) timesteps. */
export function interpolateSigmas(trained: Float64Array, timesteps: readonly number[]): number[] {
  const last = trained.length - 1;
  return timesteps.map((t) => {
    if (t <= 0) return f32(trained[0]);
    if (t >= last) return f32(trained[last]);
    const lower = Math.floor(t);
    const slope = trained[lower + 1] - trained[lower];
    return f32(slope * (t - lower) + trained[lower]);
  });
}

/** np.linspace(start, stop, count): i·step from the start, the last value exactly `stop`; one value is `start`. */
export function numpyLinspace(start: number, stop: number, count: number): number[] {
  if (count === 1) return [start];
  const step = (stop - start) / (count - 1);
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(i === count - 1 ? stop : i * step + start);
  return out;
}

/**
 * Integer timesteps, descending, as DPMSolverMultistep / UniPCMultistep space them. They differ from
 * `spacedTimesteps`: linspace takes N+1 rounded points and drops the last (999, 899, …, 100 for N=10), and leading
 * divides by N+1.
 */
export function multistepTimesteps(config: SchedulerConfig, steps: number): number[] {
  const total = config.num_train_timesteps;
  checkSteps(steps, total);
  const spacing = config.timestep_spacing ?? 'linspace';
  if (spacing === 'trailing') return spacedTimesteps(config, steps, spacing);
  if (spacing === 'leading') {
    const ratio = Math.floor(total / (steps + 1));
    const out: number[] = [];
    for (let i = steps; i >= 1; i--) out.push(i * ratio + config.steps_offset);
    return out;
  }
  return numpyLinspace(0, total - 1, steps + 1)
    .map(roundHalfEven)
    .reverse()
    .slice(0, steps);
}

/**
 * Karras et al. (2022) sigmas, ρ = 7, from σ_max down to σ_min in `steps` values (float64, as NumPy computes them;
 * the caller rounds to float32 where diffusers does).
 */
export function karrasSigmas(sigmaMin: number, sigmaMax: number, steps: number): number[] {
  const rho = 7;
  const minInvRho = sigmaMin ** (1 / rho);
  const maxInvRho = sigmaMax ** (1 / rho);
  return numpyLinspace(0, 1, steps).map((ramp) => (maxInvRho + ramp * (minInvRho - maxInvRho)) ** rho);
}

/** ln σ for every training timestep, float32 like np.log of diffusers' float32 sigmas. */
export function logSigmas(trainingSigmas: Float64Array): Float64Array {
  return trainingSigmas.map((s) => f32(Math.log(s)));
}

/**
 * diffusers' `_sigma_to_t`: the fractional timestep whose log-σ matches, interpolated between the two training
 * timesteps around it and clamped to the training range. NumPy 1.x keeps the arithmetic in float32 (the float32
 * log table wins over the float64 scalar); the final blend with the integer indices is float64.
 */
export function sigmaToTimestep(sigma: number, logTable: Float64Array): number {
  const logSigma = f32(Math.log(Math.max(sigma, 1e-10)));
  let low = 0;
  for (let i = 0; i < logTable.length; i++) if (logSigma - logTable[i] >= 0) low = i;
  low = Math.min(low, logTable.length - 2);
  const lowLog = logTable[low];
  const highLog = logTable[low + 1];
  const w = Math.min(Math.max(f32(f32(lowLog - logSigma) / f32(lowLog - highLog)), 0), 1);
  return (1 - w) * low + w * (low + 1);
}

/** Karras sigmas for `steps` steps between the training extremes, with their rounded timesteps. */
export function karrasSchedule(trainingSigmas: Float64Array, steps: number): { timesteps: number[]; sigmas: number[] } {
  checkSteps(steps, trainingSigmas.length);
  const sigmas = karrasSigmas(trainingSigmas[0], trainingSigmas[trainingSigmas.length - 1], steps);
  const table = logSigmas(trainingSigmas);
  return { timesteps: sigmas.map((s) => roundHalfEven(sigmaToTimestep(s, table))), sigmas: sigmas.map(f32) };
}

/**
 * Where the last step lands. "sigma_min": the training σ_min, as diffusers 0.24 (which made the reference data)
 * always does; "zero": σ = 0, newer diffusers' DPMSolverMultistep default (its last step is then first order).
 */
export type FinalSigmasType = 'sigma_min' | 'zero';

/**
 * The σ schedule of DPMSolverMultistep / UniPCMultistep: spaced integer timesteps with their training σ, or Karras
 * sigmas with rounded timesteps, then the final σ (σ_min: the training σ(0), or the last Karras σ; or zero).
 */
export function multistepSchedule(
  config: SchedulerConfig,
  steps: number,
  karras: boolean,
  finalSigmasType: FinalSigmasType,
): { timesteps: number[]; sigmas: number[] } {
  const trained = trainingSigmas(config);
  if (karras) {
    const { timesteps, sigmas } = karrasSchedule(trained, steps);
    return { timesteps, sigmas: [...sigmas, finalSigmasType === 'zero' ? 0 : sigmas[sigmas.length - 1]] };
  }
  const timesteps = multistepTimesteps(config, steps);
  return { timesteps, sigmas: [...interpolateSigmas(trained, timesteps), finalSigmasType === 'zero' ? 0 : trained[0]] };
}

/** The VP view of a sigma, float32: α = 1/√(σ²+1), σ_t = σ·α, λ = ln α − ln σ_t. */
export interface VpPoint extends VpLevel {
  lambda: number;
}

export function vpPoint(sigma: number): VpPoint {
  const alpha = f32(1 / f32(Math.sqrt(f32(f32(sigma * sigma) + 1))));
  const sigmaT = f32(sigma * alpha);
  return { alpha, sigmaT, lambda: f32(f32(Math.log(alpha)) - f32(Math.log(sigmaT))) };
}

/** DPM++ 2M and UniPC: VP samples on a σ schedule, add_noise α·x0 + σ_t·ε at the σ of `stepIndex` (diffusers'). */
export abstract class VpSigmaScheduler extends VpScheduler {
  constructor(
    name: string,
    timesteps: number[],
    /** One σ per timestep, then the final σ. */
    readonly sigmas: number[],
    protected readonly predictionType: SchedulerConfig['prediction_type'],
  ) {
    super(name, timesteps);
  }

  override addNoise(original: Float32Array, noise: Float32Array, stepIndex: number): Float32Array {
    checkStepIndex(this.name, stepIndex, this.timesteps.length);
    return addNoiseAt(vpPoint(this.sigmas[stepIndex]), original, noise);
  }
}

// ---- sigma (k-diffusion) family --------------------------------------------------------------------------------

/** The default spacing of EulerDiscrete, EulerAncestralDiscrete, LMSDiscrete and HeunDiscrete in diffusers. */
const SIGMA_FAMILY_SPACING = 'linspace';

/**
 * The schedule of the sigma family: timesteps with the config's spacing (else linspace), σ interpolated at each,
 * then a final 0; `leadingSpacing` decides init_noise_sigma.
 */
export function sigmaSchedule(config: SchedulerConfig, steps: number): { timesteps: number[]; sigmas: number[]; leadingSpacing: boolean } {
  const spacing = config.timestep_spacing ?? SIGMA_FAMILY_SPACING;
  const timesteps = spacedTimesteps(config, steps, spacing);
  const sigmas = [...interpolateSigmas(trainingSigmas(config), timesteps), 0];
  return { timesteps, sigmas, leadingSpacing: spacing === 'leading' };
}

/** diffusers' init_noise_sigma for the sigma family: σ_max for linspace/trailing, √(σ_max² + 1) for leading. */
export function sigmaInitNoise(sigmas: readonly number[], leadingSpacing: boolean): number {
  const maxSigma = Math.max(...sigmas);
  return leadingSpacing ? f32(Math.sqrt(f32(f32(maxSigma * maxSigma) + 1))) : maxSigma;
}

/** scale_model_input of the sigma family: x / √(σ² + 1), a new array. */
export function sigmaScaleInput(sample: Float32Array, sigma: number): Float32Array {
  const scale = f32(Math.sqrt(f32(f32(sigma * sigma) + 1)));
  return sample.map((x) => x / scale);
}

/** x0 at σ: ε → x − σ·ε, v → v·(−σ/√(σ²+1)) + x/(σ²+1). */
export function sigmaPredictOriginal(
  modelOutput: Float32Array,
  sample: Float32Array,
  sigma: number,
  predictionType: SchedulerConfig['prediction_type'],
): Float32Array {
  const out = new Float32Array(sample.length);
  if (predictionType === 'epsilon') {
    for (let i = 0; i < out.length; i++) out[i] = sample[i] - f32(sigma * modelOutput[i]);
  } else {
    const sigmaSqPlusOne = f32(f32(sigma * sigma) + 1);
    const outScale = f32(-sigma / f32(Math.sqrt(sigmaSqPlusOne)));
    for (let i = 0; i < out.length; i++) out[i] = f32(modelOutput[i] * outScale) + f32(sample[i] / sigmaSqPlusOne);
  }
  return out;
}

/** img2img for the sigma family: x0 + σ·ε. */
export function sigmaAddNoise(original: Float32Array, noise: Float32Array, sigma: number): Float32Array {
  return original.map((x, i) => x + f32(noise[i] * sigma));
}

/**
 * What Euler, Euler a, LMS and Heun share as Schedulers (the same code in each diffusers class): init_noise_sigma
 * from σ_max, and scale_model_input and add_noise at the σ of `stepIndex`.
 */
export abstract class SigmaScheduler implements Scheduler {
  /** diffusers' order: 1, except Heun's 2. */
  readonly order: number = 1;
  readonly initNoiseSigma: number;

  constructor(
    /** Names the scheduler in errors. */
    protected readonly name: string,
    readonly timesteps: number[],
    /** One σ per call, then a final 0. */
    readonly sigmas: number[],
    protected readonly predictionType: SchedulerConfig['prediction_type'],
    leadingSpacing: boolean,
  ) {
    this.initNoiseSigma = sigmaInitNoise(sigmas, leadingSpacing);
  }

  abstract step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array, rng: NoiseSource): SchedulerStepResult;

  scaleModelInput(sample: Float32Array, stepIndex: number): Float32Array {
    return sigmaScaleInput(sample, this.sigmaAt(stepIndex));
  }

  addNoise(original: Float32Array, noise: Float32Array, stepIndex: number): Float32Array {
    return sigmaAddNoise(original, noise, this.sigmaAt(stepIndex));
  }

  /** σ of call `stepIndex`, after checking the index. */
  protected sigmaAt(stepIndex: number): number {
    checkStepIndex(this.name, stepIndex, this.timesteps.length);
    return this.sigmas[stepIndex];
  }
}
