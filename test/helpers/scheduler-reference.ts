// Replays a traced diffusers run through one of our schedulers: the recorded UNet outputs go in, every step's
// latents are compared with the trace. Shared by the scheduler unit tests; the data lives in ../shared/data.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSchedulerConfig } from '../../server/src/pipeline/schedulers/scheduler.js';
import type { NoiseSource, Scheduler, SchedulerConfig } from '../../server/src/pipeline/schedulers/scheduler.js';
import { readNpyFloat32 } from './npy.js';

export const referenceDir = fileURLToPath(new URL('../../../shared/data/reference/', import.meta.url));
export const pipelineDir = join(referenceDir, 'pipeline');
const NO_DATA = 'shared reference data (../shared/data/reference) is absent';

export const TRACE_FILES = ['case.json', 'noise.npy', 'trace_unet_out.npy', 'trace_unet_sample.npy', 'trace_step_latents.npy', 'latents.npy'];

/** The SD 1.5 scheduler_config.json (a PNDM file), which every sd1 case starts from. */
export const SD15_FILE = {
  _class_name: 'PNDMScheduler',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  num_train_timesteps: 1000,
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  trained_betas: null,
  clip_sample: false,
};

/** The SD 1.5 file read without a spacing default: each scheduler applies its own, as from_config does. */
export const sd15 = (): SchedulerConfig => parseSchedulerConfig(SD15_FILE);

/** SD 1.5 with 10 linspace steps (Euler, Euler a, LMS): timesteps and sigmas as diffusers gives them. */
export const TEN_LINSPACE_TIMESTEPS = [999, 888, 777, 666, 555, 444, 333, 222, 111, 0];
export const TEN_LINSPACE_SIGMAS = [
  14.614645004272461, 7.8398847579956055, 4.609175682067871, 2.9183082580566406, 1.9501622915267944, 1.34492826461792,
  0.9323583245277405, 0.6249772906303406, 0.36865851283073425, 0.029167532920837402, 0,
];

/** SD 1.5 with 10 steps as DPMSolverMultistep and UniPCMultistep space them (linspace), σ_min appended. */
export const TEN_MULTISTEP_TIMESTEPS = [999, 899, 799, 699, 599, 500, 400, 300, 200, 100];
export const TEN_MULTISTEP_SIGMAS = [
  14.614645004272461, 8.302804946899414, 5.087765216827393, 3.3210842609405518, 2.276463747024536, 1.6182795763015747,
  1.1643916368484497, 0.8327531814575195, 0.5716663599014282, 0.34393182396888733, 0.029167532920837402,
];

/** The VP view of a sigma in float64, written from the papers: α = 1/√(σ²+1), σ_t = σ·α, λ = ln α − ln σ_t. */
export const vp64 = (sigma: number): { alpha: number; sigmaT: number; lambda: number } => {
  const alpha = 1 / Math.sqrt(sigma * sigma + 1);
  return { alpha, sigmaT: sigma * alpha, lambda: Math.log(alpha) - Math.log(sigma * alpha) };
};

export interface CaseJson {
  params: { seed: number; guidance_scale: number; num_inference_steps: number; strength?: number };
  scheduler_config_effective: Record<string, unknown>;
  scheduler_timesteps: number[];
  scheduler_sigmas: number[];
  init_noise_sigma: number;
  unet_timesteps: number[];
}

/** A skip reason when one of the paths is missing, false when the test can run. */
export const dataAbsent = (paths: readonly string[]): string | false => (paths.every((p) => existsSync(p)) ? false : NO_DATA);

/** A skip reason when the case (or one of its files) is missing, false when the test can run. */
export const caseAbsent = (name: string, files: readonly string[] = ['case.json']): string | false =>
  dataAbsent(files.map((f) => join(pipelineDir, name, f)));

export const readCase = (name: string): CaseJson => JSON.parse(readFileSync(join(pipelineDir, name, 'case.json'), 'utf8')) as CaseJson;

/** The case's effective config (it names its spacing, so no default is needed). */
export const caseConfig = (c: CaseJson): SchedulerConfig => parseSchedulerConfig(c.scheduler_config_effective);

/** |actual − expected| ≤ 1e-5·max(1, |expected|): relative for large values, absolute near 0. */
export function assertNear(actual: number | ArrayLike<number>, expected: number | readonly number[], label: string): void {
  if (typeof actual === 'number' || typeof expected === 'number') {
    const [a, e] = [Number(actual), Number(expected)];
    assert.ok(Math.abs(a - e) <= 1e-5 * Math.max(1, Math.abs(e)), `${label}: ${a} vs ${e}`);
    return;
  }
  expected.forEach((e, i) =>
    assert.ok(Math.abs(actual[i] - e) <= 1e-5 * Math.max(1, Math.abs(e)), `${label}[${i}]: ${actual[i]} vs ${e}`),
  );
}

