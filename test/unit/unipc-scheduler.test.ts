import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createUniPcScheduler } from '../../server/src/pipeline/schedulers/unipc.scheduler.js';
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

const CASE = 'sd1_t2i_unipc_c1';

// ---- UniPC-2 (bh2, data prediction) in float64 from the paper's formulas, for one scalar ---------------------------

/**
 * One UniPC update from σ_s to σ_t: x0s are the data predictions at σ_s (last) and before (σs likewise);
 * `corrector` adds the prediction made at σ_t. Returns the new sample.
 */
function uniUpdate(x: number, x0s: number[], sigmas: number[], to: number, order: number, corrector?: number): number {
  const s = vp(sigmas[sigmas.length - 1]);
  const t = vp(to);
  const h = t.lambda - s.lambda;
  const hh = -h;
  const bh = Math.expm1(hh);
  const m0 = x0s[x0s.length - 1];
  let out = (t.sigmaT / s.sigmaT) * x - t.alpha * bh * m0;
  const b1 = (bh / hh - 1) / bh;
  const b2 = (2 * ((bh / hh - 1) / hh - 0.5)) / bh;
  const r = order === 2 ? (vp(sigmas[sigmas.length - 2]).lambda - s.lambda) / h : 1;
  const d1 = order === 2 ? (x0s[x0s.length - 2] - m0) / r : 0;
  if (corrector === undefined) return out - t.alpha * bh * 0.5 * d1;
  const rhoOld = order === 2 ? (b1 - b2) / (1 - r) : 0;
  const rhoNew = order === 2 ? b1 - rhoOld : 0.5;
  out -= t.alpha * bh * (rhoOld * d1 + rhoNew * (corrector - m0));
  return out;
}

/** The whole loop in float64, ε = eps(i) and a scalar sample: returns every predicted sample. */
function referenceLoop(sigmas: number[], steps: number, eps: (i: number) => number, x: number): number[] {
  const outputs: number[] = [];
  const x0s: number[] = [];
  const orders: number[] = [];
  let last = x;
  for (let i = 0; i < steps; i++) {
    const a = vp(sigmas[i]);
    const x0 = (x - a.sigmaT * eps(i)) / a.alpha;
    if (i > 0) x = uniUpdate(last, x0s.slice(-2), sigmas.slice(0, i), sigmas[i], orders[i - 1], x0);
    x0s.push(x0);
    const order = Math.min(2, steps - i, x0s.length);
    orders.push(order);
    last = x;
    x = uniUpdate(x, x0s.slice(-2), sigmas.slice(0, i + 1), sigmas[i + 1], order);
    outputs.push(x);
  }
  return outputs;
}

function runScalar(scheduler: ReturnType<typeof createUniPcScheduler>, eps: (i: number) => number, x: number, start = 0): number[] {
  const outputs: number[] = [];
  let sample: Float32Array = new Float32Array([x]);
  for (let i = start; i < scheduler.timesteps.length; i++) {
    sample = scheduler.step(new Float32Array([eps(i)]), i, sample, noDraws).prevSample;
    outputs.push(sample[0]);
  }
  return outputs;
}

const wavyEps = (i: number): number => 0.3 * Math.sin(i + 1) + 0.1 * i;

test('10 steps: the reference case schedule (DPMSolverMultistep’s linspace)', () => {
  const scheduler = createUniPcScheduler(sd15(), 10);
  assert.deepEqual(scheduler.timesteps, TEN_MULTISTEP_TIMESTEPS);
  assertRelClose(scheduler.sigmas, TEN_MULTISTEP_SIGMAS, 1e-6, 'sigmas');
  assert.equal(scheduler.initNoiseSigma, 1);
  assert.equal(scheduler.order, 1);
});

test('1, 4, 20 and 50 steps: the multistep schedule; Karras from the config flag', () => {
  assert.deepEqual(createUniPcScheduler(sd15(), 1).timesteps, [999]);
  const four = createUniPcScheduler(sd15(), 4);
  assert.deepEqual(four.timesteps, [999, 749, 500, 250]);
  assertRelClose(four.sigmas, [14.6146488, 4.0817318, 1.61827981, 0.69579947, 0.0291675329], 1e-6, '4 steps');
  const twenty = createUniPcScheduler(sd15(), 20);
  assert.deepEqual(twenty.timesteps.slice(0, 3), [999, 949, 899]);
  assertRelClose(twenty.sigmas.slice(-3), [0.343931824, 0.225582555, 0.0291675329], 1e-6, '20 steps');
  const fifty = createUniPcScheduler(sd15(), 50);
  assert.deepEqual(fifty.timesteps.slice(-2), [40, 20]);
  assertRelClose(fifty.sigmas.slice(0, 3), [14.6146488, 12.9663277, 11.5427761], 1e-6, '50 steps');
  const karras = createUniPcScheduler({ ...sd15(), use_karras_sigmas: true }, 20);
  assertRelClose(karras.sigmas.slice(0, 4), [14.6146488, 11.7253742, 9.34021282, 7.38362789], 1e-6, 'Karras 20 steps');
  assert.equal(karras.timesteps[19], 0);
});

