// Schedule pieces shared by the schedulers: the k-diffusion sigma-space helpers (Euler a, Heun), integer
// timesteps as DPMSolverMultistep and UniPCMultistep space them, Karras sigmas with their timesteps found back by
// log-σ interpolation, and the VP view of a sigma (DPM++, UniPC). diffusers computes the schedule in NumPy
// (float64 unless the input is float32) and steps in float32 torch tensors; the rounding below follows each.
import { interpolateSigmas, trainingSigmas } from './euler.scheduler.js';
import { roundHalfEven, spacedTimesteps } from './scheduler.js';
import type { SchedulerConfig } from './scheduler.js';

const f32 = Math.fround;

/** np.linspace(start, stop, count): i·step from the start, the last value exactly `stop`; one value is `start`. */
export function numpyLinspace(start: number, stop: number, count: number): number[] {
  if (count === 1) return [start];
  const step = (stop - start) / (count - 1);
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(i === count - 1 ? stop : i * step + start);
  return out;
}

function checkSteps(steps: number, total: number): void {
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`number of steps must be a positive integer, got ${steps}`);
  if (steps > total) throw new Error(`cannot take ${steps} steps: the model was trained with ${total} timesteps`);
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
export interface VpPoint {
  alpha: number;
  sigmaT: number;
  lambda: number;
}

export function vpPoint(sigma: number): VpPoint {
  const alpha = f32(1 / f32(Math.sqrt(f32(f32(sigma * sigma) + 1))));
  const sigmaT = f32(sigma * alpha);
  return { alpha, sigmaT, lambda: f32(f32(Math.log(alpha)) - f32(Math.log(sigmaT))) };
}

/** x0 from the model output in VP space: ε → (x − σ_t·ε)/α, v → α·x − σ_t·v. */
export function vpPredictOriginal(
  modelOutput: Float32Array,
  sample: Float32Array,
  point: VpPoint,
  predictionType: SchedulerConfig['prediction_type'],
): Float32Array {
  const { alpha, sigmaT } = point;
  const out = new Float32Array(sample.length);
  if (predictionType === 'epsilon') {
    for (let i = 0; i < out.length; i++) out[i] = f32(sample[i] - f32(sigmaT * modelOutput[i])) / alpha;
  } else {
    for (let i = 0; i < out.length; i++) out[i] = f32(alpha * sample[i]) - f32(sigmaT * modelOutput[i]);
  }
  return out;
}

/** img2img for the VP schedulers (diffusers' add_noise there): α·x0 + σ_t·ε at the sigma of the step. */
export function vpAddNoise(original: Float32Array, noise: Float32Array, sigma: number): Float32Array {
  const { alpha, sigmaT } = vpPoint(sigma);
  return original.map((x, i) => f32(alpha * x) + f32(sigmaT * noise[i]));
}

// ---- sigma (k-diffusion) family --------------------------------------------------------------------------------

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
