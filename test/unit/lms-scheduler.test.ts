import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLmsScheduler, lmsCoefficient } from '../../server/src/pipeline/schedulers/lms.scheduler.js';
import {
  assertCaseSchedule,
  assertRelClose,
  assertTenLinspaceSchedule,
  caseAbsent,
  caseConfig,
  describeReplay,
  noDraws,
  readCase,
  replayCase,
  sd15,
  TEN_LINSPACE_SIGMAS as TEN_SIGMAS,
  TEN_LINSPACE_TIMESTEPS as TEN_TIMESTEPS,
  TRACE_FILES,
} from '../helpers/scheduler-reference.js';

// sd15(): the SD 1.5 scheduler_config.json (a PNDM file, no spacing: LMS then uses its own default, linspace).
// TEN_*: the reference case's 10 steps, embedded so these checks run without the shared data.

test('golden linspace timesteps (fractional, as diffusers feeds them)', () => {
  const timesteps = (n: number): number[] => createLmsScheduler(sd15(), n).timesteps;
  // NumPy's linspace of one point is its start: a single LMS step runs at t = 0.
  assert.deepEqual(timesteps(1), [0]);
  assert.deepEqual(timesteps(4), [999, 666, 333, 0]);
  assert.deepEqual(timesteps(10), TEN_TIMESTEPS);
  assertRelClose(timesteps(20), [
    999, 946.4210815429688, 893.8421020507812, 841.26318359375, 788.6842041015625, 736.1052856445312, 683.5263061523438,
    630.9473876953125, 578.368408203125, 525.7894897460938, 473.2105407714844, 420.631591796875, 368.0526428222656,
    315.47369384765625, 262.8947448730469, 210.3157958984375, 157.73684692382812, 105.15789794921875, 52.578948974609375, 0,
  ], 1e-7, 'N=20');
  assertRelClose(timesteps(50), [
    999, 978.6122436523438, 958.2244873046875, 937.8367309570312, 917.448974609375, 897.0612182617188, 876.6734619140625,
    856.2857055664062, 835.89794921875, 815.5101928710938, 795.1224365234375, 774.7346801757812, 754.346923828125,
    733.9591674804688, 713.5714111328125, 693.1836547851562, 672.7958984375, 652.4081420898438, 632.0203857421875,
    611.6326293945312, 591.244873046875, 570.8571166992188, 550.4693603515625, 530.0816040039062, 509.6938781738281,
    489.3061218261719, 468.9183654785156, 448.5306091308594, 428.1428527832031, 407.7550964355469, 387.3673400878906,
    366.9795837402344, 346.5918273925781, 326.2040710449219, 305.8163146972656, 285.4285583496094, 265.0408020019531,
    244.65306091308594, 224.2653045654297, 203.87754821777344, 183.4897918701172, 163.10203552246094, 142.7142791748047,
    122.32653045654297, 101.93877410888672, 81.55101776123047, 61.163265228271484, 40.775508880615234, 20.387754440307617,
    0,
  ], 1e-7, 'N=50');
});

test('10 steps: sigmas, init_noise_sigma and scale_model_input as diffusers computes them', () => {
  const scheduler = createLmsScheduler(sd15(), 10);
  assertTenLinspaceSchedule(scheduler);
  const sample = new Float32Array([1, -2]);
  const scaled = scheduler.scaleModelInput(sample, 1);
  const scale = Math.sqrt(TEN_SIGMAS[1] ** 2 + 1);
  scaled.forEach((v, i) => assert.ok(Math.abs(v - sample[i] / scale) < 1e-6));
  // Leading spacing: √(σ_max² + 1).
  const leading = createLmsScheduler({ ...sd15(), timestep_spacing: 'leading' }, 10);
  assert.deepEqual(leading.timesteps, [901, 801, 701, 601, 501, 401, 301, 201, 101, 1]);
  assert.ok(Math.abs(leading.initNoiseSigma - Math.sqrt(leading.sigmas[0] ** 2 + 1)) < 1e-5);
});

test('LMS coefficients: exact integrals of the Lagrange basis (scipy quad values for the 10-step schedule)', () => {
  const expected: [number, number[]][] = [
    [1, [-4.001030146626721, 0.7703210706989868]],
    [2, [-2.3260692871705797, 0.7271071231139147, -0.09190525995456532]],
    [3, [-1.439760488278033, 0.5895694519619228, -0.12567383633444149, 0.007718906120705534]],
    [9, [-0.03168963971232184, 0.00492305069123988, -0.0030013289849261417, 0.0006003850851706957]],
  ];
  for (const [step, coefficients] of expected) {
    const order = Math.min(step + 1, 4);
    const actual = coefficients.map((_, j) => lmsCoefficient(TEN_SIGMAS, order, step, j));
    assertRelClose(actual, coefficients, 1e-9, `step ${step}`);
    // The basis polynomials sum to 1, so the coefficients sum to σ_{i+1} − σ_i.
    const total = actual.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(total - (TEN_SIGMAS[step + 1] - TEN_SIGMAS[step])) < 1e-12);
  }
  assert.equal(lmsCoefficient(TEN_SIGMAS, 1, 0, 0), TEN_SIGMAS[1] - TEN_SIGMAS[0]);
});

test('first step is Euler; the second combines two derivatives; addNoise is x0 + σ·ε', () => {
  const scheduler = createLmsScheduler(sd15(), 10);
  const x = new Float32Array([3]);
  const eps = new Float32Array([0.5]);
  // ε-prediction: d = ε, so x′ = x + ε·(σ1 − σ0).
  const first = scheduler.step(eps, 0, x, noDraws);
  assert.ok(Math.abs(first.predOriginal[0] - (3 - TEN_SIGMAS[0] * 0.5)) < 1e-5);
  assert.ok(Math.abs(first.prevSample[0] - (3 + 0.5 * (TEN_SIGMAS[1] - TEN_SIGMAS[0]))) < 1e-5);
  const second = scheduler.step(new Float32Array([0.25]), 1, first.prevSample, noDraws);
  const expected = first.prevSample[0] + -4.001030146626721 * 0.25 + 0.7703210706989868 * 0.5;
  assert.ok(Math.abs(second.prevSample[0] - expected) < 1e-5, `${second.prevSample[0]} vs ${expected}`);
  assert.throws(() => scheduler.step(eps, 3, x, noDraws), /stateful/);
  const noisy = scheduler.addNoise(new Float32Array([1]), new Float32Array([2]), 3);
  assert.ok(Math.abs(noisy[0] - (1 + 2 * TEN_SIGMAS[3])) < 1e-5);
});

// ---- reference case ----------------------------------------------------------------------------------------------

const NAME = 'sd1_t2i_lms_c1';

test(`${NAME}: schedule and every step's latents from the traced UNet outputs`, { skip: caseAbsent(NAME, TRACE_FILES) }, (t) => {
  const c = readCase(NAME);
  const scheduler = createLmsScheduler(caseConfig(c), c.params.num_inference_steps);
  assertCaseSchedule(scheduler, c);
  assertRelClose(scheduler.timesteps, c.unet_timesteps, 1e-6, 'UNet timesteps');
  assertRelClose(c.scheduler_sigmas, TEN_SIGMAS, 1e-6, 'embedded sigmas');

  const result = replayCase(NAME, scheduler);
  assert.equal(result.recordedDraws, 1, 'LMS draws only the initial noise');
  t.diagnostic(describeReplay(result));
});
