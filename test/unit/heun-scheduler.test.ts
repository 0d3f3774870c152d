import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHeunScheduler } from '../../server/src/pipeline/schedulers/heun.scheduler.js';
import {
  assertCaseSchedule,
  assertRelClose,
  caseAbsent,
  caseConfig,
  noDraws,
  readCase,
  replayCase,
  sd15,
  TRACE_FILES,
} from '../helpers/scheduler-reference.js';

const CASE = 'sd1_t2i_heun_c1';

test('10 steps: 19 UNet calls, each later timestep and sigma twice (the reference case)', () => {
  const scheduler = createHeunScheduler(sd15(), 10);
  assert.equal(scheduler.order, 2);
  assert.deepEqual(scheduler.timesteps, [999, 888, 888, 777, 777, 666, 666, 555, 555, 444, 444, 333, 333, 222, 222, 111, 111, 0, 0]);
  const sigmas = [
    14.614645004272461, 7.8398847579956055, 7.8398847579956055, 4.609175682067871, 4.609175682067871, 2.9183082580566406,
    2.9183082580566406, 1.9501622915267944, 1.9501622915267944, 1.34492826461792, 1.34492826461792, 0.9323583245277405,
    0.9323583245277405, 0.6249772906303406, 0.6249772906303406, 0.36865851283073425, 0.36865851283073425,
    0.029167532920837402, 0.029167532920837402, 0,
  ];
  assertRelClose(scheduler.sigmas, sigmas, 1e-6, 'sigmas');
  assertRelClose([scheduler.initNoiseSigma], [14.614645004272461], 1e-6, 'init_noise_sigma');
});

test('1, 4, 20 and 50 steps: 2N − 1 calls over the linspace schedule', () => {
  const one = createHeunScheduler(sd15(), 1);
  assert.deepEqual(one.timesteps, [0]);
  assertRelClose(one.sigmas, [0.0291675329, 0], 1e-6, '1 step');

  const four = createHeunScheduler(sd15(), 4);
  assert.deepEqual(four.timesteps, [999, 666, 666, 333, 333, 0, 0]);
  const [s0, s1, s2, s3] = [14.6146488, 2.91830873, 0.932358325, 0.0291675329];
  assertRelClose(four.sigmas, [s0, s1, s1, s2, s2, s3, s3, 0], 1e-6, '4 steps');

  const twenty = createHeunScheduler(sd15(), 20);
  assert.equal(twenty.timesteps.length, 39);
  assertRelClose(twenty.timesteps.slice(0, 5), [999, 946.421082, 946.421082, 893.842102, 893.842102], 1e-6, '20 steps: timesteps');
  assertRelClose(twenty.sigmas.slice(0, 4), [14.6146488, 10.7468519, 10.7468519, 8.08153725], 1e-6, '20 steps: sigmas');
  assertRelClose(twenty.sigmas.slice(-4), [0.232168198, 0.0291675329, 0.0291675329, 0], 1e-6, '20 steps: last sigmas');

  const fifty = createHeunScheduler(sd15(), 50);
  assert.equal(fifty.timesteps.length, 99);
  assertRelClose(fifty.sigmas.slice(0, 3), [14.6146488, 12.93678, 12.93678], 1e-6, '50 steps: sigmas');
  assertRelClose(fifty.sigmas.slice(-4), [0.13933751, 0.0291675329, 0.0291675329, 0], 1e-6, '50 steps: last sigmas');
});

test('a first half is Euler; the second half averages both slopes and restarts from the first half’s sample', () => {
  const scheduler = createHeunScheduler(sd15(), 10);
  const x = new Float32Array(4).fill(3);
  const eps1 = new Float32Array(4).fill(0.5);
  const eps2 = new Float32Array(4).fill(-0.25);
  const [sigma, next] = [scheduler.sigmas[0], scheduler.sigmas[1]];

  const first = scheduler.step(eps1, 0, x, noDraws);
  first.prevSample.forEach((v) => assert.ok(Math.abs(v - (3 + 0.5 * (next - sigma))) < 1e-5));
  const second = scheduler.step(eps2, 1, first.prevSample, noDraws);
  // ε-prediction makes each slope the ε itself: x ← x + ½(ε₁ + ε₂)(σ_next − σ).
  second.prevSample.forEach((v) => assert.ok(Math.abs(v - (3 + 0.5 * (0.5 - 0.25) * (next - sigma))) < 1e-5, `${v}`));
  // The preview's x0 comes from the sample the UNet saw at σ_next.
  second.predOriginal.forEach((v, i) => assert.ok(Math.abs(v - (first.prevSample[i] + 0.25 * next)) < 1e-5));
});

