import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEulerAncestralScheduler } from '../../server/src/pipeline/schedulers/euler-ancestral.scheduler.js';
import type { SchedulerStepResult } from '../../server/src/pipeline/schedulers/scheduler.js';
import {
  assertCaseSchedule,
  assertRelClose,
  assertTenLinspaceSchedule,
  caseAbsent,
  caseConfig,
  countingNoise,
  readCase,
  replayCase,
  sd15,
  TRACE_FILES,
} from '../helpers/scheduler-reference.js';

const CASE = 'sd1_t2i_euler_a_c1';

test('10 steps: the reference case schedule (SD 1.5, linspace)', () => {
  assertTenLinspaceSchedule(createEulerAncestralScheduler(sd15(), 10));
});

test('1, 4, 20 and 50 steps: linspace timesteps and interpolated sigmas (onnx-pipeline.md §3.1)', () => {
  // One linspace step sits at t = 0 (diffusers does the same; Turbo models use trailing spacing instead).
  const one = createEulerAncestralScheduler(sd15(), 1);
  assert.deepEqual(one.timesteps, [0]);
  assertRelClose(one.sigmas, [0.0291675329, 0], 1e-6, '1 step');

  const four = createEulerAncestralScheduler(sd15(), 4);
  assert.deepEqual(four.timesteps, [999, 666, 333, 0]);
  assertRelClose(four.sigmas, [14.6146488, 2.91830873, 0.932358325, 0.0291675329, 0], 1e-6, '4 steps');

  const twenty = createEulerAncestralScheduler(sd15(), 20);
  assertRelClose(twenty.timesteps.slice(0, 4), [999, 946.421082, 893.842102, 841.263184], 1e-6, '20 steps: timesteps');
  assertRelClose(twenty.timesteps.slice(-2), [52.578949, 0], 1e-6, '20 steps: last timesteps');
  assertRelClose(twenty.sigmas.slice(0, 4), [14.6146488, 10.7468519, 8.08153725, 6.20495224], 1e-6, '20 steps: sigmas');
  assertRelClose(twenty.sigmas.slice(-3), [0.232168198, 0.0291675329, 0], 1e-6, '20 steps: last sigmas');

  const fifty = createEulerAncestralScheduler(sd15(), 50);
  assert.equal(fifty.timesteps.length, 50);
  assertRelClose(fifty.timesteps.slice(0, 3), [999, 978.612244, 958.224487], 1e-6, '50 steps: timesteps');
  assertRelClose(fifty.sigmas.slice(0, 4), [14.6146488, 12.93678, 11.4916515, 10.2429161], 1e-6, '50 steps: sigmas');
  assertRelClose(fifty.sigmas.slice(24, 26), [1.67164445, 1.56165969], 1e-6, '50 steps: middle sigmas');
  assertRelClose(fifty.sigmas.slice(-3), [0.13933751, 0.0291675329, 0], 1e-6, '50 steps: last sigmas');
});

test('init_noise_sigma is √(σ_max² + 1) with leading spacing', () => {
  const scheduler = createEulerAncestralScheduler({ ...sd15(), timestep_spacing: 'leading' }, 20);
  assert.equal(scheduler.timesteps[0], 951);
  assert.ok(Math.abs(scheduler.initNoiseSigma - Math.hypot(scheduler.sigmas[0], 1)) < 1e-5, `${scheduler.initNoiseSigma}`);
});

test('a step: Euler down to σ_down, then σ_up of fresh noise, one draw per step including the last', () => {
  const scheduler = createEulerAncestralScheduler(sd15(), 10);
  const rng = countingNoise(1);
  const sample = new Float32Array(8).fill(2);
  const eps = new Float32Array(8).fill(0.5);
  const { prevSample, predOriginal } = scheduler.step(eps, 3, sample, rng);
  const [from, to] = [scheduler.sigmas[3], scheduler.sigmas[4]];
  const up = Math.sqrt((to ** 2 * (from ** 2 - to ** 2)) / from ** 2);
  const down = Math.sqrt(to ** 2 - up ** 2);
  // σ_up² + σ_down² = σ_next²: the sample ends at the next noise level.
  assert.ok(Math.abs(up ** 2 + down ** 2 - to ** 2) < 1e-9);
  predOriginal.forEach((v) => assert.ok(Math.abs(v - (2 - from * 0.5)) < 1e-5));
  prevSample.forEach((v) => assert.ok(Math.abs(v - (2 + 0.5 * (down - from) + up)) < 1e-5, `${v}`));
  assert.deepEqual(rng.draws, [8]);

  // The last step goes to σ = 0: σ_up = 0, so it lands on x0 whatever the noise, yet it still draws.
  const last = scheduler.step(eps, 9, sample, rng);
  assert.deepEqual(Array.from(last.prevSample), Array.from(last.predOriginal));
  assert.deepEqual(rng.draws, [8, 8]);
  assert.throws(() => scheduler.step(eps, 10, sample, rng), /step index/);
  assert.throws(() => scheduler.step(new Float32Array(4), 0, sample, rng), /model output/);
});

