import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createPndmScheduler } from '../../server/src/pipeline/schedulers/pndm.scheduler.js';
import { alphasCumprod } from '../../server/src/pipeline/schedulers/scheduler.js';
import type { Scheduler } from '../../server/src/pipeline/schedulers/scheduler.js';
import { readNpyFloat32 } from '../helpers/npy.js';
import {
  assertNear as close,
  assertUnscaledInput,
  caseAbsent,
  caseConfig,
  dataAbsent,
  describeReplay,
  noDraws,
  pipelineDir,
  readCase,
  referenceDir,
  relativeL2,
  replayCase,
  sd15,
  TRACE_FILES,
} from '../helpers/scheduler-reference.js';

// sd15(): the SD 1.5 scheduler_config.json: PNDM with skip_prk_steps and no spacing (PNDM's default is leading).
const ALPHAS = alphasCumprod(sd15());

/** diffusers' img2img start: t_start = N − min(int(N·strength), N), times PNDM's order (1). */
const img2imgStart = (steps: number, strength: number): number => steps - Math.min(Math.trunc(steps * strength), steps);

/** PNDM eq. (9) in float64: x at ᾱ_t moved to ᾱ_prev along ε (t_prev < 0 → ᾱ_0, as set_alpha_to_one is false). */
function transfer(x: number, t: number, tPrev: number, eps: number): number {
  const a = ALPHAS[t];
  const ap = tPrev >= 0 ? ALPHAS[tPrev] : ALPHAS[0];
  return Math.sqrt(ap / a) * x - ((ap - a) * eps) / (a * Math.sqrt(1 - ap) + Math.sqrt(a * (1 - a) * ap));
}

const TEN_STEPS = [901, 801, 801, 701, 601, 501, 401, 301, 201, 101, 1];

test('golden PLMS timesteps: N + 1 entries, the second repeated', () => {
  const timesteps = (n: number): number[] => createPndmScheduler(sd15(), n).timesteps;
  // One step has nothing to repeat: a single call that steps straight to ᾱ_0.
  assert.deepEqual(timesteps(1), [1]);
  assert.deepEqual(timesteps(4), [751, 501, 501, 251, 1]);
  assert.deepEqual(timesteps(10), TEN_STEPS);
  assert.deepEqual(timesteps(20), [
    951, 901, 901, 851, 801, 751, 701, 651, 601, 551, 501, 451, 401, 351, 301, 251, 201, 151, 101, 51, 1,
  ]);
  assert.deepEqual(timesteps(50), [
    981, 961, 961, 941, 921, 901, 881, 861, 841, 821, 801, 781, 761, 741, 721, 701, 681, 661, 641, 621, 601, 581, 561,
    541, 521, 501, 481, 461, 441, 421, 401, 381, 361, 341, 321, 301, 281, 261, 241, 221, 201, 181, 161, 141, 121, 101,
    81, 61, 41, 21, 1,
  ]);
  assert.deepEqual(createPndmScheduler({ ...sd15(), timestep_spacing: 'trailing' }, 4).timesteps, [999, 749, 749, 499, 249]);
});

test('init_noise_sigma 1, identity scale_model_input, order 1', () => {
  assertUnscaledInput(createPndmScheduler(sd15(), 10), 2, [1, -2]);
});

test('PLMS by hand: warm-up pair, then Adams–Bashforth of order 2, 3, 4 over the stored ε', () => {
  const scheduler = createPndmScheduler(sd15(), 10);
  const eps = [0.3, -0.7, 1.1, 0.2, -0.4, 0.9];
  const inputs = [1.25, -0.5, 0.75, 2, -1.5, 0.5];
  const run = (i: number): number => scheduler.step(new Float32Array([eps[i]]), i, new Float32Array([inputs[i]]), noDraws).prevSample[0];
  close(run(0), transfer(inputs[0], 901, 801, eps[0]), 'call 0: plain step with ε0');
  // Call 1 (t = 801 again) re-runs 901 → 801 from the stored sample with the averaged ε; its ε is not kept.
  close(run(1), transfer(inputs[0], 901, 801, (eps[0] + eps[1]) / 2), 'call 1: warm-up');
  close(run(2), transfer(inputs[2], 801, 701, (3 * eps[2] - eps[0]) / 2), 'call 2: AB2 of ε2, ε0');
  close(run(3), transfer(inputs[3], 701, 601, (23 * eps[3] - 16 * eps[2] + 5 * eps[0]) / 12), 'call 3: AB3');
  const ab4 = (55 * eps[4] - 59 * eps[3] + 37 * eps[2] - 9 * eps[0]) / 24;
  close(run(4), transfer(inputs[4], 601, 501, ab4), 'call 4: AB4');
  const ab4next = (55 * eps[5] - 59 * eps[4] + 37 * eps[3] - 9 * eps[2]) / 24;
  close(run(5), transfer(inputs[5], 501, 401, ab4next), 'call 5: AB4 forgets ε0');
});

