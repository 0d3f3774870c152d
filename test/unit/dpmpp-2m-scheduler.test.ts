import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createDpmpp2mKarrasScheduler,
  createDpmpp2mScheduler,
  createDpmSolverMultistepScheduler,
} from '../../server/src/pipeline/schedulers/dpmpp-2m.scheduler.js';
import { alphasCumprod } from '../../server/src/pipeline/schedulers/scheduler.js';
import {
  assertCaseSchedule,
  assertRelClose,
  caseAbsent,
  caseConfig,
  noDraws,
  readCase,
  replayCase,
  sd15,
  TEN_MULTISTEP_SIGMAS,
  TEN_MULTISTEP_TIMESTEPS,
  TRACE_FILES,
  vp64 as vp,
} from '../helpers/scheduler-reference.js';

const PLAIN_CASE = 'sd1_t2i_dpmpp_2m_c1';
const KARRAS_CASE = 'sd1_t2i_dpmpp_2m_karras_c1';

// ---- DPM-Solver++ in float64, written from the paper's VP form (onnx-pipeline.md §3.3) -------------------------
const x0Of = (x: number, eps: number, sigma: number): number => (x - vp(sigma).sigmaT * eps) / vp(sigma).alpha;
function firstOrder(x: number, x0: number, from: number, to: number): number {
  const [s, t] = [vp(from), vp(to)];
  return (t.sigmaT / s.sigmaT) * x - t.alpha * (Math.exp(-(t.lambda - s.lambda)) - 1) * x0;
}
function secondOrder(x: number, x0: number, x0Before: number, before: number, from: number, to: number): number {
  const [p, s, t] = [vp(before), vp(from), vp(to)];
  const h = t.lambda - s.lambda;
  const d1 = (x0 - x0Before) / ((s.lambda - p.lambda) / h);
  return firstOrder(x, x0, from, to) - 0.5 * t.alpha * (Math.exp(-h) - 1) * d1;
}

/** Runs every step with ε = 0.1·(i + 1), sample size 1; returns the sample before and x0 at each step. */
function run(scheduler: ReturnType<typeof createDpmpp2mScheduler>, start = 0): { xs: number[]; x0s: number[]; final: number } {
  const xs: number[] = [];
  const x0s: number[] = [];
  let x: Float32Array = new Float32Array([0.8]);
  for (let i = start; i < scheduler.timesteps.length; i++) {
    xs.push(x[0]);
    const out = scheduler.step(new Float32Array([0.1 * (i + 1)]), i, x, noDraws);
    x0s.push(out.predOriginal[0]);
    x = out.prevSample;
  }
  return { xs, x0s, final: x[0] };
}

test('10 steps: the reference cases’ schedules (linspace; Karras)', () => {
  const plain = createDpmpp2mScheduler(sd15(), 10);
  assert.deepEqual(plain.timesteps, TEN_MULTISTEP_TIMESTEPS);
  assertRelClose(plain.sigmas, TEN_MULTISTEP_SIGMAS, 1e-6, 'sigmas');
  const karras = createDpmpp2mKarrasScheduler(sd15(), 10);
  assert.deepEqual(karras.timesteps, [999, 916, 815, 687, 523, 327, 146, 41, 7, 0]);
  assertRelClose(
    karras.sigmas,
    [
      14.614645004272461, 9.102935791015625, 5.478400707244873, 3.1686108112335205, 1.7494229078292847, 0.9140763878822327,
      0.44692087173461914, 0.20139984786510468, 0.08191104978322983, 0.029167532920837402, 0.029167532920837402,
    ],
    1e-6,
    'Karras sigmas',
  );
  for (const scheduler of [plain, karras]) {
    assert.equal(scheduler.initNoiseSigma, 1);
    assert.equal(scheduler.order, 1);
  }
});

test('1, 4, 20 and 50 steps: N+1 rounded linspace points, last dropped; σ_min appended', () => {
  const one = createDpmpp2mScheduler(sd15(), 1);
  assert.deepEqual(one.timesteps, [999]);
  assertRelClose(one.sigmas, [14.6146488, 0.0291675329], 1e-6, '1 step');
  // linspace(0, 999, 5) holds 499.5, which NumPy rounds to the even 500.
  const four = createDpmpp2mScheduler(sd15(), 4);
  assert.deepEqual(four.timesteps, [999, 749, 500, 250]);
  assertRelClose(four.sigmas, [14.6146488, 4.0817318, 1.61827981, 0.69579947, 0.0291675329], 1e-6, '4 steps');
  const twenty = createDpmpp2mScheduler(sd15(), 20);
  assert.deepEqual(twenty.timesteps, [999, 949, 899, 849, 799, 749, 699, 649, 599, 549, 500, 450, 400, 350, 300, 250, 200, 150, 100, 50]);
  assertRelClose(twenty.sigmas.slice(0, 4), [14.6146488, 10.9042416, 8.30280685, 6.44295788], 1e-6, '20 steps');
  assertRelClose(twenty.sigmas.slice(-3), [0.343931824, 0.225582555, 0.0291675329], 1e-6, '20 steps: last sigmas');
  const fifty = createDpmpp2mScheduler(sd15(), 50);
  assert.deepEqual([...fifty.timesteps.slice(0, 4), ...fifty.timesteps.slice(24, 26), ...fifty.timesteps.slice(-2)], [999, 979, 959, 939, 519, 500, 40, 20]);
  assertRelClose(fifty.sigmas.slice(0, 3), [14.6146488, 12.9663277, 11.5427761], 1e-6, '50 steps');
  assertRelClose(fifty.sigmas.slice(-3), [0.199058905, 0.137990952, 0.0291675329], 1e-6, '50 steps: last sigmas');
});