export function assertRelClose(actual: readonly number[], expected: readonly number[], tolerance: number, label: string): void {
  assert.equal(actual.length, expected.length, `${label}: length ${actual.length}, expected ${expected.length}`);
  expected.forEach((e, i) => {
    const err = Math.abs(actual[i] - e) / Math.max(Math.abs(e), 1e-12);
    assert.ok(e === actual[i] || err <= tolerance, `${label}[${i}]: got ${actual[i]}, expected ${e} (relative ${err})`);
  });
}

/** Euler, Euler a and LMS on SD 1.5 with 10 linspace steps: the schedule, init_noise_sigma = σ_max and order 1. */
export function assertTenLinspaceSchedule(scheduler: Scheduler & { readonly sigmas: readonly number[] }): void {
  assert.deepEqual(scheduler.timesteps, TEN_LINSPACE_TIMESTEPS);
  assertRelClose(scheduler.sigmas, TEN_LINSPACE_SIGMAS, 1e-6, 'sigmas');
  assertRelClose([scheduler.initNoiseSigma], [14.614645004272461], 1e-6, 'init_noise_sigma');
  assert.equal(scheduler.order, 1);
}

/** The case's timesteps, sigmas and init_noise_sigma, each within relative 1e-6. */
export function assertCaseSchedule(scheduler: Scheduler & { readonly sigmas: readonly number[] }, c: CaseJson): void {
  assertRelClose(scheduler.timesteps, c.scheduler_timesteps, 1e-6, 'timesteps');
  assertRelClose(scheduler.sigmas, c.scheduler_sigmas, 1e-6, 'sigmas');
  assertRelClose([scheduler.initNoiseSigma], [c.init_noise_sigma], 1e-6, 'init_noise_sigma');
}

export function relativeL2(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < expected.length; i++) {
    diff += (actual[i] - expected[i]) ** 2;
    norm += expected[i] ** 2;
  }
  return Math.sqrt(diff / norm);
}

function maxAbs(values: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < values.length; i++) max = Math.max(max, Math.abs(values[i]));
  return max;
}

function maxAbsDiff(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < expected.length; i++) max = Math.max(max, Math.abs(actual[i] - expected[i]));
  return max;
}

export interface ReplayResult {
  /** Worst relative L2 over every step's latents. */
  worstStep: number;
  finalRelativeL2: number;
  /** Largest |ours − reference| on the final latents, and the largest |reference| for scale. */
  finalMaxAbsDiff: number;
  finalMaxAbs: number;
  /** Draws taken from the replayed noise after the initial latents. */
  stepDraws: number;
  /** Latent-sized draws noise.npy holds (initial noise and img2img draws included). */
  recordedDraws: number;
}

export interface ReplayOptions {
  /** Index into `scheduler.timesteps` of the first traced call (img2img: t_start × order); default 0. */
  start?: number;
  /** Latents the first call sees; default noise.npy[0] × init_noise_sigma. */
  initial?: Float32Array;
  /** Draws noise.npy holds before the first step draw (img2img also records the add-noise one); default 1. */
  drawsBefore?: number;
  /**
   * Draw from this generator (its first `drawsBefore` draws made up front) instead of replaying noise.npy; every
   * draw must match noise.npy within relative L2 1e-6.
   */
  generator?: NoiseSource;
  /** Relative L2 allowed on each UNet input; default 1e-6. */
  inputTolerance?: number;
}

/**
 * Runs the case's denoising loop with its recorded UNet outputs (raw CFG batch, uncond first): latents start
 * from noise.npy[0] × init_noise_sigma, step draws replay noise.npy[1…] in order. Asserts one traced call per
 * timestep, both halves of the UNet input of every call, every step's latents (relative L2 ≤ 1e-5), the final
 * latents (the README's tolerances) and that the loop used every recorded draw.
 */
