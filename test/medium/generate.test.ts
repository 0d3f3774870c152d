// The real pipeline on real onnxruntime sessions, on the generated tiny model: sizes, metadata, seeds,
// img2img, inpainting and stopping early.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { encodeImage } from '../../server/src/images/encode.js';
import { readPngText } from '../../server/src/images/png-text.js';
import { formatInfotext } from '../../server/src/images/infotext.js';
import { loadSdModel, releaseSdModel, type SdModel } from '../../server/src/pipeline/sd-model.js';
import { generate, type GenerateParams } from '../../server/src/pipeline/generate.js';
import { tinyModelStore } from '../helpers/tiny-model.js';

const params: GenerateParams = {
  prompt: 'a photo of a cat',
  negativePrompt: 'blurry',
  sampler: 'euler',
  steps: 6,
  cfgScale: 7.5,
  width: 96,
  height: 64,
  seed: 1234,
};

let model: SdModel;
before(async () => {
  model = await loadSdModel('tiny-test', (await tinyModelStore()).modelDir);
});
after(async () => {
  await releaseSdModel(model);
});

test('a job on the test model yields a PNG of the requested size naming prompt and seed', async () => {
  const steps: number[] = [];
  const result = await generate(model, params, { onStep: (s) => void steps.push(s.step) });
  assert.ok(result && !result.partial);
  assert.deepEqual(steps, [1, 2, 3, 4, 5, 6]);
  const parameters = formatInfotext({ ...params, sampler: 'Euler', model: 'tiny-test', version: 'test' });
  const png = await encodeImage(result.image, 'png', 90, { parameters, easel: '{}' });
  const meta = await sharp(png).metadata();
  assert.deepEqual([meta.width, meta.height], [96, 64]);
  const text = readPngText(png).parameters ?? '';
  assert.match(text, /^a photo of a cat\nNegative prompt: blurry\nSteps: 6, Sampler: Euler, CFG scale: 7.5, Seed: 1234, Size: 96x64/);

  // Same seed, same pixels; another seed, another picture.
  const again = await generate(model, params);
  assert.deepEqual(again?.image.pixels, result.image.pixels);
  const other = await generate(model, { ...params, seed: 1235 });
  assert.notDeepEqual(other?.image.pixels, result.image.pixels);
});

test('sizes whose latent side is odd work (multiples of 8, not 16)', async () => {
  const result = await generate(model, { ...params, width: 72, height: 88, steps: 2 });
  assert.deepEqual([result?.image.width, result?.image.height], [72, 88]);
});

test('stopping mid-way returns the best guess so far, marked partial; stopping before any step returns nothing', async () => {
  let seen = 0;
  const partial = await generate(model, params, { onStep: () => void seen++, shouldStop: () => seen >= 2 });
  assert.equal(seen, 2);
  assert.equal(partial?.partial, true);
  assert.equal(partial?.image.width, 96);
  assert.equal(await generate(model, params, { shouldStop: () => true }), undefined);

  // A stop asked for while the last step's callback runs comes after every step: the image is whole.
  const steps = 3;
  let last = 0;
  const whole = await generate(model, { ...params, steps }, { onStep: (info) => void (last = info.step), shouldStop: () => last >= steps });
  assert.equal(last, steps);
  assert.equal(whole?.partial, false);
  const plain = await generate(model, { ...params, steps });
  assert.deepEqual(whole?.image.pixels, plain?.image.pixels, 'the same picture as a run nobody stopped');
});

test('a network that returns NaN (fp16 overflow) fails the image with what to do, instead of saving a black one', async () => {
  const overflowing = Object.create(model.unet) as typeof model.unet;
  overflowing.run = async (feeds) => {
    const out = await model.unet.run(feeds);
    for (const tensor of Object.values(out)) tensor.data[0] = Number.NaN;
    return out;
  };
  await assert.rejects(generate({ ...model, unet: overflowing }, { ...params, steps: 2 }), /the UNet returned NaN .* re-import the model as fp32/);
});

async function gradient(width: number, height: number) {
  const pixels = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    pixels[i * 3] = (i % width) * 2;
    pixels[i * 3 + 1] = Math.floor(i / width) * 3;
    pixels[i * 3 + 2] = 128;
  }
  return { width, height, pixels };
}

