// Several images of a job in one UNet call (generateBatch) on real onnxruntime and the tiny model: each image
// must be the one generate() makes alone with its seed, for every sampler, img2img, both kinds of inpainting,
// v-prediction and guidance-free (Turbo) runs, and when stopped part-way.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTinyModel } from '../../server/src/convert/tiny-model.js';
import { generate, generateBatch, type GenerateParams, type GenerateResult } from '../../server/src/pipeline/generate.js';
import { listSamplers } from '../../server/src/pipeline/schedulers/samplers.js';
import { loadSdModel, releaseSdModel, type SdModel } from '../../server/src/pipeline/sd-model.js';
import type { OnnxModel } from '../../server/src/pipeline/onnx/onnx-session.js';
import { bandedPicture } from '../helpers/test-pictures.js';
import { tinyModelStore } from '../helpers/tiny-model.js';

const params: GenerateParams = {
  prompt: 'a photo of a cat',
  negativePrompt: 'blurry',
  sampler: 'euler',
  steps: 4,
  cfgScale: 7.5,
  width: 64,
  height: 64,
  seed: 500,
};
const SEEDS = [500, 501, 502];
/** onnxruntime gives the same numbers for a row whatever the batch on the tiny model (0 measured); leave room. */
const TOLERANCE = 1e-5;

let model: SdModel;
before(async () => {
  model = await loadSdModel('tiny-test', (await tinyModelStore()).modelDir);
});
after(async () => {
  await releaseSdModel(model);
});

/** Largest |batched − alone| over latents (relative to the largest latent) and over pixels. */
async function compareWithAlone(m: SdModel, p: GenerateParams, seeds: readonly number[] = SEEDS): Promise<{ latents: number; pixels: number }> {
  const batch = await generateBatch(m, p, seeds);
  assert.ok(batch);
  assert.equal(batch.length, seeds.length);
  let latents = 0;
  let pixels = 0;
  for (const [k, seed] of seeds.entries()) {
    const alone = await generate(m, { ...p, seed });
    assert.ok(alone);
    latents = Math.max(latents, maxDifference(alone, batch[k]!));
    alone.image.pixels.forEach((v, i) => (pixels = Math.max(pixels, Math.abs(v - (batch[k]!.image.pixels[i] as number)))));
  }
  // The images must differ from each other: a batch that repeated one seed would pass the check above only by luck.
  assert.notDeepEqual(batch[0]!.latents, batch[1]!.latents);
  return { latents, pixels };
}

function maxDifference(a: GenerateResult, b: GenerateResult): number {
  let worst = 0;
  let scale = 0;
  a.latents.forEach((v, i) => {
    worst = Math.max(worst, Math.abs(v - (b.latents[i] as number)));
    scale = Math.max(scale, Math.abs(v));
  });
  return worst / Math.max(1, scale);
}

const rightHalf = { width: 64, height: 64, pixels: Uint8Array.from({ length: 64 * 64 }, (_, i) => (i % 64 >= 32 ? 255 : 0)) };

test('every sampler, ancestral and multistep ones included, makes each image of a batch as it makes it alone', async (t) => {
  for (const { id } of listSamplers()) {
    const diff = await compareWithAlone(model, { ...params, sampler: id });
    t.diagnostic(`${id}: max latent difference ${diff.latents.toExponential(2)}, max pixel difference ${diff.pixels}`);
    assert.ok(diff.latents <= TOLERANCE, `${id}: latents differ by ${diff.latents}`);
    assert.ok(diff.pixels <= 1, `${id}: pixels differ by ${diff.pixels}`);
  }
});

test('img2img and inpainting by latent blending: each image of a batch equals the one made alone', async (t) => {
  const image = bandedPicture(64, 64, 1);
  for (const [name, init] of [
    ['img2img', { image, strength: 0.6 }],
    ['inpainting', { image, strength: 1, mask: rightHalf }],
    ['inpainting at strength 0.75', { image, strength: 0.75, mask: rightHalf }],
  ] as const) {
    for (const sampler of ['euler_a', 'dpmpp_2m']) {
      const diff = await compareWithAlone(model, { ...params, sampler, steps: 5, init });
      t.diagnostic(`${name}, ${sampler}: max latent difference ${diff.latents.toExponential(2)}`);
      assert.ok(diff.latents <= TOLERANCE && diff.pixels <= 1, `${name} ${sampler}: ${JSON.stringify(diff)}`);
    }
  }
});

