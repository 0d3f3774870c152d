import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEulerScheduler } from '../../server/src/pipeline/schedulers/euler.scheduler.js';
import { alphasCumprod, parseSchedulerConfig, spacedTimesteps } from '../../server/src/pipeline/schedulers/scheduler.js';
import type { SchedulerConfig } from '../../server/src/pipeline/schedulers/scheduler.js';
import { TorchGenerator } from '../../server/src/pipeline/rng.js';
import { readNpyFloat32 } from '../helpers/npy.js';

const pipelineDir = fileURLToPath(new URL('../../../shared/data/reference/pipeline/', import.meta.url));
const NO_DATA = 'shared reference data (../shared/data/reference/pipeline) is absent';

// The SD 1.5 scheduler_config.json (a PNDM file); Euler reads it with its own default spacing, linspace.
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
const sd15 = (): SchedulerConfig => parseSchedulerConfig(SD15_FILE, { timestepSpacing: 'linspace' });

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

test('parseSchedulerConfig reads diffusers keys and applies the scheduler default spacing', () => {
  const config = sd15();
  assert.equal(config.timestep_spacing, 'linspace');
  assert.equal(config.steps_offset, 1);
  assert.equal(config.beta_schedule, 'scaled_linear');
  assert.equal(config.prediction_type, 'epsilon');
  assert.equal(parseSchedulerConfig(SD15_FILE, { timestepSpacing: 'leading' }).timestep_spacing, 'leading');
  assert.equal(parseSchedulerConfig({ ...SD15_FILE, timestep_spacing: 'trailing' }, { timestepSpacing: 'linspace' }).timestep_spacing, 'trailing');
  // Without a default, a file that names no spacing leaves it to the scheduler: Euler picks linspace.
  const open = parseSchedulerConfig(SD15_FILE);
  assert.equal(open.timestep_spacing, undefined);
  assert.deepEqual(createEulerScheduler(open, 10).timesteps, createEulerScheduler(config, 10).timesteps);
  assert.throws(() => parseSchedulerConfig({ beta_schedule: 'cosine' }, { timestepSpacing: 'linspace' }), /beta_schedule/);
  assert.throws(() => parseSchedulerConfig({ prediction_type: 'sample' }, { timestepSpacing: 'linspace' }), /prediction_type/);
  assert.throws(() => parseSchedulerConfig('nope', { timestepSpacing: 'linspace' }));
});

test('ᾱ matches the SD schedule quoted in onnx-pipeline.md §3.1', () => {
  const alphas = alphasCumprod(sd15());
  assert.equal(alphas.length, 1000);
  assert.ok(Math.abs(alphas[0] - 0.99915) < 1e-6, `ᾱ_0 = ${alphas[0]}`);
  assert.ok(Math.abs(alphas[999] - 0.00466) < 1e-5, `ᾱ_999 = ${alphas[999]}`);
});

test('10 linspace steps: timesteps, sigmas and init_noise_sigma as diffusers computes them', () => {
  const scheduler = createEulerScheduler(sd15(), 10);
  assert.deepEqual(scheduler.timesteps, [999, 888, 777, 666, 555, 444, 333, 222, 111, 0]);
  const sigmas = [
    14.614645004272461, 7.8398847579956055, 4.609175682067871, 2.9183082580566406, 1.9501622915267944, 1.34492826461792,
    0.9323583245277405, 0.6249772906303406, 0.36865851283073425, 0.029167532920837402, 0,
  ];
  assertRelClose(scheduler.sigmas, sigmas, 1e-6, 'sigmas');
  assertRelClose([scheduler.initNoiseSigma], [14.614645004272461], 1e-6, 'init_noise_sigma');
  assert.equal(scheduler.order, 1);
});

