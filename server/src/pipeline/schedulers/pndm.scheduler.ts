// diffusers' PNDMScheduler. With skip_prk_steps (every SD config) it is PLMS: N + 1 UNet calls for N steps, the
// second timestep repeated, then Adams–Bashforth over the last four ε. Without it, 12 Runge–Kutta calls start the
// run (pseudo 4th-order RK over the first three steps), then PLMS.
//
// Stateful like diffusers: what a call does depends on how many calls this scheduler has seen (diffusers'
// `counter`), not on the step index, so use a fresh scheduler per image. The step index only picks the timestep
// passed to diffusers' `step` (the UNet's t). img2img starts at a later index with the counter at 0, exactly as
// diffusers does when the pipeline slices the timesteps; that reproduces diffusers' quirk of treating the first
// two calls after the start as the "repeated" pair even though their timesteps differ.
import {
  alphaProdAt,
  DdpmScheduler,
  epsilonFromVelocity,
  integerTimesteps,
  predictOriginal,
  sqrt32,
  vpLevel,
} from './ddpm-math.js';
import { checkFollows } from './scheduler.js';
import type { NoiseSource, Scheduler, SchedulerConfig, SchedulerStepResult } from './scheduler.js';

const f32 = Math.fround;

/** diffusers' PNDMScheduler default when the config names no spacing. */
const DEFAULT_SPACING = 'leading';
/** Runge–Kutta stages PNDM runs before switching to PLMS (4 calls for each of 3 steps). */
const PNDM_ORDER = 4;
const PRK_CALLS = 3 * PNDM_ORDER;

// float32 constants, as torch casts a Python scalar multiplier to the tensor's dtype.
const ONE_SIXTH = f32(1 / 6);
const ONE_THIRD = f32(1 / 3);
const ONE_24TH = f32(1 / 24);

/** The UNet timesteps: PRK's (when not skipped) then PLMS's, from the ascending spaced schedule. */
function pndmTimesteps(ascending: number[], skipPrk: boolean, halfStride: number): { timesteps: number[]; prkCount: number } {
  if (skipPrk) {
    // [t_0 … t_{N−2}, t_{N−2}, t_{N−1}] reversed: the second-largest timestep appears twice.
    const plms = [...ascending.slice(0, -1), ...ascending.slice(-2, -1), ...ascending.slice(-1)].reverse();
    return { timesteps: plms, prkCount: 0 };
  }
  // Each of the 4 largest timesteps, then its midpoint toward the next one, each doubled but for the ends.
  const points = ascending.slice(-PNDM_ORDER).flatMap((t) => [t, t + halfStride]).slice(0, -1);
  const prk = points.flatMap((t) => [t, t]).slice(1, -1).reverse();
  const plms = ascending.slice(0, -3).reverse();
  return { timesteps: [...prk, ...plms], prkCount: prk.length };
}

class PndmScheduler extends DdpmScheduler {
  private calls = 0;
  private lastStepIndex: number | null = null;
  /** The last four ε fed to a step (oldest first); diffusers' `ets`. */
  private ets: Float32Array[] = [];
  /** The sample the current RK step or the PLMS warm-up pair starts from. */
  private startSample: Float32Array | null = null;
  /** Running RK combination of ε (1/6, 1/3, 1/3, 1/6). */
  private rkSum: Float32Array | null = null;

  /** `prkCount`: how many of the calls are Runge–Kutta ones; `stride`: T // N. */
  constructor(timesteps: number[], private readonly prkCount: number, config: SchedulerConfig, private readonly stride: number) {
    super('PNDM', timesteps, config);
  }