test('a 9-channel inpainting UNet: each image of a batch equals the one made alone', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'easel-inpaint-batch-'));
  await writeTinyModel(dir, { seed: 3, inpainting: true });
  const inpaint = await loadSdModel('tiny-inpaint', dir);
  try {
    const diff = await compareWithAlone(inpaint, { ...params, sampler: 'euler_a', init: { image: bandedPicture(64, 64, 1), strength: 1, mask: rightHalf } });
    t.diagnostic(`9-channel: max latent difference ${diff.latents.toExponential(2)}`);
    assert.ok(diff.latents <= TOLERANCE && diff.pixels <= 1, JSON.stringify(diff));
  } finally {
    await releaseSdModel(inpaint);
    await rm(dir, { recursive: true, force: true });
  }
});

test('v-prediction and Turbo-style runs without guidance batch the same way', async () => {
  const v: SdModel = { ...model, schedulerConfig: { ...(model.schedulerConfig as object), prediction_type: 'v_prediction' } };
  for (const sampler of ['euler_a', 'ddim', 'unipc']) {
    const diff = await compareWithAlone(v, { ...params, sampler });
    assert.ok(diff.latents <= TOLERANCE && diff.pixels <= 1, `v-prediction ${sampler}: ${JSON.stringify(diff)}`);
  }
  const turbo: SdModel = { ...model, schedulerConfig: { ...(model.schedulerConfig as object), timestep_spacing: 'trailing' } };
  for (const sampler of ['euler_a', 'lcm']) {
    const diff = await compareWithAlone(turbo, { ...params, sampler, steps: 1, cfgScale: 0 });
    assert.ok(diff.latents <= TOLERANCE && diff.pixels <= 1, `turbo ${sampler}: ${JSON.stringify(diff)}`);
  }
});

test('the UNet runs once a step for the whole batch, with [negative × n; positive × n] and n-fold prompts', async () => {
  const unet = spyOn(model.unet);
  const counting: SdModel = { ...model, unet: unet.model };
  let steps = 0;
  const out = await generateBatch(counting, params, SEEDS, { onStep: (s) => void (steps++, assert.equal(s.predOriginals.length, SEEDS.length)) });
  assert.equal(out?.length, 3);
  assert.equal(steps, 4);
  assert.deepEqual(unet.batches, [6, 6, 6, 6]);
  assert.deepEqual(unet.promptBatches, [6, 6, 6, 6]);
  const unguided = spyOn(model.unet);
  await generateBatch({ ...model, unet: unguided.model }, { ...params, cfgScale: 1 }, SEEDS);
  assert.deepEqual(unguided.batches, [3, 3, 3, 3]);
});

test('a UNet exported with a fixed batch gets one call per image, and the same pictures', async () => {
  const unet = spyOn(model.unet, [2, 4, 8, 8]);
  const fixed: SdModel = { ...model, unet: unet.model };
  const batch = await generateBatch(fixed, { ...params, steps: 2 }, SEEDS.slice(0, 2));
  assert.deepEqual(unet.batches, [2, 2, 2, 2], 'two images × two steps, each call [negative; positive]');
  for (const [k, seed] of SEEDS.slice(0, 2).entries()) {
    const alone = await generate(model, { ...params, steps: 2, seed });
    assert.equal(maxDifference(alone!, batch![k]!), 0);
  }
});

test('stopping a batch part-way gives every image its own partial result, as stopping it alone does', async () => {
  for (const sampler of ['euler_a', 'pndm']) {
    let steps = 0;
    const batch = await generateBatch(model, { ...params, sampler, steps: 6 }, SEEDS, { onStep: () => void steps++, shouldStop: () => steps >= 2 });
    assert.ok(batch);
    assert.equal(steps, 2);
    assert.deepEqual(batch.map((r) => r.partial), [true, true, true]);
    for (const [k, seed] of SEEDS.entries()) {
      let n = 0;
      const alone = await generate(model, { ...params, sampler, steps: 6, seed }, { onStep: () => void n++, shouldStop: () => n >= 2 });
      assert.ok(alone?.partial);
      assert.ok(maxDifference(alone, batch[k]!) <= TOLERANCE, `${sampler} image ${k}`);
    }
  }
  assert.equal(await generateBatch(model, params, SEEDS, { shouldStop: () => true }), undefined);
});

/** The UNet with its calls' batch sizes recorded; `fixedSample` makes it declare a fixed input shape. */
function spyOn(unet: OnnxModel, fixedSample?: number[]): { model: OnnxModel; batches: number[]; promptBatches: number[] } {
  const batches: number[] = [];
  const promptBatches: number[] = [];
  const spy = Object.create(unet) as OnnxModel;
  spy.run = (feeds) => {
    batches.push(feeds.sample!.dims[0]!);
    promptBatches.push(feeds.encoder_hidden_states!.dims[0]!);
    return unet.run(feeds);
  };
  if (fixedSample) spy.input = (name) => (name === 'sample' ? { name, type: 'float32', shape: fixedSample } : unet.input(name));
  return { model: spy, batches, promptBatches };
}
