// diffusers' EulerAncestralDiscreteScheduler (k-diffusion "Euler a"): an Euler step down to σ_down, then fresh
// noise of size σ_up, so the sample lands at σ_next with part of its noise renewed.
// Arithmetic mirrors diffusers' float32 tensors (Math.fround after each operation) so latents track the reference.
import { interpolateSigmas, trainingSigmas } from './euler.scheduler.js';
import { spacedTimesteps } from './scheduler.js';
import type { NoiseSource, Scheduler, SchedulerConfig, SchedulerStepResult } from './scheduler.js';

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
    const maxSigma = Math.max(...sigmas);
    // diffusers: σ_max for linspace/trailing, √(σ_max² + 1) for leading.
    this.initNoiseSigma = leadingSpacing ? f32(Math.sqrt(f32(f32(maxSigma * maxSigma) + 1))) : maxSigma;
  }

  scaleModelInput(sample: Float32Array, stepIndex: number): Float32Array {
    const sigma = this.sigmaAt(stepIndex);
    const scale = f32(Math.sqrt(f32(f32(sigma * sigma) + 1)));
    return sample.map((x) => x / scale);
  }

  step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array, rng: NoiseSource): SchedulerStepResult {
    if (modelOutput.length !== sample.length) {
      throw new Error(`Euler a step: model output has ${modelOutput.length} values, sample has ${sample.length}`);
    }
    const sigma = this.sigmaAt(stepIndex);
    const sigmaNext = this.sigmas[stepIndex + 1];

    const predOriginal = new Float32Array(sample.length);
    if (this.predictionType === 'epsilon') {
      for (let i = 0; i < sample.length; i++) predOriginal[i] = sample[i] - f32(sigma * modelOutput[i]);
    } else {
      const sigmaSqPlusOne = f32(f32(sigma * sigma) + 1);
      const outScale = f32(-sigma / f32(Math.sqrt(sigmaSqPlusOne)));
      for (let i = 0; i < sample.length; i++) {
        predOriginal[i] = f32(modelOutput[i] * outScale) + f32(sample[i] / sigmaSqPlusOne);
      }
    }

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
    const sigma = this.sigmaAt(stepIndex);
    return original.map((x, i) => x + f32(noise[i] * sigma));
  }

  private sigmaAt(stepIndex: number): number {
    if (!Number.isInteger(stepIndex) || stepIndex < 0 || stepIndex >= this.timesteps.length) {
      throw new Error(`Euler a: step index ${stepIndex} is outside 0..${this.timesteps.length - 1}`);
    }
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
