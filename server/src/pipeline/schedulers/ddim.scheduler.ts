// diffusers' DDIMScheduler with eta = 0 (what StableDiffusionPipeline uses unless told otherwise): deterministic,
// so it never draws from the generator. Arithmetic mirrors diffusers' float32 tensors (Math.fround per operation).
import {
  addNoiseAt,
  alphaProdAt,
  clipPredOriginal,
  DdpmScheduler,
  epsilonFromVelocity,
  integerTimesteps,
  predictOriginal,
  vpLevel,
} from './ddpm-math.js';
import type { NoiseSource, Scheduler, SchedulerConfig, SchedulerStepResult } from './scheduler.js';

/** diffusers' DDIMScheduler default when the config names no spacing. */
const DEFAULT_SPACING = 'leading';

class DdimScheduler extends DdpmScheduler {
  /** `stride` is T // N: diffusers steps back by this much whatever the spacing, so trailing/linspace do too. */
  constructor(timesteps: number[], config: SchedulerConfig, private readonly stride: number) {
    super('DDIM', timesteps, config);
  }

  override step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array, _rng: NoiseSource): SchedulerStepResult {
    this.checkStep(modelOutput, stepIndex, sample);
    const timestep = this.timesteps[stepIndex];
    const level = vpLevel(alphaProdAt(this.schedule, timestep));
    const levelPrev = vpLevel(alphaProdAt(this.schedule, timestep - this.stride));

    const predOriginal = predictOriginal(this.config.prediction_type, level, sample, modelOutput);
    const epsilon =
      this.config.prediction_type === 'epsilon' ? modelOutput : epsilonFromVelocity(level, sample, modelOutput);
    clipPredOriginal(predOriginal, this.config);
    // With eta = 0 the DDIM σ_t is 0: x_prev = √ᾱ_prev·x0 + √(1 − ᾱ_prev)·ε, x0 noised to ᾱ_prev with the model's ε.
    // diffusers does not re-derive ε from the clipped x0 (use_clipped_model_output is off in the SD pipelines), so
    // neither do we.
    return { prevSample: addNoiseAt(levelPrev, predOriginal, epsilon), predOriginal };
  }
}

export function createDdimScheduler(config: SchedulerConfig, steps: number): Scheduler {
  const timesteps = integerTimesteps(config, steps, DEFAULT_SPACING);
  return new DdimScheduler(timesteps, config, Math.floor(config.num_train_timesteps / steps));
}
