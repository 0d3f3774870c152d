import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDdimScheduler } from '../../server/src/pipeline/schedulers/ddim.scheduler.js';
import { alphasCumprod } from '../../server/src/pipeline/schedulers/scheduler.js';
import type { SchedulerConfig } from '../../server/src/pipeline/schedulers/scheduler.js';
import {
  assertUnscaledInput,
  caseAbsent,
  caseConfig,
  describeReplay,
  noDraws,
  readCase,
  replayCase,
  sd15,
  TRACE_FILES,
} from '../helpers/scheduler-reference.js';

// sd15(): the SD 1.5 scheduler_config.json (a PNDM file, no spacing: DDIM then uses its own default, leading).
// noDraws fails the test if the scheduler draws: DDIM with eta 0 must not move the generator.

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
  assertUnscaledInput(scheduler, 0, [1, -2, 3]);
  assert.throws(() => scheduler.scaleModelInput(new Float32Array([1, -2, 3]), 10), /step index/);
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

// The cases' 10-step timesteps, embedded so the check runs without the shared data too.
const TEN_STEPS = [901, 801, 701, 601, 501, 401, 301, 201, 101, 1];
const CASES = ['sd1_t2i_ddim_c1', 'sd2v_t2i_ddim_c1'];

test('embedded: both reference cases use 10 leading steps', () => {
  assert.deepEqual(createDdimScheduler(sd15(), 10).timesteps, TEN_STEPS);
  assert.deepEqual(createDdimScheduler({ ...sd15(), prediction_type: 'v_prediction', timestep_spacing: 'leading' }, 10).timesteps, TEN_STEPS);
});

for (const name of CASES) {
  test(`${name}: timesteps, init_noise_sigma and every step's latents from the traced UNet outputs`, { skip: caseAbsent(name, TRACE_FILES) }, (t) => {
    const c = readCase(name);
    const scheduler = createDdimScheduler(caseConfig(c), c.params.num_inference_steps);
    assert.deepEqual(scheduler.timesteps, c.scheduler_timesteps);
    assert.deepEqual(scheduler.timesteps, c.unet_timesteps);
    assert.deepEqual(c.scheduler_timesteps, TEN_STEPS);
    assert.equal(scheduler.initNoiseSigma, c.init_noise_sigma);
    const result = replayCase(name, scheduler);
    assert.equal(result.recordedDraws, 1, 'DDIM with eta 0 draws only the initial noise');
    t.diagnostic(describeReplay(result));
  });
}