test('Karras: 1, 4, 20 and 50 steps, timesteps found back by log-σ interpolation and rounded', () => {
  const one = createDpmpp2mKarrasScheduler(sd15(), 1);
  assert.deepEqual(one.timesteps, [999]);
  assertRelClose(one.sigmas, [14.6146488, 14.6146488], 1e-6, '1 step');
  const four = createDpmpp2mKarrasScheduler(sd15(), 4);
  assert.deepEqual(four.timesteps, [999, 687, 146, 0]);
  assertRelClose(four.sigmas, [14.6146488, 3.16861129, 0.446920931, 0.0291675329, 0.0291675329], 1e-6, '4 steps');
  // onnx-pipeline.md §3.3: N = 20 → 14.6147, 11.7254, 9.3402, 7.3836 … 0.0292.
  const twenty = createDpmpp2mKarrasScheduler(sd15(), 20);
  assert.deepEqual(twenty.timesteps, [999, 962, 921, 876, 827, 772, 710, 640, 561, 474, 380, 285, 197, 123, 69, 35, 15, 6, 2, 0]);
  assertRelClose(twenty.sigmas.slice(0, 4), [14.6146488, 11.7253742, 9.34021282, 7.38362789], 1e-6, '20 steps');
  assertRelClose(twenty.sigmas.slice(-3), [0.0484819151, 0.0291675329, 0.0291675329], 1e-6, '20 steps: last sigmas');
  // 50 steps crowd the low end: two sigmas round to t = 1. diffusers keeps both; steps go by index, not by t.
  const fifty = createDpmpp2mKarrasScheduler(sd15(), 50);
  assert.equal(fifty.timesteps.length, 50);
  assert.deepEqual([...fifty.timesteps.slice(0, 4), ...fifty.timesteps.slice(-4)], [999, 985, 970, 955, 2, 1, 1, 0]);
  assertRelClose(fifty.sigmas.slice(0, 3), [14.6146488, 13.4292431, 12.3272247], 1e-6, '50 steps');
  assertRelClose(fifty.sigmas.slice(-3), [0.0356763974, 0.0291675329, 0.0291675329], 1e-6, '50 steps: last sigmas');
});

test('leading and trailing spacings of DPMSolverMultistep', () => {
  // leading divides by N + 1 here (1000 // 11 = 90), unlike DDIM's 1000 // 10.
  const leading = createDpmpp2mScheduler({ ...sd15(), timestep_spacing: 'leading' }, 10);
  assert.deepEqual(leading.timesteps, [901, 811, 721, 631, 541, 451, 361, 271, 181, 91]);
  const trailing = createDpmpp2mScheduler({ ...sd15(), timestep_spacing: 'trailing' }, 4);
  assert.deepEqual(trailing.timesteps, [999, 749, 499, 249]);
});

test('first step first order, then second order (midpoint), last step first order below 15 steps', () => {
  const scheduler = createDpmpp2mScheduler(sd15(), 10);
  const s = scheduler.sigmas;
  const { xs, x0s, final } = run(scheduler);
  x0s.forEach((x0, i) => assert.ok(Math.abs(x0 - x0Of(xs[i], 0.1 * (i + 1), s[i])) < 1e-5, `x0 at step ${i}`));
  const close = (a: number, b: number, label: string) => assert.ok(Math.abs(a - b) <= 1e-5 * Math.max(1, Math.abs(b)), `${label}: ${a} vs ${b}`);
  close(xs[1], firstOrder(xs[0], x0s[0], s[0], s[1]), 'step 0');
  for (let i = 1; i < 9; i++) close(xs[i + 1], secondOrder(xs[i], x0s[i], x0s[i - 1], s[i - 1], s[i], s[i + 1]), `step ${i}`);
  close(final, firstOrder(xs[9], x0s[9], s[9], s[10]), 'last step (lower_order_final)');
  assert.ok(Math.abs(final - secondOrder(xs[9], x0s[9], x0s[8], s[8], s[9], s[10])) > 1e-3, 'the orders must differ here');
});

