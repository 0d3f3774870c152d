// diffusers' DPMSolverMultistepScheduler as "DPM++ 2M": algorithm_type "dpmsolver++", solver_order 2,
// solver_type "midpoint", lower_order_final. The sample lives in VP space (init_noise_sigma 1, no input scaling);
// each step predicts x0 and takes an exponential-integrator step in λ = ln(α/σ_t), second order from the second
// step on, using the previous x0 as well. "Karras" swaps the spacing for Karras sigmas.
// Arithmetic mirrors diffusers' float32 tensors (Math.fround after each operation) so latents track the reference.
import { predictOriginal } from './ddpm-math.js';
import type { Scheduler, SchedulerConfig, SchedulerStepResult } from './scheduler.js';
import { multistepSchedule, VpSigmaScheduler, vpPoint } from './sigma-schedule.js';
import type { FinalSigmasType } from './sigma-schedule.js';

const f32 = Math.fround;

export interface DpmSolverOptions {
  karras: boolean;
  finalSigmasType?: FinalSigmasType;
}

/** Below this many steps diffusers drops to first order for the last step (lower_order_final). */
const LOWER_ORDER_FINAL_BELOW = 15;

class DpmSolverMultistepScheduler extends VpSigmaScheduler {
  /** x0 predicted at the previous step, for the second-order update. */
  private previousX0: Float32Array | null = null;
  private nextStepIndex: number | null = null;

  constructor(
    timesteps: number[],
    sigmas: number[],
    predictionType: SchedulerConfig['prediction_type'],
    private readonly firstOrderLastStep: boolean,
  ) {
    super('DPM++ 2M', timesteps, sigmas, predictionType);
  }

  override step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array): SchedulerStepResult {
    this.checkStep(modelOutput, stepIndex, sample);
    // The history belongs to the step just before; a loop that starts again (or elsewhere) starts at first order.
    if (this.nextStepIndex !== stepIndex) this.previousX0 = null;
    const here = vpPoint(this.sigmas[stepIndex]);
    const next = vpPoint(this.sigmas[stepIndex + 1]);
    const x0 = predictOriginal(this.predictionType, here, sample, modelOutput);

    const h = f32(next.lambda - here.lambda);
    const sampleScale = f32(next.sigmaT / here.sigmaT);
    const x0Scale = f32(next.alpha * f32(f32(Math.exp(-h)) - 1));
    const isLast = stepIndex === this.timesteps.length - 1;
    const previous = isLast && this.firstOrderLastStep ? null : this.previousX0;

    const prevSample = new Float32Array(sample.length);
    if (!previous) {
      for (let i = 0; i < sample.length; i++) prevSample[i] = f32(sampleScale * sample[i]) - f32(x0Scale * x0[i]);
    } else {
      // Midpoint rule: D1 = (x0 − x0_prev)/r with r = h_prev/h, weighted by ½.
      const before = vpPoint(this.sigmas[stepIndex - 1]);
      const r = f32(f32(here.lambda - before.lambda) / h);
      const inverseR = f32(1 / r);
      const halfX0Scale = f32(0.5 * x0Scale);
      for (let i = 0; i < sample.length; i++) {
        const d1 = f32(inverseR * f32(x0[i] - previous[i]));
        prevSample[i] = f32(f32(sampleScale * sample[i]) - f32(x0Scale * x0[i])) - f32(halfX0Scale * d1);
      }
    }
    this.previousX0 = x0;
    this.nextStepIndex = stepIndex + 1;
    return { prevSample, predOriginal: x0 };
  }
}

export function createDpmSolverMultistepScheduler(
  config: SchedulerConfig,
  steps: number,
  options: DpmSolverOptions,
): Scheduler & { readonly sigmas: number[] } {
  const finalSigmasType = options.finalSigmasType ?? 'sigma_min';
  const { timesteps, sigmas } = multistepSchedule(config, steps, options.karras, finalSigmasType);
  const firstOrderLastStep = timesteps.length < LOWER_ORDER_FINAL_BELOW || finalSigmasType === 'zero';
  return new DpmSolverMultistepScheduler(timesteps, sigmas, config.prediction_type, firstOrderLastStep);
}

/** "DPM++ 2M": the config's spacing (DPMSolverMultistep's default: linspace), never Karras sigmas. */
export function createDpmpp2mScheduler(config: SchedulerConfig, steps: number): Scheduler & { readonly sigmas: number[] } {
  return createDpmSolverMultistepScheduler(config, steps, { karras: false });
}

/** "DPM++ 2M Karras": use_karras_sigmas = true. */
export function createDpmpp2mKarrasScheduler(config: SchedulerConfig, steps: number): Scheduler & { readonly sigmas: number[] } {
  return createDpmSolverMultistepScheduler(config, steps, { karras: true });
}