test('v-prediction: x0 = v·(−σ/√(σ²+1)) + x/(σ²+1)', () => {
  const scheduler = createEulerAncestralScheduler({ ...sd15(), prediction_type: 'v_prediction' }, 10);
  const sigma = scheduler.sigmas[2];
  const { predOriginal } = scheduler.step(new Float32Array([1]), 2, new Float32Array([3]), countingNoise());
  const expected = -sigma / Math.sqrt(sigma ** 2 + 1) + 3 / (sigma ** 2 + 1);
  assert.ok(Math.abs(predOriginal[0] - expected) < 1e-5);
});

test('scaleModelInput divides by √(σ² + 1); addNoise is x0 + σ·ε at the step', () => {
  const scheduler = createEulerAncestralScheduler(sd15(), 10);
  const sample = new Float32Array([1, -2]);
  const scaled = scheduler.scaleModelInput(sample, 4);
  assert.notEqual(scaled, sample);
  scaled.forEach((v, i) => assert.ok(Math.abs(v - sample[i] / Math.hypot(scheduler.sigmas[4], 1)) < 1e-6));
  const noised = scheduler.addNoise(new Float32Array([0.5, 1]), new Float32Array([2, -1]), 4);
  assert.ok(Math.abs(noised[0] - (0.5 + 2 * scheduler.sigmas[4])) < 1e-5);
  assert.ok(Math.abs(noised[1] - (1 - scheduler.sigmas[4])) < 1e-5);
  assert.throws(() => scheduler.addNoise(sample, sample, 10), /step index/);
});

test('Turbo-style 1 and 2 trailing steps run and end on x0', () => {
  for (const steps of [1, 2]) {
    const scheduler = createEulerAncestralScheduler({ ...sd15(), timestep_spacing: 'trailing' }, steps);
    assert.deepEqual(scheduler.timesteps, steps === 1 ? [999] : [999, 499]);
    assertRelClose([scheduler.initNoiseSigma], [14.6146488], 1e-6, 'init_noise_sigma');
    const rng = countingNoise(0.3);
    let latents: Float32Array = new Float32Array(16).fill(scheduler.initNoiseSigma);
    let last: SchedulerStepResult = { prevSample: latents, predOriginal: latents };
    scheduler.timesteps.forEach((_, i) => {
      assert.ok(scheduler.scaleModelInput(latents, i).every(Number.isFinite));
      last = scheduler.step(new Float32Array(16).fill(0.9), i, latents, rng);
      latents = last.prevSample;
    });
    assert.ok(latents.every(Number.isFinite));
    assert.deepEqual(Array.from(latents), Array.from(last.predOriginal));
    assert.equal(rng.draws.length, steps);
  }
});

test('use_karras_sigmas is refused rather than ignored', () => {
  assert.throws(() => createEulerAncestralScheduler({ ...sd15(), use_karras_sigmas: true }, 10), /karras/i);
});

test(`${CASE}: timesteps, sigmas and init_noise_sigma as diffusers gives them`, { skip: caseAbsent(CASE) }, () => {
  const c = readCase(CASE);
  const scheduler = createEulerAncestralScheduler(caseConfig(c), c.params.num_inference_steps);
  assertCaseSchedule(scheduler, c);
});

test(`${CASE}: the traced UNet outputs and recorded draws reproduce every step`, { skip: caseAbsent(CASE, TRACE_FILES) }, () => {
  const c = readCase(CASE);
  const result = replayCase(CASE, createEulerAncestralScheduler(caseConfig(c), c.params.num_inference_steps));
  // noise.npy: the initial latents, then one draw per step (index.json noise_draws = 11).
  assert.equal(result.stepDraws, c.params.num_inference_steps);
});