test('timestep spacings from onnx-pipeline.md §3.1', () => {
  const config = parseSchedulerConfig(SD15_FILE);
  const leading = spacedTimesteps(config, 20, 'leading');
  assert.deepEqual([leading[0], leading[1], leading[18], leading[19]], [951, 901, 51, 1]);
  assert.deepEqual(spacedTimesteps(config, 1, 'trailing'), [999]);
  assert.deepEqual(spacedTimesteps(config, 2, 'trailing'), [999, 499]);
  assert.deepEqual(spacedTimesteps(config, 4, 'trailing'), [999, 749, 499, 249]);
  // NumPy rounds halves to even: 937.5 → 938, 812.5 → 812.
  assert.deepEqual(spacedTimesteps(config, 16, 'trailing').slice(0, 4), [999, 937, 874, 811]);
  // The config's own spacing wins over the class default.
  assert.deepEqual(spacedTimesteps({ ...config, timestep_spacing: 'trailing' }, 2, 'leading'), [999, 499]);
  const linspace = spacedTimesteps(config, 20, 'linspace');
  assert.equal(linspace[0], 999);
  assert.ok(Math.abs(linspace[1] - 946.42) < 0.01, `fractional Euler timestep ${linspace[1]}`);
  assert.equal(linspace[19], 0);
});

test('init_noise_sigma is √(σ_max² + 1) with leading spacing', () => {
  // σ_max is the largest sigma of this schedule (t = 951 for 20 leading steps), not of the training range.
  const scheduler = createEulerScheduler({ ...sd15(), timestep_spacing: 'leading' }, 20);
  assert.equal(scheduler.timesteps[0], 951);
  const sigmaMax = scheduler.sigmas[0];
  assert.ok(sigmaMax > 11 && sigmaMax < 11.2, `σ(951) = ${sigmaMax}`);
  assert.ok(Math.abs(scheduler.initNoiseSigma - Math.sqrt(sigmaMax ** 2 + 1)) < 1e-5, `${scheduler.initNoiseSigma}`);
  // 1000 leading steps without offset start at t = 999, so σ_max is the training maximum: §3.2's 14.6488.
  const full = createEulerScheduler({ ...sd15(), timestep_spacing: 'leading', steps_offset: 0 }, 1000);
  assert.ok(Math.abs(full.initNoiseSigma - 14.6488) < 1e-4, `${full.initNoiseSigma}`);
});

test('scaleModelInput divides by √(σ² + 1) and returns a new array', () => {
  const scheduler = createEulerScheduler(sd15(), 10);
  const sample = new Float32Array([1, -2, 3]);
  const scaled = scheduler.scaleModelInput(sample, 0);
  assert.notEqual(scaled, sample);
  const expected = Math.sqrt(14.614645004272461 ** 2 + 1);
  scaled.forEach((v, i) => assert.ok(Math.abs(v - sample[i] / expected) < 1e-6));
  assert.deepEqual(Array.from(sample), [1, -2, 3]);
});

test('step draws (unused) noise every step, like diffusers', () => {
  const scheduler = createEulerScheduler(sd15(), 10);
  const drawn: number[] = [];
  const rng = { randn: (n: number) => (drawn.push(n), new Float32Array(n)) };
  const sample = new Float32Array(8).fill(1);
  const first = scheduler.step(new Float32Array(8).fill(0.5), 0, sample, rng);
  assert.deepEqual(drawn, [8]);
  // ε-prediction: x0 = x − σε; x' = x + (x − x0)/σ · (σ_next − σ) = x + ε (σ_next − σ).
  const sigma = scheduler.sigmas[0];
  const next = scheduler.sigmas[1];
  first.predOriginal.forEach((v) => assert.ok(Math.abs(v - (1 - sigma * 0.5)) < 1e-5));
  first.prevSample.forEach((v) => assert.ok(Math.abs(v - (1 + 0.5 * (next - sigma))) < 1e-5));
  // The last step lands on σ = 0, i.e. exactly on the predicted original sample.
  const last = scheduler.step(new Float32Array(8).fill(0.25), 9, sample, rng);
  assert.deepEqual(Array.from(last.prevSample), Array.from(last.predOriginal));
  assert.deepEqual(drawn, [8, 8]);
  assert.throws(() => scheduler.step(new Float32Array(8), 10, sample, rng), /step index/);
});

// ---- reference cases ---------------------------------------------------------------------------------------------

interface CaseJson {
  params: { seed: number; guidance_scale: number; num_inference_steps: number };
  scheduler_config_effective: Record<string, unknown>;
  scheduler_timesteps: number[];
  scheduler_sigmas: number[];
  init_noise_sigma: number;
  unet_timesteps: number[];
}

