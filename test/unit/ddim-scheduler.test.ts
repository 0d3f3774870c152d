import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDdimScheduler } from '../../server/src/pipeline/schedulers/ddim.scheduler.js';
import { alphasCumprod, parseSchedulerConfig } from '../../server/src/pipeline/schedulers/scheduler.js';
import type { NoiseSource, Scheduler, SchedulerConfig } from '../../server/src/pipeline/schedulers/scheduler.js';
import { readNpyFloat32 } from '../helpers/npy.js';

const pipelineDir = fileURLToPath(new URL('../../../shared/data/reference/pipeline/', import.meta.url));
const NO_DATA = 'shared reference data (../shared/data/reference/pipeline) is absent';

// The SD 1.5 scheduler_config.json (a PNDM file, no spacing: DDIM then uses its own default, leading).
const SD15_FILE = {
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
const sd15 = (): SchedulerConfig => parseSchedulerConfig(SD15_FILE);

/** A source that fails the test if the scheduler draws: DDIM with eta 0 must not move the generator. */
const noDraws: NoiseSource = {
  randn: () => assert.fail('DDIM (eta 0) drew noise'),
};

function relativeL2(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
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

test('golden leading timesteps (T // N · k + steps_offset)', () => {
  const timesteps = (n: number): number[] => createDdimScheduler(sd15(), n).timesteps;
  assert.deepEqual(timesteps(1), [1]);
  assert.deepEqual(timesteps(4), [751, 501, 251, 1]);
  assert.deepEqual(timesteps(10), [901, 801, 701, 601, 501, 401, 301, 201, 101, 1]);
  assert.deepEqual(timesteps(20), [951, 901, 851, 801, 751, 701, 651, 601, 551, 501, 451, 401, 351, 301, 251, 201, 151, 101, 51, 1]);
  assert.deepEqual(timesteps(50), [
    981, 961, 941, 921, 901, 881, 861, 841, 821, 801, 781, 761, 741, 721, 701, 681, 661, 641, 621, 601, 581, 561, 541,
    521, 501, 481, 461, 441, 421, 401, 381, 361, 341, 321, 301, 281, 261, 241, 221, 201, 181, 161, 141, 121, 101, 81,
    61, 41, 21, 1,
  ]);
});

test('linspace rounds half to even, trailing counts down from T − 1', () => {
  const config = sd15();
  assert.deepEqual(createDdimScheduler({ ...config, timestep_spacing: 'linspace' }, 3).timesteps, [999, 500, 0]);
  assert.deepEqual(createDdimScheduler({ ...config, timestep_spacing: 'linspace' }, 4).timesteps, [999, 666, 333, 0]);
  assert.deepEqual(createDdimScheduler({ ...config, timestep_spacing: 'trailing' }, 4).timesteps, [999, 749, 499, 249]);
});

test('init_noise_sigma 1, identity scale_model_input, order 1', () => {
  const scheduler = createDdimScheduler(sd15(), 10);
  assert.equal(scheduler.initNoiseSigma, 1);
  assert.equal(scheduler.order, 1);
  const sample = new Float32Array([1, -2, 3]);
  const scaled = scheduler.scaleModelInput(sample, 0);
  assert.notEqual(scaled, sample);
  assert.deepEqual(Array.from(scaled), [1, -2, 3]);
  assert.throws(() => scheduler.scaleModelInput(sample, 10), /step index/);
});

test('one ε step by hand: x0 = (x − √(1−ᾱ_t)ε)/√ᾱ_t, x′ = √ᾱ_p·x0 + √(1−ᾱ_p)·ε; the last step uses ᾱ_0', () => {
  const alphas = alphasCumprod(sd15());
  const scheduler = createDdimScheduler(sd15(), 10);
  const x = new Float32Array([1.5, -0.25]);
  const eps = new Float32Array([0.5, 2]);
  const check = (stepIndex: number, t: number, tPrev: number): void => {
    const { prevSample, predOriginal } = scheduler.step(eps, stepIndex, x, noDraws);
    for (let i = 0; i < x.length; i++) {
      const x0 = (x[i] - Math.sqrt(1 - alphas[t]) * eps[i]) / Math.sqrt(alphas[t]);
      const prev = Math.sqrt(alphas[tPrev]) * x0 + Math.sqrt(1 - alphas[tPrev]) * eps[i];
      assert.ok(Math.abs(predOriginal[i] - x0) <= 1e-5 * Math.abs(x0), `x0[${i}] ${predOriginal[i]} vs ${x0}`);
      assert.ok(Math.abs(prevSample[i] - prev) <= 1e-5 * Math.abs(prev), `prev[${i}] ${prevSample[i]} vs ${prev}`);
    }
  };
  check(0, 901, 801);
  // t = 1 steps to t = −99: set_alpha_to_one is false, so ᾱ_prev = ᾱ_0.
  check(9, 1, 0);
  // With set_alpha_to_one the last step lands exactly on x0.
  const toOne = createDdimScheduler({ ...sd15(), set_alpha_to_one: true }, 10).step(eps, 9, x, noDraws);
  assert.deepEqual(Array.from(toOne.prevSample), Array.from(toOne.predOriginal));
});

test('clip_sample clamps x0 but keeps the model ε for the direction term', () => {
  const config = { ...sd15(), clip_sample: true, clip_sample_range: 1 };
  const scheduler = createDdimScheduler(config, 10);
  const alphas = alphasCumprod(config);
  const x = new Float32Array([30, -30, 0.1]);
  const eps = new Float32Array([0, 0, 0]);
  const { prevSample, predOriginal } = scheduler.step(eps, 0, x, noDraws);
  assert.deepEqual(Array.from(predOriginal), [1, -1, Math.fround(0.1 / Math.sqrt(alphas[901]))]);
  assert.ok(Math.abs(prevSample[0] - Math.sqrt(alphas[801])) < 1e-6);
});

test('v-prediction: x0 = √ᾱ·x − √(1−ᾱ)·v and ε = √ᾱ·v + √(1−ᾱ)·x', () => {
  const config: SchedulerConfig = { ...sd15(), prediction_type: 'v_prediction' };
  const alphas = alphasCumprod(config);
  const scheduler = createDdimScheduler(config, 10);
  const x = new Float32Array([0.75]);
  const v = new Float32Array([-0.5]);
  const { prevSample, predOriginal } = scheduler.step(v, 1, x, noDraws);
  const [a, ap] = [alphas[801], alphas[701]];
  const x0 = Math.sqrt(a) * 0.75 - Math.sqrt(1 - a) * -0.5;
  const eps = Math.sqrt(a) * -0.5 + Math.sqrt(1 - a) * 0.75;
  assert.ok(Math.abs(predOriginal[0] - x0) < 1e-6);
  assert.ok(Math.abs(prevSample[0] - (Math.sqrt(ap) * x0 + Math.sqrt(1 - ap) * eps)) < 1e-6);
});

test('addNoise: √ᾱ_t·x0 + √(1−ᾱ_t)·ε at the step index timestep', () => {
  const alphas = alphasCumprod(sd15());
  const scheduler = createDdimScheduler(sd15(), 20);
  // N = 20, strength 0.75: t_start = 20 − 15 = 5, the first step is t = 701 (onnx-pipeline.md §2.2).
  assert.equal(scheduler.timesteps[5], 701);
  const noisy = scheduler.addNoise(new Float32Array([2, -1]), new Float32Array([0.5, 0.25]), 5);
  const expected = [2, -1].map((x, i) => Math.sqrt(alphas[701]) * x + Math.sqrt(1 - alphas[701]) * [0.5, 0.25][i]);
  noisy.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-6));
});

