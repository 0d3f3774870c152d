// diffusers' EulerAncestralDiscreteScheduler (k-diffusion "Euler a"): an Euler step down to σ_down, then fresh
// noise of size σ_up, so the sample lands at σ_next with part of its noise renewed.
// Arithmetic mirrors diffusers' float32 tensors (Math.fround after each operation) so latents track the reference.
import { checkSameLength } from './scheduler.js';
import type { NoiseSource, Scheduler, SchedulerConfig, SchedulerStepResult } from './scheduler.js';
import { SigmaScheduler, sigmaPredictOriginal, sigmaSchedule } from './sigma-schedule.js';

const f32 = Math.fround;

class EulerAncestralScheduler extends SigmaScheduler {
  override step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array, rng: NoiseSource): SchedulerStepResult {
    checkSameLength('Euler a', modelOutput, sample);
    const sigma = this.sigmaAt(stepIndex);
    const sigmaNext = this.sigmas[stepIndex + 1];
    const predOriginal = sigmaPredictOriginal(modelOutput, sample, sigma, this.predictionType);

    const sigmaSq = f32(sigma * sigma);
    const nextSq = f32(sigmaNext * sigmaNext);
    const sigmaUp = f32(Math.sqrt(f32(f32(nextSq * f32(sigmaSq - nextSq)) / sigmaSq)));
    const sigmaDown = f32(Math.sqrt(f32(nextSq - f32(sigmaUp * sigmaUp))));
    const dt = f32(sigmaDown - sigma);
    // diffusers draws after the deterministic part, every step (the last one too, where σ_up = 0), so the
    // generator advances by one latent-sized draw per step.
    const noise = rng.randn(sample.length);
    if (noise.length !== sample.length) throw new Error(`Euler a: the noise source gave ${noise.length} values for ${sample.length}`);

    const prevSample = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const derivative = f32(f32(sample[i] - predOriginal[i]) / sigma);
      prevSample[i] = f32(sample[i] + f32(derivative * dt)) + f32(noise[i] * sigmaUp);
    }
    return { prevSample, predOriginal };
  }
}

export function createEulerAncestralScheduler(config: SchedulerConfig, steps: number): Scheduler & { readonly sigmas: number[] } {
  if (config.use_karras_sigmas) throw new Error('Euler a: use_karras_sigmas is not supported');
  const { timesteps, sigmas, leadingSpacing } = sigmaSchedule(config, steps);
  return new EulerAncestralScheduler('Euler a', timesteps, sigmas, config.prediction_type, leadingSpacing);
}
