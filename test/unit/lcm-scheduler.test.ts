// No reference trace exists for LCM: the schedule comes from onnx-pipeline.md §3.3 and the step values below were
// worked out by hand (float64) from diffusers' formulas for the SD 1.5 ᾱ schedule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLcmScheduler, lcmTimesteps } from '../../server/src/pipeline/schedulers/lcm.scheduler.js';
import { alphasCumprod, parseSchedulerConfig } from '../../server/src/pipeline/schedulers/scheduler.js';
import type { NoiseSource, SchedulerConfig } from '../../server/src/pipeline/schedulers/scheduler.js';
import { assertNear as close, assertUnscaledInput } from '../helpers/scheduler-reference.js';

const LCM_FILE = {
  _class_name: 'LCMScheduler',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  clip_sample: false,
  num_train_timesteps: 1000,
  original_inference_steps: 50,
  prediction_type: 'epsilon',
  set_alpha_to_one: true,
  steps_offset: 1,
  timestep_scaling: 10,
  trained_betas: null,
};
const lcmConfig = (): SchedulerConfig => parseSchedulerConfig(LCM_FILE);

/** Replays fixed draws and records every request, like a TorchGenerator whose output is known. */
function scriptedNoise(draws: number[][]): NoiseSource & { requested: number[] } {
  const requested: number[] = [];
  return {
    requested,
    randn(count: number): Float32Array {
      requested.push(count);
      const next = draws.shift();
      assert.ok(next && next.length === count, `unexpected draw of ${count}`);
      return Float32Array.from(next);
    },
  };
}

test('golden timesteps: every 20th training step from 999, picked at floor(linspace(0, 50, N)) (§3.3)', () => {
  const timesteps = (n: number): number[] => createLcmScheduler(lcmConfig(), n).timesteps;
  assert.deepEqual(timesteps(1), [999]);
  assert.deepEqual(timesteps(2), [999, 499]);
  assert.deepEqual(timesteps(4), [999, 759, 499, 259]);
  assert.deepEqual(timesteps(8), [999, 879, 759, 639, 499, 379, 259, 139]);
  assert.deepEqual(timesteps(20), [999, 959, 899, 859, 799, 759, 699, 659, 599, 559, 499, 459, 399, 359, 299, 259, 199, 159, 99, 59]);
  assert.deepEqual(timesteps(50), Array.from({ length: 50 }, (_, i) => 999 - 20 * i));
  // The spacing and offset of the config do not apply to LCM.
  assert.deepEqual(createLcmScheduler({ ...lcmConfig(), timestep_spacing: 'trailing' }, 4).timesteps, [999, 759, 499, 259]);
  // A different distillation schedule: k = 1000 // 25 = 40.
  assert.deepEqual(lcmTimesteps(1000, 4, 25), [999, 759, 519, 279]);
  assert.throws(() => createLcmScheduler(lcmConfig(), 51), /distillation schedule/);
  assert.throws(() => createLcmScheduler(lcmConfig(), 0), /positive integer/);
});

test('init_noise_sigma 1, identity scale_model_input, order 1', () => {
  assertUnscaledInput(createLcmScheduler(lcmConfig(), 4), 0, [1, -2]);
});

test('one step: the boundary-conditioned x0, and no noise drawn on the final step', () => {
  const scheduler = createLcmScheduler(lcmConfig(), 1);
  const rng = scriptedNoise([]);
  const x = new Float32Array([0.5, -1.25]);
  const eps = new Float32Array([0.2, -0.3]);
  // t = 999: ᾱ = 0.0046600937, c_skip = 0.25/(9990² + 0.25) = 2.505e-9, c_out = 9990/√(9990² + 0.25) ≈ 1 − 1.25e-9.
  const { prevSample, predOriginal } = scheduler.step(eps, 0, x, rng);
  close(predOriginal, [4.401480792194645, -13.926631741973443], 'denoised');
  assert.deepEqual(Array.from(prevSample), Array.from(predOriginal));
  assert.deepEqual(rng.requested, []);
});