// ---- reference cases ---------------------------------------------------------------------------------------------

interface CaseJson {
  params: { guidance_scale: number; num_inference_steps: number };
  scheduler_config_effective: Record<string, unknown>;
  scheduler_timesteps: number[];
  init_noise_sigma: number;
  unet_timesteps: number[];
}

// The cases' 10-step timesteps, embedded so the check runs without the shared data too.
const TEN_STEPS = [901, 801, 701, 601, 501, 401, 301, 201, 101, 1];
const CASES = ['sd1_t2i_ddim_c1', 'sd2v_t2i_ddim_c1'];
const FILES = ['case.json', 'noise.npy', 'trace_unet_out.npy', 'trace_unet_sample.npy', 'trace_step_latents.npy', 'latents.npy'];
const caseAbsent = (name: string): string | false => (FILES.every((f) => existsSync(join(pipelineDir, name, f))) ? false : NO_DATA);

test('embedded: both reference cases use 10 leading steps', () => {
  assert.deepEqual(createDdimScheduler(sd15(), 10).timesteps, TEN_STEPS);
  assert.deepEqual(createDdimScheduler({ ...sd15(), prediction_type: 'v_prediction', timestep_spacing: 'leading' }, 10).timesteps, TEN_STEPS);
});

function runTrace(scheduler: Scheduler, dir: string, guidance: number, diagnostic: (m: string) => void): void {
  const noise = readNpyFloat32(join(dir, 'noise.npy'));
  const unetOut = readNpyFloat32(join(dir, 'trace_unet_out.npy')); // (calls, 2, 4, h, w), uncond first
  const unetIn = readNpyFloat32(join(dir, 'trace_unet_sample.npy'));
  const stepLatents = readNpyFloat32(join(dir, 'trace_step_latents.npy'));
  const finalLatents = readNpyFloat32(join(dir, 'latents.npy'));
  const size = finalLatents.data.length;
  assert.equal(unetOut.shape[0], scheduler.timesteps.length, 'one traced UNet call per timestep');
  assert.equal(noise.shape[0], 1, 'DDIM with eta 0 draws only the initial noise');

  let latents: Float32Array = noise.data.subarray(0, size).map((x) => x * scheduler.initNoiseSigma);
  let worst = 0;
  scheduler.timesteps.forEach((_, i) => {
    const modelInput = scheduler.scaleModelInput(latents, i);
    for (const half of [0, 1]) {
      const traced = unetIn.data.subarray((2 * i + half) * size, (2 * i + half + 1) * size);
      assert.ok(relativeL2(modelInput, traced) <= 1e-6, `step ${i}: UNet input`);
    }
    const uncond = unetOut.data.subarray(2 * i * size, (2 * i + 1) * size);
    const text = unetOut.data.subarray((2 * i + 1) * size, (2 * i + 2) * size);
    const guided = uncond.map((u, k) => u + guidance * (text[k] - u));
    latents = scheduler.step(guided, i, latents, noDraws).prevSample;
    const err = relativeL2(latents, stepLatents.data.subarray(i * size, (i + 1) * size));
    worst = Math.max(worst, err);
    assert.ok(err <= 1e-5, `step ${i}: latents relative L2 ${err}`);
  });
  const finalErr = relativeL2(latents, finalLatents.data);
  const finalMax = maxAbsDiff(latents, finalLatents.data);
  diagnostic(`worst step rel L2 ${worst.toExponential(2)}, final rel L2 ${finalErr.toExponential(2)}, max abs ${finalMax.toExponential(2)}`);
  assert.ok(finalErr <= 1e-4, `final latents relative L2 ${finalErr}`);
  assert.ok(finalMax <= 1e-4 * maxAbs(finalLatents.data), `final latents max abs difference ${finalMax}`);
}

for (const name of CASES) {
  const dir = join(pipelineDir, name);
  test(`${name}: timesteps, init_noise_sigma and every step's latents from the traced UNet outputs`, { skip: caseAbsent(name) }, (t) => {
    const c = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')) as CaseJson;
    const config = parseSchedulerConfig(c.scheduler_config_effective);
    const scheduler = createDdimScheduler(config, c.params.num_inference_steps);
    assert.deepEqual(scheduler.timesteps, c.scheduler_timesteps);
    assert.deepEqual(scheduler.timesteps, c.unet_timesteps);
    assert.deepEqual(c.scheduler_timesteps, TEN_STEPS);
    assert.equal(scheduler.initNoiseSigma, c.init_noise_sigma);
    runTrace(scheduler, dir, c.params.guidance_scale, (m) => t.diagnostic(m));
  });
}