test('a second half needs its first half just before it', () => {
  const scheduler = createHeunScheduler(sd15(), 10);
  const x = new Float32Array(4).fill(1);
  assert.throws(() => scheduler.step(x, 1, x, noDraws), /first half/);
  scheduler.step(x, 2, x, noDraws);
  assert.throws(() => scheduler.step(x, 5, x, noDraws), /first half/);
  scheduler.step(x, 2, x, noDraws);
  scheduler.step(x, 3, x, noDraws);
  // Used up: the same second half cannot run twice.
  assert.throws(() => scheduler.step(x, 3, x, noDraws), /first half/);
  assert.throws(() => scheduler.step(x, 19, x, noDraws), /step index/);
});

test('the last call is a plain Euler step to σ = 0 and lands on x0', () => {
  const scheduler = createHeunScheduler(sd15(), 10);
  const x = new Float32Array(4).fill(0.7);
  const last = scheduler.step(new Float32Array(4).fill(0.2), 18, x, noDraws);
  last.prevSample.forEach((v, i) => assert.ok(Math.abs(v - last.predOriginal[i]) < 1e-6));
});

test('scaleModelInput uses each call’s σ; img2img starts at call 2·t_start with that step’s σ', () => {
  const scheduler = createHeunScheduler(sd15(), 10);
  const sample = new Float32Array([2]);
  // Call 1 is the second half at σ1: its input is scaled with σ1, not σ0.
  assert.ok(Math.abs(scheduler.scaleModelInput(sample, 1)[0] - 2 / Math.hypot(scheduler.sigmas[1], 1)) < 1e-6);
  // strength 0.6 with 10 steps: t_start = 4, so the loop starts at call 8, a first half at t = 555.
  const start = 4 * scheduler.order;
  assert.equal(scheduler.timesteps[start], 555);
  assert.equal(scheduler.timesteps[start - 1], 555);
  const noised = scheduler.addNoise(new Float32Array([1]), new Float32Array([1]), start);
  assert.ok(Math.abs(noised[0] - (1 + 1.9501622915267944)) < 1e-5);
  // The run from there: 2·(10 − 4) − 1 = 11 calls, alternating halves.
  const x = new Float32Array(1).fill(1);
  for (let i = start; i < scheduler.timesteps.length; i++) assert.ok(scheduler.step(x, i, x, noDraws).prevSample.every(Number.isFinite));
});

test('v-prediction and clip_sample', () => {
  const v = createHeunScheduler({ ...sd15(), prediction_type: 'v_prediction' }, 10);
  const sigma = v.sigmas[0];
  const { predOriginal } = v.step(new Float32Array([1]), 0, new Float32Array([3]), noDraws);
  assert.ok(Math.abs(predOriginal[0] - (-sigma / Math.hypot(sigma, 1) + 3 / (sigma ** 2 + 1))) < 1e-5);
  const clipped = createHeunScheduler({ ...sd15(), clip_sample: true, clip_sample_range: 1 }, 10);
  assert.deepEqual(Array.from(clipped.step(new Float32Array([0]), 0, new Float32Array([5]), noDraws).predOriginal), [1]);
});

test('Turbo-style 1 and 2 trailing steps: 1 and 3 calls, ending on x0', () => {
  for (const [steps, expected] of [
    [1, [999]],
    [2, [999, 499, 499]],
  ] as const) {
    const scheduler = createHeunScheduler({ ...sd15(), timestep_spacing: 'trailing' }, steps);
    assert.deepEqual(scheduler.timesteps, expected);
    let latents: Float32Array = new Float32Array(8).fill(scheduler.initNoiseSigma);
    let predOriginal: Float32Array = latents;
    scheduler.timesteps.forEach((_, i) => {
      const out = scheduler.step(new Float32Array(8).fill(0.9), i, latents, noDraws);
      latents = out.prevSample;
      predOriginal = out.predOriginal;
    });
    assert.ok(latents.every(Number.isFinite));
    latents.forEach((v, i) => assert.ok(Math.abs(v - predOriginal[i]) < 1e-5));
  }
});

test(`${CASE}: timesteps, sigmas and init_noise_sigma as diffusers gives them`, { skip: caseAbsent(CASE) }, () => {
  const c = readCase(CASE);
  const scheduler = createHeunScheduler(caseConfig(c), c.params.num_inference_steps);
  assertCaseSchedule(scheduler, c);
});

test(`${CASE}: the traced UNet outputs reproduce every call's latents (first halves included)`, { skip: caseAbsent(CASE, TRACE_FILES) }, () => {
  const c = readCase(CASE);
  const result = replayCase(CASE, createHeunScheduler(caseConfig(c), c.params.num_inference_steps));
  assert.equal(result.stepDraws, 0);
});