export function replayCase(name: string, scheduler: Scheduler, options: ReplayOptions = {}): ReplayResult {
  const { start = 0, drawsBefore = 1, generator, inputTolerance = 1e-6 } = options;
  const dir = join(pipelineDir, name);
  const c = readCase(name);
  const noise = readNpyFloat32(join(dir, 'noise.npy'));
  const unetOut = readNpyFloat32(join(dir, 'trace_unet_out.npy'));
  const unetIn = readNpyFloat32(join(dir, 'trace_unet_sample.npy'));
  const stepLatents = readNpyFloat32(join(dir, 'trace_step_latents.npy'));
  const finalLatents = readNpyFloat32(join(dir, 'latents.npy'));
  const size = finalLatents.data.length;
  const calls = scheduler.timesteps.length - start;
  assert.equal(unetOut.shape[1], 2, 'the trace holds the classifier-free guidance batch of 2');
  assert.equal(unetOut.shape[0], calls, 'one traced UNet call per timestep run');
  assert.deepEqual(scheduler.timesteps.slice(start), c.unet_timesteps, 'one timestep per UNet call');

  const recorded = (d: number): Float32Array => noise.data.subarray(d * size, (d + 1) * size);
  const generated = (d: number): Float32Array => {
    const values = generator!.randn(size);
    assert.ok(relativeL2(values, recorded(d)) <= 1e-6, `draw ${d}`);
    return values;
  };
  if (generator) for (let d = 0; d < drawsBefore; d++) generated(d);
  let drawn = drawsBefore;
  const rng = {
    randn: (count: number): Float32Array => {
      assert.equal(count, size, 'a step draws one latent-sized tensor');
      assert.ok(drawn < noise.shape[0], `step draw ${drawn} is more than noise.npy recorded (${noise.shape[0]} draws)`);
      const d = drawn++;
      return generator ? generated(d) : recorded(d).slice();
    },
  };

  const guidance = c.params.guidance_scale;
  let latents: Float32Array = options.initial ?? recorded(0).map((x) => x * scheduler.initNoiseSigma);
  let worstStep = 0;
  for (let call = 0; call < calls; call++) {
    const modelInput = scheduler.scaleModelInput(latents, start + call);
    for (const half of [0, 1]) {
      const tracedInput = unetIn.data.subarray((2 * call + half) * size, (2 * call + half + 1) * size);
      const inputErr = relativeL2(modelInput, tracedInput);
      assert.ok(inputErr <= inputTolerance, `call ${call}: UNet input ${half} relative L2 ${inputErr}`);
    }

    const uncond = unetOut.data.subarray(2 * call * size, (2 * call + 1) * size);
    const text = unetOut.data.subarray((2 * call + 1) * size, (2 * call + 2) * size);
    const guided = uncond.map((u, k) => u + guidance * (text[k] - u));
    latents = scheduler.step(guided, start + call, latents, rng).prevSample;
    const err = relativeL2(latents, stepLatents.data.subarray(call * size, (call + 1) * size));
    assert.ok(err <= 1e-5, `call ${call}: latents relative L2 ${err}`);
    worstStep = Math.max(worstStep, err);
  }

  const finalRelativeL2 = relativeL2(latents, finalLatents.data);
  const finalMaxAbsDiff = maxAbsDiff(latents, finalLatents.data);
  const finalMaxAbs = maxAbs(finalLatents.data);
  assert.ok(finalRelativeL2 <= 1e-4, `final latents relative L2 ${finalRelativeL2}`);
  assert.ok(finalMaxAbsDiff <= 1e-4 * finalMaxAbs, `final latents max |diff| ${finalMaxAbsDiff} (max |ref| ${finalMaxAbs})`);
  assert.equal(drawn, noise.shape[0], `the loop used ${drawn} of the ${noise.shape[0]} recorded draws`);
  return { worstStep, finalRelativeL2, finalMaxAbsDiff, finalMaxAbs, stepDraws: drawn - drawsBefore, recordedDraws: noise.shape[0] };
}

/** One line for t.diagnostic: how close the replay came. */
export const describeReplay = (r: ReplayResult): string =>
  `worst step rel L2 ${r.worstStep.toExponential(2)}, final rel L2 ${r.finalRelativeL2.toExponential(2)}, max abs ${r.finalMaxAbsDiff.toExponential(2)}`;

/** A noise source that fails the test if a deterministic scheduler draws. */
export const noDraws = {
  randn(count: number): Float32Array {
    throw new Error(`a deterministic scheduler asked for ${count} random values`);
  },
};

/** A noise source that hands out a constant and records the size of every draw. */
export function countingNoise(value = 0): NoiseSource & { draws: number[] } {
  const draws: number[] = [];
  return { draws, randn: (count) => (draws.push(count), new Float32Array(count).fill(value)) };
}

/**
 * The VP-space contract of DDIM, PNDM and LCM: init_noise_sigma 1, order 1, and scale_model_input returns a copy
 * of the sample (a new array, same values) at `stepIndex`.
 */
export function assertUnscaledInput(scheduler: Scheduler, stepIndex: number, values: readonly number[]): void {
  assert.equal(scheduler.initNoiseSigma, 1);
  assert.equal(scheduler.order, 1);
  const sample = Float32Array.from(values);
  const scaled = scheduler.scaleModelInput(sample, stepIndex);
  assert.notEqual(scaled, sample);
  assert.deepEqual(Array.from(scaled), values);
}