test('predOriginal is x0 from the call’s own ε at its timestep', () => {
  const scheduler = createPndmScheduler(sd15(), 10);
  const { predOriginal } = scheduler.step(new Float32Array([0.5]), 0, new Float32Array([2]), noDraws);
  close(predOriginal[0], (2 - Math.sqrt(1 - ALPHAS[901]) * 0.5) / Math.sqrt(ALPHAS[901]), 'x0');
});

test('the scheduler is stateful: steps must follow one another', () => {
  const scheduler = createPndmScheduler(sd15(), 10);
  const x = new Float32Array(4);
  scheduler.step(x, 4, x, noDraws);
  assert.throws(() => scheduler.step(x, 6, x, noDraws), /stateful/);
  assert.throws(() => scheduler.step(x, 11, x, noDraws), /step index/);
});

test('without skip_prk_steps: 12 Runge–Kutta calls over the first three steps, then PLMS', () => {
  const config = { ...sd15(), skip_prk_steps: false };
  const scheduler = createPndmScheduler(config, 10);
  assert.deepEqual(scheduler.timesteps, [
    901, 851, 851, 801, 801, 751, 751, 701, 701, 651, 651, 601, 601, 501, 401, 301, 201, 101, 1,
  ]);
  assert.throws(() => createPndmScheduler(config, 3), /at least 4 steps/);

  // The first RK step: every stage starts from the step's first sample; the 4th combines ε with 1/6, 1/3, 1/3, 1/6.
  const e = [0.4, -0.2, 0.9, 0.1];
  const x = 1.5;
  const outs = e.map((eps, i) => scheduler.step(new Float32Array([eps]), i, new Float32Array([i === 0 ? x : 99]), noDraws).prevSample[0]);
  close(outs[0], transfer(x, 901, 851, e[0]), 'stage 1');
  close(outs[1], transfer(x, 901, 851, e[1]), 'stage 2');
  close(outs[2], transfer(x, 901, 801, e[2]), 'stage 3');
  close(outs[3], transfer(x, 901, 801, e[0] / 6 + e[1] / 3 + e[2] / 3 + e[3] / 6), 'stage 4');

  // With a constant ε every multistep combination is that ε, and chained transfers keep x0 fixed: PRK and PLMS
  // runs must both end at √ᾱ_0·x0 + √(1−ᾱ_0)·ε.
  const finalOf = (s: Scheduler): number => {
    let sample: Float32Array = new Float32Array([x]);
    s.timesteps.forEach((_, i) => (sample = s.step(new Float32Array([0.6]), i, sample, noDraws).prevSample));
    return sample[0];
  };
  const x0 = (x - Math.sqrt(1 - ALPHAS[901]) * 0.6) / Math.sqrt(ALPHAS[901]);
  const expected = Math.sqrt(ALPHAS[0]) * x0 + Math.sqrt(1 - ALPHAS[0]) * 0.6;
  close(finalOf(createPndmScheduler(config, 10)), expected, 'PRK run');
  close(finalOf(createPndmScheduler(sd15(), 10)), expected, 'PLMS run');
});

