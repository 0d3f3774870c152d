// The real pipeline on real onnxruntime sessions: the generated tiny model, and the diffusers-exported tiny
// model from ../shared/data checked pixel by pixel against diffusers' own output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { encodeImage } from '../../server/src/images/encode.js';
import { readPngText } from '../../server/src/images/png-text.js';
import { formatInfotext } from '../../server/src/images/infotext.js';
import { loadSdModel, releaseSdModel } from '../../server/src/pipeline/sd-model.js';
import { txt2img, type Txt2ImgParams } from '../../server/src/pipeline/txt2img.js';
import { tinyModelStore } from '../helpers/tiny-model.js';

const params: Txt2ImgParams = {
  prompt: 'a photo of a cat',
  negativePrompt: 'blurry',
  sampler: 'euler',
  steps: 6,
  cfgScale: 7.5,
  width: 96,
  height: 64,
  seed: 1234,
};

test('a job on the test model yields a PNG of the requested size naming prompt and seed', async () => {
  const { modelDir } = await tinyModelStore();
  const model = await loadSdModel('tiny-test', modelDir);
  const steps: number[] = [];
  const image = await txt2img(model, params, { onStep: (s) => void steps.push(s.step) });
  assert.ok(image);
  assert.deepEqual(steps, [1, 2, 3, 4, 5, 6]);
  const parameters = formatInfotext({ ...params, sampler: 'Euler', model: 'tiny-test', version: 'test' });
  const png = await encodeImage(image, 'png', 90, { parameters, easel: '{}' });
  const meta = await sharp(png).metadata();
  assert.equal(meta.width, 96);
  assert.equal(meta.height, 64);
  const text = readPngText(png).parameters ?? '';
  assert.match(text, /^a photo of a cat\nNegative prompt: blurry\nSteps: 6, Sampler: Euler, CFG scale: 7.5, Seed: 1234, Size: 96x64/);

  // Same seed, same pixels; another seed, another picture.
  const again = await txt2img(model, params);
  assert.deepEqual(again?.pixels, image.pixels);
  const other = await txt2img(model, { ...params, seed: 1235 });
  assert.notDeepEqual(other?.pixels, image.pixels);
  await releaseSdModel(model);
});

test('stopping between steps ends the loop without an image', async () => {
  const { modelDir } = await tinyModelStore();
  const model = await loadSdModel('tiny-test', modelDir);
  let seen = 0;
  const image = await txt2img(model, params, { onStep: () => void seen++, shouldStop: () => seen >= 2 });
  assert.equal(image, undefined);
  assert.equal(seen, 2);
  await releaseSdModel(model);
});

const shared = join(import.meta.dirname, '..', '..', '..', 'shared', 'data');
const euler = join(shared, 'reference', 'pipeline', 'sd1_t2i_euler_c1');
const sharedAbsent = existsSync(join(euler, 'case.json')) ? false : `reference data not found at ${shared} (it sits beside the repository on the developers' machines)`;

test('diffusers-exported tiny SD1 with Euler reproduces diffusers\' image', { skip: sharedAbsent }, async () => {
  const c = JSON.parse(await readFile(join(euler, 'case.json'), 'utf8')) as {
    params: { prompt: string; guidance_scale: number; width: number; height: number; num_inference_steps: number; seed: number };
  };
  const model = await loadSdModel('tiny-sd1', join(shared, 'tiny-sd1', 'onnx'));
  const image = await txt2img(model, {
    prompt: c.params.prompt,
    negativePrompt: '',
    sampler: 'euler',
    steps: c.params.num_inference_steps,
    cfgScale: c.params.guidance_scale,
    width: c.params.width,
    height: c.params.height,
    seed: c.params.seed,
  });
  assert.ok(image);
  const reference = await sharp(join(euler, 'image.png')).removeAlpha().raw().toBuffer();
  assert.equal(reference.length, image.pixels.length);
  let differing = 0;
  let worst = 0;
  for (let i = 0; i < reference.length; i++) {
    const d = Math.abs((reference[i] as number) - (image.pixels[i] as number));
    if (d > 0) differing++;
    worst = Math.max(worst, d);
  }
  assert.ok(worst <= 2, `a pixel differs by ${worst} levels`);
  assert.ok(differing <= reference.length * 0.01, `${differing} of ${reference.length} values differ`);
  await releaseSdModel(model);
});
