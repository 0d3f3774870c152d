// diffusers' EulerDiscreteScheduler (k-diffusion "Euler") with s_churn = 0.
// Arithmetic mirrors diffusers' float32 tensors (Math.fround after each operation) so latents track the reference.
import { checkSameLength } from './scheduler.js';
import type { NoiseSource, Scheduler, SchedulerConfig, SchedulerStepResult } from './scheduler.js';
import { SigmaScheduler, sigmaPredictOriginal, sigmaSchedule } from './sigma-schedule.js';

const f32 = Math.fround;

class EulerScheduler extends SigmaScheduler {
  override step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array, rng: NoiseSource): SchedulerStepResult {
    checkSameLength('Euler', modelOutput, sample);
    const sigma = this.sigmaAt(stepIndex);
    const sigmaNext = this.sigmas[stepIndex + 1];
    // diffusers draws the churn noise every step even though s_churn = 0 multiplies it away; drawing it here keeps
    // the generator where diffusers' is, so later draws (and other samplers sharing the seed) line up.
    rng.randn(sample.length);

    const predOriginal = sigmaPredictOriginal(modelOutput, sample, sigma, this.predictionType);
    const dt = f32(sigmaNext - sigma);
    const prevSample = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const derivative = f32(f32(sample[i] - predOriginal[i]) / sigma);
      prevSample[i] = sample[i] + f32(derivative * dt);
    }
    return { prevSample, predOriginal };
  }
}

export function createEulerScheduler(config: SchedulerConfig, steps: number): Scheduler & { readonly sigmas: number[] } {
  if (config.use_karras_sigmas) throw new Error('Euler: use_karras_sigmas is not supported yet');
  if (config.interpolation_type !== 'linear') throw new Error(`Euler: interpolation_type "${config.interpolation_type}" is not supported yet`);
  const { timesteps, sigmas, leadingSpacing } = sigmaSchedule(config, steps);
  return new EulerScheduler('Euler', timesteps, sigmas, config.prediction_type, leadingSpacing);
}