  override step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array, _rng: NoiseSource): SchedulerStepResult {
    this.checkStep(modelOutput, stepIndex, sample);
    checkFollows('PNDM', this.lastStepIndex, stepIndex);
    this.lastStepIndex = stepIndex;
    const timestep = this.timesteps[stepIndex];
    // Previews: x0 from this call's own output at the sample's timestep; diffusers' PNDM returns none.
    const level = vpLevel(alphaProdAt(this.schedule, timestep));
    const predOriginal = predictOriginal(this.config.prediction_type, level, sample, modelOutput);
    const prevSample =
      this.calls < this.prkCount ? this.stepPrk(modelOutput, timestep, sample) : this.stepPlms(modelOutput, timestep, sample);
    this.calls++;
    return { prevSample, predOriginal };
  }

  private stepPrk(modelOutput: Float32Array, timestep: number, sample: Float32Array): Float32Array {
    const stage = this.calls % 4;
    // Odd calls land on the midpoint they were evaluated at; even calls step half a stride past it.
    const prevTimestep = timestep - (this.calls % 2 === 1 ? 0 : Math.floor(this.stride / 2));
    const stepStart = this.timesteps[this.calls - stage];
    let epsilon = modelOutput;
    if (stage === 0) {
      this.rkSum = modelOutput.map((e) => f32(ONE_SIXTH * e));
      this.pushEpsilon(modelOutput);
      this.startSample = sample;
    } else if (stage === 1 || stage === 2) {
      const sum = this.rkSum!;
      for (let i = 0; i < sum.length; i++) sum[i] = sum[i] + f32(ONE_THIRD * modelOutput[i]);
    } else {
      const sum = this.rkSum!;
      epsilon = sum.map((s, i) => s + f32(ONE_SIXTH * modelOutput[i]));
      this.rkSum = null;
    }
    return this.previousSample(this.startSample ?? sample, stepStart, prevTimestep, epsilon);
  }

  private stepPlms(modelOutput: Float32Array, timestep: number, sample: Float32Array): Float32Array {
    let from = timestep;
    let to = timestep - this.stride;
    let start = sample;
    // The second call re-runs the first step from its start with the two ε averaged (a Heun-like warm-up), so
    // it steps from t + stride to the timestep it was called at, and its ε joins no history.
    if (this.calls === 1) {
      to = timestep;
      from = timestep + this.stride;
    } else {
      this.pushEpsilon(modelOutput);
    }
    const e = this.ets;
    const n = e.length;
    let epsilon: Float32Array;
    if (n === 1 && this.calls === 0) {
      epsilon = modelOutput;
      this.startSample = sample;
    } else if (n === 1 && this.calls === 1) {
      epsilon = modelOutput.map((m, i) => f32(m + e[0][i]) / 2);
      start = this.startSample!;
      this.startSample = null;
    } else if (n === 2) {
      epsilon = e[1].map((e1, i) => f32(f32(3 * e1) - e[0][i]) / 2);
    } else if (n === 3) {
      epsilon = e[2].map((e2, i) => f32(f32(f32(23 * e2) - f32(16 * e[1][i])) + f32(5 * e[0][i])) / 12);
    } else {
      epsilon = e[3].map((e3, i) => {
        const combo = f32(f32(f32(f32(55 * e3) - f32(59 * e[2][i])) + f32(37 * e[1][i])) - f32(9 * e[0][i]));
        return ONE_24TH * combo;
      });
    }
    return this.previousSample(start, from, to, epsilon);
  }

  private pushEpsilon(epsilon: Float32Array): void {
    this.ets.push(epsilon);
    if (this.ets.length > PNDM_ORDER) this.ets.shift();
  }

  /** PNDM paper eq. (9), diffusers' `_get_prev_sample`: moves `sample` from ᾱ_t to ᾱ_prev along ε. */
  private previousSample(sample: Float32Array, timestep: number, prevTimestep: number, output: Float32Array): Float32Array {
    const alphaProd = alphaProdAt(this.schedule, timestep);
    const alphaProdPrev = alphaProdAt(this.schedule, prevTimestep);
    const betaProd = f32(1 - alphaProd);
    const betaProdPrev = f32(1 - alphaProdPrev);
    const epsilon =
      this.config.prediction_type === 'v_prediction' ? epsilonFromVelocity(vpLevel(alphaProd), sample, output) : output;
    const sampleCoeff = sqrt32(f32(alphaProdPrev / alphaProd));
    const denominator = f32(
      f32(alphaProd * sqrt32(betaProdPrev)) + sqrt32(f32(f32(alphaProd * betaProd) * alphaProdPrev)),
    );
    const alphaDiff = f32(alphaProdPrev - alphaProd);
    const out = new Float32Array(sample.length);
    for (let i = 0; i < out.length; i++) {
      out[i] = f32(sampleCoeff * sample[i]) - f32(f32(alphaDiff * epsilon[i]) / denominator);
    }
    return out;
  }
}

export function createPndmScheduler(config: SchedulerConfig, steps: number): Scheduler {
  const spaced = integerTimesteps(config, steps, DEFAULT_SPACING);
  const stride = Math.floor(config.num_train_timesteps / steps);
  if (!config.skip_prk_steps && steps < PNDM_ORDER) {
    throw new Error(`PNDM without skip_prk_steps needs at least ${PNDM_ORDER} steps, got ${steps}`);
  }
  const { timesteps, prkCount } = pndmTimesteps([...spaced].reverse(), config.skip_prk_steps, Math.floor(stride / 2));
  return new PndmScheduler(timesteps, prkCount, config, stride);
}
