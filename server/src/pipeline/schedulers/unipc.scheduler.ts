// diffusers' UniPCMultistepScheduler with its SD defaults: predict_x0, solver_type "bh2" (B(h) = e^h − 1 in
// the −λ direction), solver_order 2, lower_order_final. Same VP sample space and σ schedule as DPM++ 2M.
// Each call first corrects the sample the previous call predicted (UniC, using the UNet output just computed at
// that sample), then predicts the next sample from the corrected one (UniP). The corrected sample never leaves
// the scheduler: the loop only sees predictions, as in diffusers.
// Arithmetic mirrors diffusers' float32 tensors (Math.fround after each operation) so latents track the reference.
import { predictOriginal } from './ddpm-math.js';
import type { Scheduler, SchedulerConfig, SchedulerStepResult } from './scheduler.js';
import { multistepSchedule, VpSigmaScheduler, vpPoint } from './sigma-schedule.js';
import type { FinalSigmasType } from './sigma-schedule.js';

const f32 = Math.fround;
const SOLVER_ORDER = 2;

/** What the previous call leaves behind: its input sample (for the corrector), its x0s and the order it used. */
interface History {
  stepIndex: number;
  /** The sample the previous prediction started from (already corrected). */
  lastSample: Float32Array;
  /** Converted model outputs (x0), oldest first, at most SOLVER_ORDER. */
  x0s: Float32Array[];
  order: number;
}

/**
 * The B(h) coefficients shared by predictor and corrector for a step of log-SNR size h: hh = −h (predict_x0),
 * hφ₁ = e^hh − 1, B_h = e^hh − 1 (bh2), and the right-hand side b_k of diffusers' order conditions.
 */
function bhCoefficients(h: number, order: number): { hPhi1: number; bh: number; rhs: number[] } {
  const hh = f32(-h);
  const hPhi1 = f32(Math.expm1(hh));
  const bh = hPhi1;
  let hPhiK = f32(f32(hPhi1 / hh) - 1);
  let factorial = 1;
  const rhs: number[] = [];
  for (let k = 1; k <= order; k++) {
    rhs.push(f32(f32(hPhiK * factorial) / bh));
    factorial *= k + 1;
    hPhiK = f32(f32(hPhiK / hh) - f32(1 / factorial));
  }
  return { hPhi1, bh, rhs };
}

class UniPcScheduler extends VpSigmaScheduler {
  private history: History | null = null;

  override step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array): SchedulerStepResult {
    this.checkStep(modelOutput, stepIndex, sample);
    // The history belongs to the call just before; a loop that starts again (or elsewhere) starts without it.
    const history = this.history && this.history.stepIndex === stepIndex - 1 ? this.history : null;
    // diffusers converts with the uncorrected sample; the x0 kept for later steps is this one.
    const x0 = predictOriginal(this.predictionType, vpPoint(this.sigmas[stepIndex]), sample, modelOutput);
    const corrected = history ? this.correct(history, x0, sample, stepIndex) : sample;

    const x0s = [...(history?.x0s ?? []), x0].slice(-SOLVER_ORDER);
    // Warm-up: order grows with the outputs at hand; lower_order_final: the last step is first order.
    const order = Math.min(SOLVER_ORDER, this.timesteps.length - stepIndex, x0s.length);
    const prevSample = this.predict(x0s, corrected, stepIndex, order);
    this.history = { stepIndex, lastSample: corrected, x0s, order };
    return { prevSample, predOriginal: x0 };
  }

  /** UniP-`order` from σ_i to σ_{i+1}, starting at the corrected sample. */
  private predict(x0s: Float32Array[], sample: Float32Array, stepIndex: number, order: number): Float32Array {
    const here = vpPoint(this.sigmas[stepIndex]);
    const next = vpPoint(this.sigmas[stepIndex + 1]);
    const h = f32(next.lambda - here.lambda);
    const { hPhi1, bh } = bhCoefficients(h, order);
    const m0 = x0s[x0s.length - 1];
    const sampleScale = f32(next.sigmaT / here.sigmaT);
    const m0Scale = f32(next.alpha * hPhi1);
    const out = new Float32Array(sample.length);
    for (let i = 0; i < out.length; i++) out[i] = f32(sampleScale * sample[i]) - f32(m0Scale * m0[i]);
    if (order === 2) {
      // D1 = (m1 − m0)/r with r = (λ_{i−1} − λ_i)/h; diffusers fixes ρ_p = ½ at order 2.
      const m1 = x0s[x0s.length - 2];
      const r = f32(f32(vpPoint(this.sigmas[stepIndex - 1]).lambda - here.lambda) / h);
      const residualScale = f32(next.alpha * bh);
      for (let i = 0; i < out.length; i++) {
        const d1 = f32(f32(m1[i] - m0[i]) / r);
        out[i] = f32(out[i] - f32(residualScale * f32(0.5 * d1)));
      }
    }
    return out;
  }

  /**
   * UniC with the previous call's order: redoes the step σ_{i−1} → σ_i from the previous input sample, adding
   * the new x0 as one more point (ρ_c = ½ at order 1, else solved from the order conditions).
   */
  private correct(history: History, x0: Float32Array, predicted: Float32Array, stepIndex: number): Float32Array {
    const order = history.order;
    const here = vpPoint(this.sigmas[stepIndex]);
    const before = vpPoint(this.sigmas[stepIndex - 1]);
    const h = f32(here.lambda - before.lambda);
    const { hPhi1, bh, rhs } = bhCoefficients(h, order);
    const m0 = history.x0s[history.x0s.length - 1];
    const sampleScale = f32(here.sigmaT / before.sigmaT);
    const m0Scale = f32(here.alpha * hPhi1);
    const residualScale = f32(here.alpha * bh);
    const x = history.lastSample;

    let rhoOlder = 0;
    let rhoNew = 0.5;
    let r = 1;
    let m1: Float32Array | null = null;
    if (order === 2) {
      m1 = history.x0s[history.x0s.length - 2];
      r = f32(f32(vpPoint(this.sigmas[stepIndex - 2]).lambda - before.lambda) / h);
      // R·ρ = b with R = [[1, 1], [r, 1]] (powers 0 and 1 of [r, 1]).
      rhoOlder = f32((rhs[0] - rhs[1]) / (1 - r));
      rhoNew = f32(rhs[0] - rhoOlder);
    }
    const out = new Float32Array(predicted.length);
    for (let i = 0; i < out.length; i++) {
      const base = f32(f32(sampleScale * x[i]) - f32(m0Scale * m0[i]));
      const older = m1 ? f32(rhoOlder * f32(f32(m1[i] - m0[i]) / r)) : 0;
      const residual = f32(older + f32(rhoNew * f32(x0[i] - m0[i])));
      out[i] = f32(base - f32(residualScale * residual));
    }
    return out;
  }
}

export interface UniPcOptions {
  /** Karras sigmas; defaults to the config's use_karras_sigmas. */
  karras?: boolean;
  /** "sigma_min" (default: diffusers 0.24 and the reference data) or "zero". */
  finalSigmasType?: FinalSigmasType;
}

export function createUniPcScheduler(config: SchedulerConfig, steps: number, options: UniPcOptions = {}): Scheduler & { readonly sigmas: number[] } {
  const karras = options.karras ?? config.use_karras_sigmas;
  const { timesteps, sigmas } = multistepSchedule(config, steps, karras, options.finalSigmasType ?? 'sigma_min');
  return new UniPcScheduler('UniPC', timesteps, sigmas, config.prediction_type);
}