const EULER_CASES = ['sd1_t2i_euler_c1', 'sd2v_t2i_euler_c1', 'sd1_i2i_euler'];
const TRACED_CASES = ['sd1_t2i_euler_c1', 'sd2v_t2i_euler_c1'];
const caseAbsent = (name: string, files: string[]): string | false =>
  files.every((f) => existsSync(join(pipelineDir, name, f))) ? false : NO_DATA;
const readCase = (name: string): CaseJson => JSON.parse(readFileSync(join(pipelineDir, name, 'case.json'), 'utf8')) as CaseJson;

for (const name of EULER_CASES) {
  test(`${name}: timesteps, sigmas and init_noise_sigma`, { skip: caseAbsent(name, ['case.json']) }, () => {
    const c = readCase(name);
    const config = parseSchedulerConfig(c.scheduler_config_effective, { timestepSpacing: 'linspace' });
    const scheduler = createEulerScheduler(config, c.params.num_inference_steps);
    assertRelClose(scheduler.timesteps, c.scheduler_timesteps, 1e-6, 'timesteps');
    assertRelClose(scheduler.sigmas, c.scheduler_sigmas, 1e-6, 'sigmas');
    assertRelClose([scheduler.initNoiseSigma], [c.init_noise_sigma], 1e-6, 'init_noise_sigma');
  });
}

for (const name of TRACED_CASES) {
  const files = ['case.json', 'noise.npy', 'trace_unet_out.npy', 'trace_unet_sample.npy', 'trace_step_latents.npy', 'latents.npy'];
  test(`${name}: the traced UNet outputs reproduce every step's latents`, { skip: caseAbsent(name, files) }, () => {
    const c = readCase(name);
    const config = parseSchedulerConfig(c.scheduler_config_effective, { timestepSpacing: 'linspace' });
    const scheduler = createEulerScheduler(config, c.params.num_inference_steps);
    const noise = readNpyFloat32(join(pipelineDir, name, 'noise.npy'));
    const unetOut = readNpyFloat32(join(pipelineDir, name, 'trace_unet_out.npy')); // (calls, 2, 4, h, w), uncond first
    const unetIn = readNpyFloat32(join(pipelineDir, name, 'trace_unet_sample.npy'));
    const stepLatents = readNpyFloat32(join(pipelineDir, name, 'trace_step_latents.npy')); // (calls, 1, 4, h, w)
    const finalLatents = readNpyFloat32(join(pipelineDir, name, 'latents.npy'));
    const size = finalLatents.data.length;
    assert.equal(unetOut.shape[1], 2, 'the trace holds the classifier-free guidance batch of 2');
    assert.deepEqual(scheduler.timesteps, c.unet_timesteps);

    // The pipeline draws the initial noise from the same generator first; Euler's per-step draws follow it.
    const generator = new TorchGenerator(c.params.seed);
    const drawn: Float32Array[] = [];
    const rng = { randn: (n: number) => { const v = generator.randn(n); drawn.push(v); return v; } };
    rng.randn(size);

    const guidance = c.params.guidance_scale;
    let latents: Float32Array = noise.data.subarray(0, size).map((x) => x * scheduler.initNoiseSigma);
    scheduler.timesteps.forEach((_, i) => {
      const modelInput = scheduler.scaleModelInput(latents, i);
      const tracedInput = unetIn.data.subarray(2 * i * size, (2 * i + 1) * size);
      assert.ok(relativeL2(modelInput, tracedInput) <= 1e-6, `step ${i}: UNet input`);

      const uncond = unetOut.data.subarray(2 * i * size, (2 * i + 1) * size);
      const text = unetOut.data.subarray((2 * i + 1) * size, (2 * i + 2) * size);
      const guided = uncond.map((u, k) => u + guidance * (text[k] - u));
      latents = scheduler.step(guided, i, latents, rng).prevSample;
      const expected = stepLatents.data.subarray(i * size, (i + 1) * size);
      const err = relativeL2(latents, expected);
      assert.ok(err <= 1e-5, `step ${i}: latents relative L2 ${err}`);
    });
    assert.ok(relativeL2(latents, finalLatents.data) <= 1e-5, 'final latents');

    // Every draw (initial noise, then one unused draw per step) equals the recorded noise.npy.
    assert.equal(drawn.length, noise.shape[0]);
    drawn.forEach((values, d) => {
      assert.ok(relativeL2(values, noise.data.subarray(d * size, (d + 1) * size)) <= 1e-6, `draw ${d}`);
    });
  });
}
