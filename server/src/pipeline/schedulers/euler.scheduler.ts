// diffusers' EulerDiscreteScheduler (k-diffusion "Euler") with s_churn = 0.
// Arithmetic mirrors diffusers' float32 tensors (Math.fround after each operation) so latents track the reference.
import { alphasCumprod, spacedTimesteps } from './scheduler.js';
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

class EulerScheduler implements Scheduler {
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
      throw new Error(`Euler step: model output has ${modelOutput.length} values, sample has ${sample.length}`);
    }
    const sigma = this.sigmaAt(stepIndex);
    const sigmaNext = this.sigmas[stepIndex + 1];
    // diffusers draws the churn noise every step even though s_churn = 0 multiplies it away; drawing it here keeps
    // the generator where diffusers' is, so later draws (and other samplers sharing the seed) line up.
    rng.randn(sample.length);

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
    const dt = f32(sigmaNext - sigma);
    const prevSample = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const derivative = f32(f32(sample[i] - predOriginal[i]) / sigma);
      prevSample[i] = sample[i] + f32(derivative * dt);
    }
    return { prevSample, predOriginal };
  }

  addNoise(original: Float32Array, noise: Float32Array, stepIndex: number): Float32Array {
    const sigma = this.sigmaAt(stepIndex);
    return original.map((x, i) => x + f32(noise[i] * sigma));
  }

  private sigmaAt(stepIndex: number): number {
    if (!Number.isInteger(stepIndex) || stepIndex < 0 || stepIndex >= this.timesteps.length) {
      throw new Error(`Euler: step index ${stepIndex} is outside 0..${this.timesteps.length - 1}`);
    }
    return this.sigmas[stepIndex];
  }
}

/** diffusers' EulerDiscreteScheduler default when the config names no spacing. */
const DEFAULT_SPACING = 'linspace';

export function createEulerScheduler(config: SchedulerConfig, steps: number): Scheduler & { readonly sigmas: number[] } {
  if (config.use_karras_sigmas) throw new Error('Euler: use_karras_sigmas is not supported yet');
  if (config.interpolation_type !== 'linear') throw new Error(`Euler: interpolation_type "${config.interpolation_type}" is not supported yet`);
  const spacing = config.timestep_spacing ?? DEFAULT_SPACING;
  const timesteps = spacedTimesteps(config, steps, spacing);
  const sigmas = [...interpolateSigmas(trainingSigmas(config), timesteps), 0];
  return new EulerScheduler(timesteps, sigmas, config.prediction_type, spacing === 'leading');
}
