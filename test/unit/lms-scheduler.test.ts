import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLmsScheduler, lmsCoefficient } from '../../server/src/pipeline/schedulers/lms.scheduler.js';
import { parseSchedulerConfig } from '../../server/src/pipeline/schedulers/scheduler.js';
import type { NoiseSource, SchedulerConfig } from '../../server/src/pipeline/schedulers/scheduler.js';
import { readNpyFloat32 } from '../helpers/npy.js';

const pipelineDir = fileURLToPath(new URL('../../../shared/data/reference/pipeline/', import.meta.url));
const NO_DATA = 'shared reference data (../shared/data/reference/pipeline) is absent';

// The SD 1.5 scheduler_config.json (a PNDM file, no spacing: LMS then uses its own default, linspace).
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

const noDraws: NoiseSource = { randn: () => assert.fail('LMS drew noise') };

// The reference case's 10 steps, embedded so these checks run without the shared data.
const TEN_TIMESTEPS = [999, 888, 777, 666, 555, 444, 333, 222, 111, 0];
const TEN_SIGMAS = [
  14.614645004272461, 7.8398847579956055, 4.609175682067871, 2.9183082580566406, 1.9501622915267944, 1.34492826461792,
  0.9323583245277405, 0.6249772906303406, 0.36865851283073425, 0.029167532920837402, 0,
];

function assertRelClose(actual: readonly number[], expected: readonly number[], tolerance: number, label: string): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  expected.forEach((e, i) => {
    const err = Math.abs(actual[i] - e) / Math.max(Math.abs(e), 1e-12);
    assert.ok(e === actual[i] || err <= tolerance, `${label}[${i}]: got ${actual[i]}, expected ${e} (relative ${err})`);
  });
}

function relativeL2(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < expected.length; i++) {
    diff += (actual[i] - expected[i]) ** 2;
    norm += expected[i] ** 2;
  }
  return Math.sqrt(diff / norm);
}

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
  assertRelClose(scheduler.sigmas, TEN_SIGMAS, 1e-6, 'sigmas');
  assertRelClose([scheduler.initNoiseSigma], [14.614645004272461], 1e-6, 'init_noise_sigma');
  assert.equal(scheduler.order, 1);
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

interface CaseJson {
  params: { guidance_scale: number; num_inference_steps: number };
  scheduler_config_effective: Record<string, unknown>;
  scheduler_timesteps: number[];
  scheduler_sigmas: number[];
  init_noise_sigma: number;
  unet_timesteps: number[];
}

const NAME = 'sd1_t2i_lms_c1';
const FILES = ['case.json', 'noise.npy', 'trace_unet_out.npy', 'trace_unet_sample.npy', 'trace_step_latents.npy', 'latents.npy'];
const absent = FILES.every((f) => existsSync(join(pipelineDir, NAME, f))) ? false : NO_DATA;

test(`${NAME}: schedule and every step's latents from the traced UNet outputs`, { skip: absent }, (t) => {
  const dir = join(pipelineDir, NAME);
  const c = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')) as CaseJson;
  const scheduler = createLmsScheduler(parseSchedulerConfig(c.scheduler_config_effective), c.params.num_inference_steps);
  assertRelClose(scheduler.timesteps, c.scheduler_timesteps, 1e-6, 'timesteps');
  assertRelClose(scheduler.timesteps, c.unet_timesteps, 1e-6, 'UNet timesteps');
  assertRelClose(scheduler.sigmas, c.scheduler_sigmas, 1e-6, 'sigmas');
  assertRelClose([scheduler.initNoiseSigma], [c.init_noise_sigma], 1e-6, 'init_noise_sigma');
  assertRelClose(c.scheduler_sigmas, TEN_SIGMAS, 1e-6, 'embedded sigmas');

  const noise = readNpyFloat32(join(dir, 'noise.npy'));
  const unetOut = readNpyFloat32(join(dir, 'trace_unet_out.npy')); // (calls, 2, 4, h, w), uncond first
  const unetIn = readNpyFloat32(join(dir, 'trace_unet_sample.npy'));
  const stepLatents = readNpyFloat32(join(dir, 'trace_step_latents.npy'));
  const final = readNpyFloat32(join(dir, 'latents.npy')).data;
  const size = final.length;
  assert.equal(noise.shape[0], 1, 'LMS draws only the initial noise');

  let latents: Float32Array = noise.data.subarray(0, size).map((x) => x * scheduler.initNoiseSigma);
  let worst = 0;
  scheduler.timesteps.forEach((_, i) => {
    const modelInput = scheduler.scaleModelInput(latents, i);
    const inputErr = relativeL2(modelInput, unetIn.data.subarray(2 * i * size, (2 * i + 1) * size));
    assert.ok(inputErr <= 1e-6, `step ${i}: UNet input relative L2 ${inputErr}`);
    const uncond = unetOut.data.subarray(2 * i * size, (2 * i + 1) * size);
    const text = unetOut.data.subarray((2 * i + 1) * size, (2 * i + 2) * size);
    const guided = uncond.map((u, k) => u + c.params.guidance_scale * (text[k] - u));
    latents = scheduler.step(guided, i, latents, noDraws).prevSample;
    const err = relativeL2(latents, stepLatents.data.subarray(i * size, (i + 1) * size));
    worst = Math.max(worst, err);
    assert.ok(err <= 1e-5, `step ${i}: latents relative L2 ${err}`);
  });
  const err = relativeL2(latents, final);
  let maxDiff = 0;
  let maxRef = 0;
  final.forEach((v, i) => {
    maxDiff = Math.max(maxDiff, Math.abs(latents[i] - v));
    maxRef = Math.max(maxRef, Math.abs(v));
  });
  t.diagnostic(`worst step rel L2 ${worst.toExponential(2)}, final rel L2 ${err.toExponential(2)}, max abs ${maxDiff.toExponential(2)}`);
  assert.ok(err <= 1e-4, `final latents relative L2 ${err}`);
  assert.ok(maxDiff <= 1e-4 * maxRef, `final latents max abs difference ${maxDiff}`);
});
