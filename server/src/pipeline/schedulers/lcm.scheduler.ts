// diffusers' LCMScheduler (latent consistency models): each step predicts x0, applies the consistency-model
// boundary condition (c_skip·x + c_out·x0), then re-noises to the next timestep with fresh noise — so every step
// but the last draws one latent-sized tensor from the generator. Arithmetic mirrors diffusers' float32 tensors.
import {
  addNoiseAt,
  alphaProdAt,
  clipPredOriginal,
  DdpmScheduler,
  predictOriginal,
  sqrt32,
  vpLevel,
} from './ddpm-math.js';
import type { NoiseSource, Scheduler, SchedulerConfig, SchedulerStepResult } from './scheduler.js';

const f32 = Math.fround;

/** LCMScheduler keys that SchedulerConfig does not carry; the defaults are diffusers' (and every LCM file's). */
export interface LcmOptions {
  /** The distillation schedule's length; inference timesteps are picked from it. */
  originalInferenceSteps?: number;
  /** Multiplies t in the boundary-condition scalings. */
  timestepScaling?: number;
}

/** σ_data of the consistency-model parameterisation (diffusers hard-codes 0.5). */
const SIGMA_DATA_SQ = 0.25;

/**
 * The distillation schedule k−1, 2k−1, …, T−1 (k = T // original steps) reversed, sampled at the indices
 * floor(linspace(0, len, N, endpoint=False)): N=4 → 999, 759, 499, 259.
 */
export function lcmTimesteps(trainTimesteps: number, steps: number, originalSteps: number): number[] {
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`number of steps must be a positive integer, got ${steps}`);
  if (!Number.isInteger(originalSteps) || originalSteps < 1 || originalSteps > trainTimesteps) {
    throw new Error(`LCM: original_inference_steps ${originalSteps} must be an integer in 1..${trainTimesteps}`);
  }
  if (steps > originalSteps) {
    throw new Error(`LCM: ${steps} steps is more than the ${originalSteps} steps of the distillation schedule`);
  }
  const k = Math.floor(trainTimesteps / originalSteps);
  const origin = Array.from({ length: originalSteps }, (_, i) => (originalSteps - i) * k - 1);
  // NumPy's linspace without endpoint: i · (len / N) in float64, then floor.
  const spacing = origin.length / steps;
  return Array.from({ length: steps }, (_, i) => origin[Math.floor(i * spacing)]);
}

class LcmScheduler extends DdpmScheduler {
  constructor(timesteps: number[], config: SchedulerConfig, private readonly timestepScaling: number) {
    super('LCM', timesteps, config);
  }

  /** predOriginal is diffusers' `denoised` (the boundary-conditioned x0): what the LCM pipeline decodes at the end. */
  override step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array, rng: NoiseSource): SchedulerStepResult {
    this.checkStep(modelOutput, stepIndex, sample);
    const timestep = this.timesteps[stepIndex];
    const isFinal = stepIndex === this.timesteps.length - 1;
    const alphaProd = alphaProdAt(this.schedule, timestep);
    const { cSkip, cOut } = this.boundaryScalings(timestep);

    const original = predictOriginal(this.config.prediction_type, vpLevel(alphaProd), sample, modelOutput);
    clipPredOriginal(original, this.config);
    const denoised = original.map((x0, i) => f32(cOut * x0) + f32(cSkip * sample[i]));
    if (isFinal) return { prevSample: denoised.slice(), predOriginal: denoised };

    // diffusers draws only on non-final steps (so a 1-step run draws nothing), after the x0 prediction.
    const noise = rng.randn(sample.length);
    const levelPrev = vpLevel(alphaProdAt(this.schedule, this.timesteps[stepIndex + 1]));
    return { prevSample: addNoiseAt(levelPrev, denoised, noise), predOriginal: denoised };
  }

  /** c_skip = σ_d²/((st)² + σ_d²), c_out = st/√((st)² + σ_d²) with s = timestep_scaling, in float32. */
  private boundaryScalings(timestep: number): { cSkip: number; cOut: number } {
    const scaled = f32(timestep * this.timestepScaling);
    const denominator = f32(f32(scaled * scaled) + SIGMA_DATA_SQ);
    return { cSkip: f32(SIGMA_DATA_SQ / denominator), cOut: f32(scaled / sqrt32(denominator)) };
  }
}

export function createLcmScheduler(config: SchedulerConfig, steps: number, options: LcmOptions = {}): Scheduler {
  const originalSteps = options.originalInferenceSteps ?? 50;
  const timestepScaling = options.timestepScaling ?? 10;
  const timesteps = lcmTimesteps(config.num_train_timesteps, steps, originalSteps);
  return new LcmScheduler(timesteps, config, timestepScaling);
}
