// diffusers' LMSDiscreteScheduler (k-diffusion "LMS"), order 4: a linear multistep method over the last four
// derivatives d = (x − x0)/σ, in the same sigma space as Euler (init_noise_sigma, scale_model_input, add_noise).
// Stateful: the derivative history grows with each call, so use a fresh scheduler per image.
import { checkFollows, checkSameLength } from './scheduler.js';
import type { NoiseSource, Scheduler, SchedulerConfig, SchedulerStepResult } from './scheduler.js';
import { SigmaScheduler, sigmaAddNoise, sigmaPredictOriginal, sigmaSchedule } from './sigma-schedule.js';

const f32 = Math.fround;

/** The order StableDiffusionPipeline runs LMS at (diffusers' `step(order=4)` default). */
const LMS_ORDER = 4;

// 3-point Gauss–Legendre on [−1, 1]: exact for polynomials up to degree 5; the LMS integrand has degree order − 1 = 3.
const GAUSS_NODES = [-Math.sqrt(3 / 5), 0, Math.sqrt(3 / 5)];
const GAUSS_WEIGHTS = [5 / 9, 8 / 9, 5 / 9];

/**
 * c = ∫ from σ_i to σ_{i+1} of the Lagrange basis polynomial that is 1 at σ_{i−j} and 0 at the other σ_{i−k},
 * k < order. diffusers integrates it with scipy's quad; the polynomial makes Gauss–Legendre exact instead.
 */
export function lmsCoefficient(sigmas: readonly number[], order: number, stepIndex: number, currentOrder: number): number {
  const basis = (tau: number): number => {
    let product = 1;
    for (let k = 0; k < order; k++) {
      if (k === currentOrder) continue;
      product *= (tau - sigmas[stepIndex - k]) / (sigmas[stepIndex - currentOrder] - sigmas[stepIndex - k]);
    }
    return product;
  };
  const from = sigmas[stepIndex];
  const to = sigmas[stepIndex + 1];
  const half = (to - from) / 2;
  const middle = (to + from) / 2;
  let integral = 0;
  for (let g = 0; g < GAUSS_NODES.length; g++) integral += GAUSS_WEIGHTS[g] * basis(middle + half * GAUSS_NODES[g]);
  return integral * half;
}

class LmsScheduler extends SigmaScheduler {
  /** Most recent last, at most LMS_ORDER entries. */
  private derivatives: Float32Array[] = [];
  private lastStepIndex: number | null = null;

  override step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array, _rng: NoiseSource): SchedulerStepResult {
    const sigma = this.sigmaAt(stepIndex);
    checkSameLength('LMS', modelOutput, sample);
    checkFollows('LMS', this.lastStepIndex, stepIndex);
    this.lastStepIndex = stepIndex;

    const predOriginal = sigmaPredictOriginal(modelOutput, sample, sigma, this.predictionType);
    const derivative = sample.map((x, i) => f32(x - predOriginal[i]) / sigma);
    this.derivatives.push(derivative);
    if (this.derivatives.length > LMS_ORDER) this.derivatives.shift();

    // diffusers takes the order from the step index, not from the history: an img2img run that starts at index
    // ≥ 3 uses 4th-order coefficients from its first step, paired (zip) with however few derivatives it has.
    const order = Math.min(stepIndex + 1, LMS_ORDER);
    const terms = Math.min(order, this.derivatives.length);
    const sum = new Float32Array(sample.length);
    for (let j = 0; j < terms; j++) {
      // torch rounds the Python-float coefficient to the tensor's float32 before multiplying.
      const coefficient = f32(lmsCoefficient(this.sigmas, order, stepIndex, j));
      const d = this.derivatives[this.derivatives.length - 1 - j];
      for (let i = 0; i < sum.length; i++) sum[i] = sum[i] + f32(coefficient * d[i]);
    }
    const prevSample = sample.map((x, i) => x + sum[i]);
    return { prevSample, predOriginal };
  }

  override addNoise(original: Float32Array, noise: Float32Array, stepIndex: number): Float32Array {
    const sigma = this.sigmaAt(stepIndex);
    checkSameLength('LMS add noise', noise, original);
    return sigmaAddNoise(original, noise, sigma);
  }
}

export function createLmsScheduler(config: SchedulerConfig, steps: number): Scheduler & { readonly sigmas: number[] } {
  if (config.use_karras_sigmas) throw new Error('LMS: use_karras_sigmas is not supported yet');
  const { timesteps, sigmas, leadingSpacing } = sigmaSchedule(config, steps);
  return new LmsScheduler('LMS', timesteps, sigmas, config.prediction_type, leadingSpacing);
}
