import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEulerScheduler } from '../../server/src/pipeline/schedulers/euler.scheduler.js';
import { alphasCumprod, parseSchedulerConfig, spacedTimesteps } from '../../server/src/pipeline/schedulers/scheduler.js';
import type { SchedulerConfig } from '../../server/src/pipeline/schedulers/scheduler.js';
import { TorchGenerator } from '../../server/src/pipeline/rng.js';
import {
  assertCaseSchedule,
  assertTenLinspaceSchedule,
  caseAbsent,
  countingNoise,
  readCase,
  replayCase,
  SD15_FILE,
  TRACE_FILES,
} from '../helpers/scheduler-reference.js';
import type { CaseJson } from '../helpers/scheduler-reference.js';

// The SD 1.5 scheduler_config.json (a PNDM file); Euler reads it with its own default spacing, linspace.
const sd15 = (): SchedulerConfig => parseSchedulerConfig(SD15_FILE, { timestepSpacing: 'linspace' });

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
  assertTenLinspaceSchedule(createEulerScheduler(sd15(), 10));
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
  const rng = countingNoise();
  const drawn = rng.draws;
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

const EULER_CASES = ['sd1_t2i_euler_c1', 'sd2v_t2i_euler_c1', 'sd1_i2i_euler'];
const TRACED_CASES = ['sd1_t2i_euler_c1', 'sd2v_t2i_euler_c1'];
// Euler reads the cases' configs with its own default spacing too (they name theirs, linspace).
const caseConfig = (c: CaseJson): SchedulerConfig => parseSchedulerConfig(c.scheduler_config_effective, { timestepSpacing: 'linspace' });

for (const name of EULER_CASES) {
  test(`${name}: timesteps, sigmas and init_noise_sigma`, { skip: caseAbsent(name, ['case.json']) }, () => {
    const c = readCase(name);
    const scheduler = createEulerScheduler(caseConfig(c), c.params.num_inference_steps);
    assertCaseSchedule(scheduler, c);
  });
}

for (const name of TRACED_CASES) {
  test(`${name}: the traced UNet outputs reproduce every step's latents`, { skip: caseAbsent(name, TRACE_FILES) }, () => {
    const c = readCase(name);
    const scheduler = createEulerScheduler(caseConfig(c), c.params.num_inference_steps);
    // The pipeline draws the initial noise from the same generator first; Euler's per-step draws follow it. Every
    // draw (initial noise, then one unused draw per step) must equal the recorded noise.npy.
    const result = replayCase(name, scheduler, { generator: new TorchGenerator(c.params.seed) });
    assert.ok(result.finalRelativeL2 <= 1e-5, 'final latents');
  });
}