test('img2img start index: strength 0.6 of 10 steps starts at index 4 of the 11 timesteps (t = 601)', () => {
  const scheduler = createPndmScheduler(sd15(), 10);
  assert.equal(img2imgStart(10, 0.6), 4);
  assert.deepEqual(scheduler.timesteps.slice(img2imgStart(10, 0.6)), [601, 501, 401, 301, 201, 101, 1]);
  // The slice counts list entries, not steps: strength 0.9 keeps the repeated 801 at the front.
  assert.deepEqual(scheduler.timesteps.slice(img2imgStart(10, 0.9)), [801, 801, 701, 601, 501, 401, 301, 201, 101, 1]);
  assert.deepEqual(scheduler.timesteps.slice(img2imgStart(10, 1)), TEN_STEPS);
  const noisy = scheduler.addNoise(new Float32Array([2]), new Float32Array([0.5]), 4);
  close(noisy[0], Math.sqrt(ALPHAS[601]) * 2 + Math.sqrt(1 - ALPHAS[601]) * 0.5, 'add noise at t = 601');
});

// ---- reference cases ---------------------------------------------------------------------------------------------

/** UNet inputs are compared within relative L2 1e-5 here (the other schedulers' replays allow 1e-6). */
const PNDM_INPUT_TOLERANCE = 1e-5;

test('sd1_t2i_pndm_c1: 11 UNet calls reproduce every step and the final latents', { skip: caseAbsent('sd1_t2i_pndm_c1', TRACE_FILES) }, (t) => {
  const c = readCase('sd1_t2i_pndm_c1');
  const scheduler = createPndmScheduler(caseConfig(c), c.params.num_inference_steps);
  assert.deepEqual(scheduler.timesteps, c.scheduler_timesteps);
  assert.deepEqual(scheduler.timesteps, c.unet_timesteps);
  assert.deepEqual(c.scheduler_timesteps, TEN_STEPS);
  assert.equal(scheduler.initNoiseSigma, c.init_noise_sigma);
  const result = replayCase('sd1_t2i_pndm_c1', scheduler, { inputTolerance: PNDM_INPUT_TOLERANCE });
  assert.equal(result.recordedDraws, 1, 'PNDM draws only the initial noise');
  t.diagnostic(describeReplay(result));
});

const LATENT_MEAN = join(referenceDir, 'components/tiny-sd1/vae_encoder.latent_mean.npy');
const I2I_FILES = [...TRACE_FILES.map((f) => join(pipelineDir, 'sd1_i2i_pndm', f)), LATENT_MEAN];

test('sd1_i2i_pndm: sliced timesteps, add_noise at t_start, and the 7 calls from there', { skip: dataAbsent(I2I_FILES) }, (t) => {
  const c = readCase('sd1_i2i_pndm');
  const steps = c.params.num_inference_steps;
  const scheduler = createPndmScheduler(caseConfig(c), steps);
  const start = img2imgStart(steps, c.params.strength ?? 1) * scheduler.order;
  assert.equal(start, 4);
  assert.deepEqual(scheduler.timesteps, c.scheduler_timesteps);
  assert.deepEqual(scheduler.timesteps.slice(start), c.unet_timesteps);

  // The components' VAE encoder ran on this case's input image; its mean × 0.18215 is the clean latent (the
  // posterior's spread is negligible by construction), and noise.npy[1] is the add-noise draw.
  const noise = readNpyFloat32(join(pipelineDir, 'sd1_i2i_pndm', 'noise.npy'));
  const size = noise.data.length / noise.shape[0];
  const clean = readNpyFloat32(LATENT_MEAN).data.map((m) => m * 0.18215);
  const noisy = scheduler.addNoise(clean, noise.data.subarray(size, 2 * size), start);
  const firstInput = readNpyFloat32(join(pipelineDir, 'sd1_i2i_pndm', 'trace_unet_sample.npy')).data.subarray(0, size);
  const addNoiseErr = relativeL2(noisy, firstInput);
  assert.ok(addNoiseErr <= 1e-5, `add_noise relative L2 ${addNoiseErr}`);

  // A fresh scheduler starting at index 4 (its counter at 0) replays diffusers, quirks included.
  const result = replayCase('sd1_i2i_pndm', scheduler, {
    start,
    initial: firstInput.slice(),
    drawsBefore: 2,
    inputTolerance: PNDM_INPUT_TOLERANCE,
  });
  t.diagnostic(`${describeReplay(result)}; add_noise rel L2 ${addNoiseErr.toExponential(2)}`);
});
