// diffusers' HeunDiscreteScheduler (k-diffusion "Heun", Karras et al. 2022 Algorithm 1 without churn).
// Each step but the last costs two UNet calls: an Euler step to σ_next (first half), then a second evaluation there
// whose slope is averaged with the first (second half). The last step, to σ = 0, is Euler alone, so N steps make
// 2N − 1 calls. `timesteps` lists every call: [t0, t1, t1, t2, t2, …, t_{N−1}, t_{N−1}]; the step index is the
// call's position in that list, even for first halves and odd for second halves.
// Arithmetic mirrors diffusers' float32 tensors (Math.fround after each operation) so latents track the reference.
import { checkSameLength, checkStepIndex } from './scheduler.js';
import type { Scheduler, SchedulerConfig, SchedulerStepResult } from './scheduler.js';
import { SigmaScheduler, sigmaPredictOriginal, sigmaSchedule } from './sigma-schedule.js';

const f32 = Math.fround;

/** What the first half leaves for the second: the sample it started from, its slope and its σ step. */
interface FirstHalf {
  stepIndex: number;
  sample: Float32Array;
  derivative: Float32Array;
  dt: number;
}

/**
 * img2img: addNoise takes the σ of call `stepIndex`. diffusers starts Heun at call 2·t_start (scheduler.order ×
 * the first step kept), a first half whose σ is that step's.
 */
class HeunScheduler extends SigmaScheduler {
  override readonly order = 2;
  private pending: FirstHalf | null = null;

  constructor(
    timesteps: number[],
    /** σ of every call, then a final 0: [σ0, σ1, σ1, …, σ_{N−1}, σ_{N−1}, 0]. */
    sigmas: number[],
    predictionType: SchedulerConfig['prediction_type'],
    private readonly clipRange: number | null,
    leadingSpacing: boolean,
  ) {
    super('Heun', timesteps, sigmas, predictionType, leadingSpacing);
  }

  override step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array): SchedulerStepResult {
    checkStepIndex('Heun', stepIndex, this.timesteps.length);
    checkSameLength('Heun', modelOutput, sample);
    return stepIndex % 2 === 0 ? this.firstHalf(modelOutput, stepIndex, sample) : this.secondHalf(modelOutput, stepIndex, sample);
  }

  /** An Euler step from σ_i to σ_{i+1}; a new first half replaces any unfinished one (a restarted loop). */
  private firstHalf(modelOutput: Float32Array, stepIndex: number, sample: Float32Array): SchedulerStepResult {
    const sigma = this.sigmas[stepIndex];
    const dt = f32(this.sigmas[stepIndex + 1] - sigma);
    const predOriginal = this.predictOriginal(modelOutput, sample, sigma);
    const derivative = new Float32Array(sample.length);
    const prevSample = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      derivative[i] = f32(sample[i] - predOriginal[i]) / sigma;
      prevSample[i] = sample[i] + f32(derivative[i] * dt);
    }
    this.pending = { stepIndex, sample, derivative, dt };
    return { prevSample, predOriginal };
  }

  /** Re-evaluates the slope at σ_next and redoes the step from the first half's sample with the mean slope. */
  private secondHalf(modelOutput: Float32Array, stepIndex: number, sample: Float32Array): SchedulerStepResult {
    const first = this.pending;
    if (!first || first.stepIndex !== stepIndex - 1) {
      throw new Error(`Heun: call ${stepIndex} is a second half, but call ${stepIndex - 1} (its first half) did not just run`);
    }
    this.pending = null;
    const sigmaNext = this.sigmas[stepIndex];
    const predOriginal = this.predictOriginal(modelOutput, sample, sigmaNext);
    const prevSample = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const slope = f32(sample[i] - predOriginal[i]) / sigmaNext;
      const mean = f32(f32(first.derivative[i] + f32(slope)) / 2);
      prevSample[i] = first.sample[i] + f32(mean * first.dt);
    }
    return { prevSample, predOriginal };
  }

  private predictOriginal(modelOutput: Float32Array, sample: Float32Array, sigma: number): Float32Array {
    const x0 = sigmaPredictOriginal(modelOutput, sample, sigma, this.predictionType);
    const range = this.clipRange;
    if (range !== null) for (let i = 0; i < x0.length; i++) x0[i] = Math.min(Math.max(x0[i], -range), range);
    return x0;
  }
}

export function createHeunScheduler(config: SchedulerConfig, steps: number): Scheduler & { readonly sigmas: number[] } {
  if (config.use_karras_sigmas) throw new Error('Heun: use_karras_sigmas is not supported');
  const { timesteps: stepTimesteps, sigmas: stepSigmas, leadingSpacing } = sigmaSchedule(config, steps);
  // Every step after the first is visited twice (end of one step's first half, start of its second half).
  const timesteps = [stepTimesteps[0], ...stepTimesteps.slice(1).flatMap((t) => [t, t])];
  const sigmas = [stepSigmas[0], ...stepSigmas.slice(1, -1).flatMap((s) => [s, s]), 0];
  const clipRange = config.clip_sample ? config.clip_sample_range : null;
  return new HeunScheduler(timesteps, sigmas, config.prediction_type, clipRange, leadingSpacing);
}
