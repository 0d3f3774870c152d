// Replays a traced diffusers run through one of our schedulers: the recorded UNet outputs go in, every step's
// latents are compared with the trace. Shared by the scheduler unit tests; the data lives in ../shared/data.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSchedulerConfig } from '../../server/src/pipeline/schedulers/scheduler.js';
import type { Scheduler, SchedulerConfig } from '../../server/src/pipeline/schedulers/scheduler.js';
import { readNpyFloat32 } from './npy.js';

export const pipelineDir = fileURLToPath(new URL('../../../shared/data/reference/pipeline/', import.meta.url));
const NO_DATA = 'shared reference data (../shared/data/reference/pipeline) is absent';

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

export interface CaseJson {
  params: { seed: number; guidance_scale: number; num_inference_steps: number };
  scheduler_config_effective: Record<string, unknown>;
  scheduler_timesteps: number[];
  scheduler_sigmas: number[];
  init_noise_sigma: number;
  unet_timesteps: number[];
}

/** A skip reason when the case (or one of its files) is missing, false when the test can run. */
export const caseAbsent = (name: string, files: readonly string[] = ['case.json']): string | false =>
  files.every((f) => existsSync(join(pipelineDir, name, f))) ? false : NO_DATA;

export const readCase = (name: string): CaseJson => JSON.parse(readFileSync(join(pipelineDir, name, 'case.json'), 'utf8')) as CaseJson;

/** The case's effective config (it names its spacing, so no default is needed). */
export const caseConfig = (c: CaseJson): SchedulerConfig => parseSchedulerConfig(c.scheduler_config_effective);

export function assertRelClose(actual: readonly number[], expected: readonly number[], tolerance: number, label: string): void {
  assert.equal(actual.length, expected.length, `${label}: length ${actual.length}, expected ${expected.length}`);
  expected.forEach((e, i) => {
    const err = Math.abs(actual[i] - e) / Math.max(Math.abs(e), 1e-12);
    assert.ok(e === actual[i] || err <= tolerance, `${label}[${i}]: got ${actual[i]}, expected ${e} (relative ${err})`);
  });
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
}

/**
 * Runs the case's denoising loop with its recorded UNet outputs (raw CFG batch, uncond first): latents start
 * from noise.npy[0] × init_noise_sigma, step draws replay noise.npy[1…] in order. Asserts the UNet input of every
 * call, every step's latents (relative L2 ≤ 1e-5) and the final latents (the README's tolerances).
 */
export function replayCase(name: string, scheduler: Scheduler): ReplayResult {
  const dir = join(pipelineDir, name);
  const c = readCase(name);
  const noise = readNpyFloat32(join(dir, 'noise.npy'));
  const unetOut = readNpyFloat32(join(dir, 'trace_unet_out.npy'));
  const unetIn = readNpyFloat32(join(dir, 'trace_unet_sample.npy'));
  const stepLatents = readNpyFloat32(join(dir, 'trace_step_latents.npy'));
  const finalLatents = readNpyFloat32(join(dir, 'latents.npy'));
  const size = finalLatents.data.length;
  assert.equal(unetOut.shape[1], 2, 'the trace holds the classifier-free guidance batch of 2');
  assert.deepEqual(scheduler.timesteps, c.unet_timesteps, 'one timestep per UNet call');

  let drawn = 1;
  const rng = {
    randn: (count: number): Float32Array => {
      assert.equal(count, size, 'a step draws one latent-sized tensor');
      assert.ok(drawn < noise.shape[0], `step draw ${drawn} is more than noise.npy recorded (${noise.shape[0]} draws)`);
      return noise.data.slice(drawn * size, ++drawn * size);
    },
  };

  const guidance = c.params.guidance_scale;
  let latents: Float32Array = noise.data.slice(0, size).map((x) => x * scheduler.initNoiseSigma);
  let worstStep = 0;
  scheduler.timesteps.forEach((_, i) => {
    const modelInput = scheduler.scaleModelInput(latents, i);
    const tracedInput = unetIn.data.subarray(2 * i * size, (2 * i + 1) * size);
    const inputErr = relativeL2(modelInput, tracedInput);
    assert.ok(inputErr <= 1e-6, `call ${i}: UNet input relative L2 ${inputErr}`);

    const uncond = unetOut.data.subarray(2 * i * size, (2 * i + 1) * size);
    const text = unetOut.data.subarray((2 * i + 1) * size, (2 * i + 2) * size);
    const guided = uncond.map((u, k) => u + guidance * (text[k] - u));
    latents = scheduler.step(guided, i, latents, rng).prevSample;
    const err = relativeL2(latents, stepLatents.data.subarray(i * size, (i + 1) * size));
    assert.ok(err <= 1e-5, `call ${i}: latents relative L2 ${err}`);
    worstStep = Math.max(worstStep, err);
  });

  const finalRelativeL2 = relativeL2(latents, finalLatents.data);
  const finalMaxAbsDiff = maxAbsDiff(latents, finalLatents.data);
  const finalMaxAbs = maxAbs(finalLatents.data);
  assert.ok(finalRelativeL2 <= 1e-4, `final latents relative L2 ${finalRelativeL2}`);
  assert.ok(finalMaxAbsDiff <= 1e-4 * finalMaxAbs, `final latents max |diff| ${finalMaxAbsDiff} (max |ref| ${finalMaxAbs})`);
  assert.equal(drawn, noise.shape[0], `the loop used ${drawn} of the ${noise.shape[0]} recorded draws`);
  return { worstStep, finalRelativeL2, finalMaxAbsDiff, finalMaxAbs, stepDraws: drawn - 1 };
}

/** A noise source that fails the test if a deterministic scheduler draws. */
export const noDraws = {
  randn(count: number): Float32Array {
    throw new Error(`a deterministic scheduler asked for ${count} random values`);
  },
};