test('predictor and corrector match a float64 UniPC-2 (bh2) written from the formulas', () => {
  for (const steps of [10, 20]) {
    const scheduler = createUniPcScheduler(sd15(), steps);
    const ours = runScalar(scheduler, wavyEps, 0.8);
    const expected = referenceLoop(scheduler.sigmas, steps, wavyEps, 0.8);
    ours.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) <= 1e-5 * Math.max(1, Math.abs(expected[i])), `${steps} steps, step ${i}: ${v} vs ${expected[i]}`));
  }
});

test('history matters: without it a step runs first order with no corrector; x0 comes from the uncorrected sample', () => {
  const warm = createUniPcScheduler(sd15(), 10);
  const x = new Float32Array([0.8]);
  const first = warm.step(new Float32Array([0.2]), 0, x, noDraws);
  const corrected = warm.step(new Float32Array([0.4]), 1, first.prevSample, noDraws);
  // A fresh scheduler (as img2img starts) has no earlier x0: no corrector, and a first-order prediction.
  const cold = createUniPcScheduler(sd15(), 10).step(new Float32Array([0.4]), 1, first.prevSample, noDraws);
  assert.ok(Math.abs(corrected.prevSample[0] - cold.prevSample[0]) > 1e-4);
  // x0 is taken from the sample the UNet saw (uncorrected), as diffusers' convert_model_output does.
  assert.deepEqual(Array.from(corrected.predOriginal), Array.from(cold.predOriginal));
});

test('img2img: a run from a later step starts without corrector; add_noise is α·x0 + σ_t·ε', () => {
  const scheduler = createUniPcScheduler(sd15(), 10);
  const partial = runScalar(scheduler, wavyEps, 0.8, 4);
  const expected = referenceLoop(scheduler.sigmas.slice(4), 6, (i) => wavyEps(i + 4), 0.8);
  partial.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) <= 1e-5 * Math.max(1, Math.abs(expected[i])), `step ${i + 4}`));
  const alphaProd = alphasCumprod(sd15())[scheduler.timesteps[4]];
  const noised = scheduler.addNoise(new Float32Array([0.5]), new Float32Array([1]), 4);
  assert.ok(Math.abs(noised[0] - (Math.sqrt(alphaProd) * 0.5 + Math.sqrt(1 - alphaProd))) < 1e-6);
});

test('a restarted loop gives the same result; bad indices and sizes throw', () => {
  const scheduler = createUniPcScheduler(sd15(), 10);
  assert.deepEqual(runScalar(scheduler, wavyEps, 0.8), runScalar(scheduler, wavyEps, 0.8));
  const x = new Float32Array([1]);
  assert.throws(() => scheduler.step(x, 10, x, noDraws), /step index/);
  assert.throws(() => scheduler.step(new Float32Array(2), 0, x, noDraws), /model output/);
  assert.deepEqual(Array.from(scheduler.scaleModelInput(x, 0)), [1]);
  assert.notEqual(scheduler.scaleModelInput(x, 0), x);
});

test('v-prediction: x0 = α·x − σ_t·v', () => {
  const scheduler = createUniPcScheduler({ ...sd15(), prediction_type: 'v_prediction' }, 10);
  const { alpha, sigmaT } = vp(scheduler.sigmas[0]);
  const { predOriginal } = scheduler.step(new Float32Array([0.5]), 0, new Float32Array([1.5]), noDraws);
  assert.ok(Math.abs(predOriginal[0] - (alpha * 1.5 - sigmaT * 0.5)) < 1e-6);
});

test('Turbo-style 1 and 2 trailing steps run; final_sigmas_type "zero" lands on x0', () => {
  for (const steps of [1, 2]) {
    const scheduler = createUniPcScheduler({ ...sd15(), timestep_spacing: 'trailing' }, steps);
    assert.deepEqual(scheduler.timesteps, steps === 1 ? [999] : [999, 499]);
    assert.ok(runScalar(scheduler, wavyEps, 0.8).every(Number.isFinite));
    const zero = createUniPcScheduler({ ...sd15(), timestep_spacing: 'trailing' }, steps, { finalSigmasType: 'zero' });
    let sample: Float32Array = new Float32Array([0.8]);
    let x0: Float32Array = sample;
    zero.timesteps.forEach((_, i) => {
      const out = zero.step(new Float32Array([wavyEps(i)]), i, sample, noDraws);
      sample = out.prevSample;
      x0 = out.predOriginal;
    });
    assert.ok(Math.abs(sample[0] - x0[0]) < 1e-5, `${steps} steps: ${sample[0]} vs ${x0[0]}`);
  }
});

test(`${CASE}: timesteps, sigmas and init_noise_sigma as diffusers gives them`, { skip: caseAbsent(CASE) }, () => {
  const c = readCase(CASE);
  const scheduler = createUniPcScheduler(caseConfig(c), c.params.num_inference_steps);
  assertCaseSchedule(scheduler, c);
});

test(`${CASE}: the traced UNet outputs reproduce every step's latents`, { skip: caseAbsent(CASE, TRACE_FILES) }, () => {
  const c = readCase(CASE);
  assert.equal(replayCase(CASE, createUniPcScheduler(caseConfig(c), c.params.num_inference_steps)).stepDraws, 0);
});
