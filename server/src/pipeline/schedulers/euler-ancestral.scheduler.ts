// diffusers' EulerAncestralDiscreteScheduler (k-diffusion "Euler a"): an Euler step down to σ_down, then fresh
// noise of size σ_up, so the sample lands at σ_next with part of its noise renewed.
// Arithmetic mirrors diffusers' float32 tensors (Math.fround after each operation) so latents track the reference.
import { checkSameLength, checkStepIndex } from './ddpm-math.js';
import { interpolateSigmas, trainingSigmas } from './euler.scheduler.js';
import { spacedTimesteps } from './scheduler.js';
import type { NoiseSource, Scheduler, SchedulerConfig, SchedulerStepResult } from './scheduler.js';
import { sigmaAddNoise, sigmaInitNoise, sigmaPredictOriginal, sigmaScaleInput } from './sigma-schedule.js';

const f32 = Math.fround;

class EulerAncestralScheduler implements Scheduler {
  readonly order = 1;
  readonly initNoiseSigma: number;

  constructor(
    readonly timesteps: number[],
    /** One σ per timestep, then a final 0. */
    readonly sigmas: number[],
    private readonly predictionType: SchedulerConfig['prediction_type'],
    leadingSpacing: boolean,
  ) {
    this.initNoiseSigma = sigmaInitNoise(sigmas, leadingSpacing);
  }

  scaleModelInput(sample: Float32Array, stepIndex: number): Float32Array {
    return sigmaScaleInput(sample, this.sigmaAt(stepIndex));
  }

  step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array, rng: NoiseSource): SchedulerStepResult {
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

  addNoise(original: Float32Array, noise: Float32Array, stepIndex: number): Float32Array {
    return sigmaAddNoise(original, noise, this.sigmaAt(stepIndex));
  }

  private sigmaAt(stepIndex: number): number {
    checkStepIndex('Euler a', stepIndex, this.timesteps.length);
    return this.sigmas[stepIndex];
  }
}

/** diffusers' EulerAncestralDiscreteScheduler default when the config names no spacing. */
const DEFAULT_SPACING = 'linspace';

export function createEulerAncestralScheduler(config: SchedulerConfig, steps: number): Scheduler & { readonly sigmas: number[] } {
  if (config.use_karras_sigmas) throw new Error('Euler a: use_karras_sigmas is not supported');
  const spacing = config.timestep_spacing ?? DEFAULT_SPACING;
  const timesteps = spacedTimesteps(config, steps, spacing);
  const sigmas = [...interpolateSigmas(trainingSigmas(config), timesteps), 0];
  return new EulerAncestralScheduler(timesteps, sigmas, config.prediction_type, spacing === 'leading');
}