test('img2img runs steps × strength steps and stays closer to the init image as strength falls', async () => {
  const image = await gradient(96, 64);
  const counts: number[] = [];
  const distance = async (strength: number) => {
    let n = 0;
    const r = await generate(model, { ...params, steps: 10, init: { image, strength } }, { onStep: () => void n++ });
    counts.push(n);
    let sum = 0;
    r!.image.pixels.forEach((v, i) => (sum += Math.abs(v - (image.pixels[i] as number))));
    return sum;
  };
  const low = await distance(0.2);
  const high = await distance(1);
  assert.deepEqual(counts, [2, 10]);
  assert.ok(low < high, `strength 0.2 moved ${low}, strength 1 moved ${high}`);
  await assert.rejects(generate(model, { ...params, steps: 3, init: { image, strength: 0.2 } }), /runs no step/);
});

test('inpainting with an ordinary model keeps the unmasked half', async () => {
  const image = await gradient(96, 64);
  const maskPixels = new Uint8Array(96 * 64);
  for (let i = 0; i < maskPixels.length; i++) maskPixels[i] = i % 96 >= 48 ? 255 : 0; // repaint the right half
  const r = await generate(model, { ...params, steps: 8, init: { image, strength: 1, mask: { width: 96, height: 64, pixels: maskPixels } } });
  assert.ok(r);
  // The kept half goes through the VAE and back, so compare it loosely; the repainted half must change more.
  const diff = (fromX: number, toX: number) => {
    let sum = 0;
    for (let y = 0; y < 64; y++) for (let x = fromX; x < toX; x++) for (let c = 0; c < 3; c++) {
      const i = (y * 96 + x) * 3 + c;
      sum += Math.abs((r.image.pixels[i] as number) - (image.pixels[i] as number));
    }
    return sum;
  };
  const plain = await generate(model, { ...params, steps: 8, init: { image, strength: 1 } });
  let plainKept = 0;
  for (let y = 0; y < 64; y++) for (let x = 0; x < 40; x++) for (let c = 0; c < 3; c++) {
    const i = (y * 96 + x) * 3 + c;
    plainKept += Math.abs((plain!.image.pixels[i] as number) - (image.pixels[i] as number));
  }
  assert.ok(diff(0, 40) < plainKept, 'the kept area is closer to the init image than without a mask');
});

test('every sampler runs on the test model, Turbo-style (1 step, no guidance, trailing spacing) too', async () => {
  const { listSamplers } = await import('../../server/src/pipeline/schedulers/samplers.js');
  for (const { id } of listSamplers()) {
    const r = await generate(model, { ...params, sampler: id, steps: 4, width: 64, height: 64 });
    assert.ok(r && r.image.pixels.some((v) => v > 0), `${id} made an image`);
  }
  const turbo: SdModel = { ...model, schedulerConfig: { ...(model.schedulerConfig as object), timestep_spacing: 'trailing' } };
  let calls = 0;
  const r = await generate(turbo, { ...params, sampler: 'euler', steps: 1, cfgScale: 0 }, { onStep: () => void calls++ });
  assert.equal(calls, 1);
  assert.ok(r && !r.partial);
});

test('a 9-channel inpainting UNet gets latents, the mask and the masked picture; it needs a mask', async () => {
  const { mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { writeTinyModel } = await import('../../server/src/convert/tiny-model.js');
  const dir = await mkdtemp(join(tmpdir(), 'easel-inpaint-'));
  await writeTinyModel(dir, { seed: 3, inpainting: true });
  const inpaint = await loadSdModel('tiny-inpaint', dir);
  assert.equal(inpaint.latentChannels, 9);
  const image = await gradient(64, 64);
  const half = (right: boolean) => ({ width: 64, height: 64, pixels: Uint8Array.from({ length: 64 * 64 }, (_, i) => ((i % 64 >= 32) === right ? 255 : 0)) });
  const base = { ...params, width: 64, height: 64, steps: 3 };
  const a = await generate(inpaint, { ...base, init: { image, strength: 1, mask: half(true) } });
  const b = await generate(inpaint, { ...base, init: { image, strength: 1, mask: half(false) } });
  assert.ok(a && b);
  assert.notDeepEqual(a.image.pixels, b.image.pixels, 'the mask reaches the UNet');
  await assert.rejects(generate(inpaint, base), /inpainting model/);
  await releaseSdModel(inpaint);
  await rm(dir, { recursive: true, force: true });
});