test('from 15 steps on the last step stays second order', () => {
  const scheduler = createDpmpp2mScheduler(sd15(), 15);
  const s = scheduler.sigmas;
  const { xs, x0s, final } = run(scheduler);
  const expected = secondOrder(xs[14], x0s[14], x0s[13], s[13], s[14], s[15]);
  assert.ok(Math.abs(final - expected) <= 1e-5 * Math.abs(expected), `${final} vs ${expected}`);
});

test('final_sigmas_type "zero": ends on σ = 0 with a first-order step that lands on x0', () => {
  const scheduler = createDpmSolverMultistepScheduler(sd15(), 20, { karras: true, finalSigmasType: 'zero' });
  assert.equal(scheduler.sigmas[20], 0);
  const { x0s, final } = run(scheduler);
  assert.ok(Math.abs(final - x0s[19]) < 1e-5, `${final} vs ${x0s[19]}`);
});

test('img2img: the first step run is first order, and add_noise is α·x0 + σ_t·ε at that step', () => {
  const scheduler = createDpmpp2mScheduler(sd15(), 10);
  const s = scheduler.sigmas;
  const { xs, x0s } = run(scheduler, 4);
  assert.ok(Math.abs(xs[1] - firstOrder(xs[0], x0s[0], s[4], s[5])) < 1e-5);
  // At an integer timestep this is DDPM's √ᾱ·x0 + √(1−ᾱ)·ε.
  const alphaProd = alphasCumprod(sd15())[scheduler.timesteps[4]];
  const noised = scheduler.addNoise(new Float32Array([0.5, -1]), new Float32Array([1, 2]), 4);
  assert.ok(Math.abs(noised[0] - (Math.sqrt(alphaProd) * 0.5 + Math.sqrt(1 - alphaProd))) < 1e-6);
  assert.ok(Math.abs(noised[1] - (-Math.sqrt(alphaProd) + 2 * Math.sqrt(1 - alphaProd))) < 1e-6);
  assert.throws(() => scheduler.addNoise(noised, noised, 10), /step index/);
});

test('a restarted loop drops the history instead of mixing two runs', () => {
  const scheduler = createDpmpp2mScheduler(sd15(), 10);
  const first = run(scheduler);
  const again = run(scheduler);
  assert.equal(again.final, first.final);
});

test('no input scaling, a new array; v-prediction x0 = α·x − σ_t·v', () => {
  const scheduler = createDpmpp2mScheduler({ ...sd15(), prediction_type: 'v_prediction' }, 10);
  const sample = new Float32Array([1.5]);
  const scaled = scheduler.scaleModelInput(sample, 3);
  assert.notEqual(scaled, sample);
  assert.deepEqual(Array.from(scaled), [1.5]);
  const { alpha, sigmaT } = vp(scheduler.sigmas[0]);
  const { predOriginal } = scheduler.step(new Float32Array([0.5]), 0, sample, noDraws);
  assert.ok(Math.abs(predOriginal[0] - (alpha * 1.5 - sigmaT * 0.5)) < 1e-6);
  assert.throws(() => scheduler.step(sample, 10, sample, noDraws), /step index/);
  assert.throws(() => scheduler.step(new Float32Array(2), 0, sample, noDraws), /model output/);
});

test('Turbo-style 1 and 2 trailing steps run (plain and Karras)', () => {
  for (const create of [createDpmpp2mScheduler, createDpmpp2mKarrasScheduler]) {
    for (const steps of [1, 2]) {
      const scheduler = create({ ...sd15(), timestep_spacing: 'trailing' }, steps);
      assert.equal(scheduler.timesteps.length, steps);
      const { final } = run(scheduler);
      assert.ok(Number.isFinite(final), `${create.name} ${steps}: ${final}`);
    }
  }
  assert.deepEqual(createDpmpp2mScheduler({ ...sd15(), timestep_spacing: 'trailing' }, 2).timesteps, [999, 499]);
});

for (const [name, create] of [
  [PLAIN_CASE, createDpmpp2mScheduler],
  [KARRAS_CASE, createDpmpp2mKarrasScheduler],
] as const) {
  test(`${name}: timesteps, sigmas and init_noise_sigma as diffusers gives them`, { skip: caseAbsent(name) }, () => {
    const c = readCase(name);
    const scheduler = create(caseConfig(c), c.params.num_inference_steps);
    assertCaseSchedule(scheduler, c);
  });

  test(`${name}: the traced UNet outputs reproduce every step's latents`, { skip: caseAbsent(name, TRACE_FILES) }, () => {
    const c = readCase(name);
    assert.equal(replayCase(name, create(caseConfig(c), c.params.num_inference_steps)).stepDraws, 0);
  });
}