test('two steps: re-noise to t = 499 with one latent-sized draw, then a final step without', () => {
  const scheduler = createLcmScheduler(lcmConfig(), 2);
  const rng = scriptedNoise([[0.7, -0.1]]);
  const first = scheduler.step(new Float32Array([0.2, -0.3]), 0, new Float32Array([0.5, -1.25]), rng);
  close(first.predOriginal, [4.401480792194645, -13.926631741973443], 'step 0 denoised');
  // √ᾱ_499·denoised + √(1 − ᾱ_499)·z with ᾱ_499 = 0.27766940.
  close(first.prevSample, [2.914261718726863, -7.423537418033814], 'step 0 latents');
  assert.deepEqual(rng.requested, [2]);
  // t = 499: c_skip = 1.004e-8, c_out ≈ 1 − 5.0e-9.
  const second = scheduler.step(new Float32Array([-0.4, 0.6]), 1, first.prevSample, rng);
  close(second.prevSample, [6.175656712021055, -15.055652781924849], 'final latents');
  assert.deepEqual(Array.from(second.prevSample), Array.from(second.predOriginal));
  assert.deepEqual(rng.requested, [2], 'the final step draws nothing');
});

test('a 4-step run draws exactly 3 times, after each non-final step', () => {
  const scheduler = createLcmScheduler(lcmConfig(), 4);
  const rng = scriptedNoise([[0], [0], [0]]);
  let sample: Float32Array = new Float32Array([0.3]);
  scheduler.timesteps.forEach((_, i) => (sample = scheduler.step(new Float32Array([0.1]), i, sample, rng).prevSample));
  assert.deepEqual(rng.requested, [1, 1, 1]);
  assert.throws(() => scheduler.step(sample, 4, sample, rng), /step index/);
});

test('v-prediction and clip_sample act on x0 before the boundary condition', () => {
  const alphas = alphasCumprod(lcmConfig());
  const v = createLcmScheduler({ ...lcmConfig(), prediction_type: 'v_prediction' }, 1);
  const x0 = Math.sqrt(alphas[999]) * 0.5 - Math.sqrt(1 - alphas[999]) * 0.2;
  close(v.step(new Float32Array([0.2]), 0, new Float32Array([0.5]), scriptedNoise([])).predOriginal, [x0], 'v-prediction');
  const clipped = createLcmScheduler({ ...lcmConfig(), clip_sample: true, clip_sample_range: 1 }, 1);
  close(clipped.step(new Float32Array([0.2]), 0, new Float32Array([0.5]), scriptedNoise([])).predOriginal, [1], 'clipped');
});

test('options: timestep_scaling moves c_skip/c_out; original_inference_steps moves the schedule', () => {
  const alphas = alphasCumprod(lcmConfig());
  const scheduler = createLcmScheduler(lcmConfig(), 1, { timestepScaling: 0.001 });
  // s·t = 0.999: c_skip = 0.25/(0.998001 + 0.25), c_out = 0.999/√1.248001.
  const cSkip = 0.25 / (0.999 ** 2 + 0.25);
  const cOut = 0.999 / Math.sqrt(0.999 ** 2 + 0.25);
  const x0 = (0.5 - Math.sqrt(1 - alphas[999]) * 0.2) / Math.sqrt(alphas[999]);
  close(scheduler.step(new Float32Array([0.2]), 0, new Float32Array([0.5]), scriptedNoise([])).predOriginal, [cOut * x0 + cSkip * 0.5], 'denoised');
  assert.deepEqual(createLcmScheduler(lcmConfig(), 4, { originalInferenceSteps: 25 }).timesteps, [999, 759, 519, 279]);
});

test('addNoise: √ᾱ_t·x0 + √(1−ᾱ_t)·ε at the step index timestep', () => {
  const alphas = alphasCumprod(lcmConfig());
  const scheduler = createLcmScheduler(lcmConfig(), 4);
  const noisy = scheduler.addNoise(new Float32Array([2]), new Float32Array([0.5]), 1);
  close(noisy, [Math.sqrt(alphas[759]) * 2 + Math.sqrt(1 - alphas[759]) * 0.5], 'noisy');
});
