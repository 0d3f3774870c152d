// diffusers' DDIMScheduler with eta = 0 (what StableDiffusionPipeline uses unless told otherwise): deterministic,
// so it never draws from the generator. Arithmetic mirrors diffusers' float32 tensors (Math.fround per operation).
import {
  addNoiseAtAlpha,
  alphaProdAt,
  checkSameLength,
  checkStepIndex,
  ddpmSchedule,
  epsilonFromVelocity,
  integerTimesteps,
  predictOriginal,
  sqrt32,
} from './ddpm-math.js';
import type { DdpmSchedule } from './ddpm-math.js';
import type { NoiseSource, Scheduler, SchedulerConfig, SchedulerStepResult } from './scheduler.js';

const f32 = Math.fround;

/** diffusers' DDIMScheduler default when the config names no spacing. */
const DEFAULT_SPACING = 'leading';

class DdimScheduler implements Scheduler {
  readonly order = 1;
  readonly initNoiseSigma = 1;

  constructor(
    readonly timesteps: number[],
    private readonly schedule: DdpmSchedule,
    private readonly config: SchedulerConfig,
    /** T // N: diffusers steps back by this much whatever the spacing, so trailing/linspace do too. */
    private readonly stride: number,
  ) {}

  scaleModelInput(sample: Float32Array, stepIndex: number): Float32Array {
    checkStepIndex('DDIM', stepIndex, this.timesteps.length);
    return sample.slice();
  }

  step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array, _rng: NoiseSource): SchedulerStepResult {
    checkStepIndex('DDIM', stepIndex, this.timesteps.length);
    checkSameLength('DDIM', modelOutput, sample);
    const timestep = this.timesteps[stepIndex];
    const alphaProd = alphaProdAt(this.schedule, timestep);
    const alphaProdPrev = alphaProdAt(this.schedule, timestep - this.stride);

    const predOriginal = predictOriginal(this.config.prediction_type, alphaProd, sample, modelOutput);
    const epsilon =
      this.config.prediction_type === 'epsilon' ? modelOutput : epsilonFromVelocity(alphaProd, sample, modelOutput);
    if (this.config.clip_sample) {
      const range = this.config.clip_sample_range;
      for (let i = 0; i < predOriginal.length; i++) predOriginal[i] = Math.min(range, Math.max(-range, predOriginal[i]));
    }
    // With eta = 0 the DDIM σ_t is 0: x_prev = √ᾱ_prev·x0 + √(1 − ᾱ_prev)·ε. diffusers does not re-derive ε from the
    // clipped x0 (use_clipped_model_output is off in the SD pipelines), so neither do we.
    const signal = sqrt32(alphaProdPrev);
    const direction = sqrt32(f32(1 - alphaProdPrev));
    const prevSample = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) prevSample[i] = f32(signal * predOriginal[i]) + f32(direction * epsilon[i]);
    return { prevSample, predOriginal };
  }

  addNoise(original: Float32Array, noise: Float32Array, stepIndex: number): Float32Array {
    checkStepIndex('DDIM', stepIndex, this.timesteps.length);
    return addNoiseAtAlpha(alphaProdAt(this.schedule, this.timesteps[stepIndex]), original, noise);
  }
}

export function createDdimScheduler(config: SchedulerConfig, steps: number): Scheduler {
  const timesteps = integerTimesteps(config, steps, DEFAULT_SPACING);
  return new DdimScheduler(timesteps, ddpmSchedule(config), config, Math.floor(config.num_train_timesteps / steps));
}
