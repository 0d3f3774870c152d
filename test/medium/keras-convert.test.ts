// The built-in filter models, converted from their npm packages' TensorFlow.js layers models to ONNX by our own
// converter, must compute what TensorFlow.js computes: each is run once through tfjs (pure-JS CPU backend) and once
// through onnxruntime on the same input. The NSFW check goes through nsfwjs's own classify(), preprocessing included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { builtinArtifacts, convertBuiltin, packageRoot } from '../../server/src/filters/keras/builtin-models.js';
import { classifyNsfw, NSFW_CLASSES } from '../../server/src/filters/nsfw.js';
import { upscale } from '../../server/src/filters/upscale.js';
import { OnnxModel } from '../../server/src/pipeline/onnx/onnx-session.js';

const esrganAssets = join(packageRoot('@upscalerjs/esrgan-slim'), 'assets');

async function tfjsModel(name: Parameters<typeof builtinArtifacts>[0]): Promise<tf.LayersModel> {
  const { json, shards } = await builtinArtifacts(name);
  const weightData = new Uint8Array(shards.reduce((n, s) => n + s.length, 0));
  let at = 0;
  for (const s of shards) weightData.set(s, (at += s.length) - s.length);
  const artifacts = { modelTopology: json.modelTopology as object, weightSpecs: json.weightsManifest.flatMap((g) => g.weights), weightData: weightData.buffer };
  return tf.loadLayersModel(tf.io.fromMemory(artifacts as tf.io.ModelArtifacts));
}

/** A fixed pseudo-random NHWC image in 0–255. */
function noiseNhwc(h: number, w: number): Float32Array {
  const out = new Float32Array(h * w * 3);
  let s = 12345;
  for (let i = 0; i < out.length; i++) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    out[i] = (s / 2 ** 31) * 255;
  }
  return out;
}

for (const scale of [2, 3, 4] as const) {
  test(`ESRGAN-slim x${scale} converted to ONNX matches TensorFlow.js`, async (t) => {
    const name = `esrgan-slim-x${scale}` as const;
    const [h, w] = [12, 16];
    const input = noiseNhwc(h, w);
    const model = await tfjsModel(name);
    const expected = (model.predict(tf.tensor4d(input, [1, h, w, 3])) as tf.Tensor).dataSync();
    model.dispose();

    const dir = await mkdtemp(join(tmpdir(), 'easel-keras-'));
    try {
      const path = join(dir, `${name}.onnx`);
      await writeFile(path, (await convertBuiltin(name)).bytes);
      const onnx = await OnnxModel.load(path);
      const nchw = new Float32Array(input.length);
      for (let i = 0; i < h * w; i++) for (let c = 0; c < 3; c++) nchw[c * h * w + i] = input[i * 3 + c] as number;
      const out = (await onnx.run({ input: { kind: 'float', dims: [1, 3, h, w], data: nchw } })).output!;
      assert.deepEqual(out.dims, [1, 3, h * scale, w * scale]);
      const plane = h * scale * w * scale;
      let maxDiff = 0;
      for (let i = 0; i < plane; i++) {
        for (let c = 0; c < 3; c++) maxDiff = Math.max(maxDiff, Math.abs((out.data[c * plane + i] as number) - (expected[i * 3 + c] as number)));
      }
      // The model works on 0–255 pixels; compared on the 0–1 scale, as images are.
      t.diagnostic(`max |onnx - tfjs| = ${maxDiff.toExponential(2)} on 0–255 (${(maxDiff / 255).toExponential(2)} of full scale)`);
      assert.ok(maxDiff / 255 < 1e-4, `max difference ${maxDiff} (${maxDiff / 255} of full scale)`);
      await onnx.release();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

test("the built-in upscaler reproduces UpscalerJS's own sample outputs", async () => {
  const modelsDir = await mkdtemp(join(tmpdir(), 'easel-models-'));
  try {
    const fixture = await rgb(sharp(join(esrganAssets, 'fixture.png')));
    for (const factor of [2, 4] as const) {
      const sample = await rgb(sharp(join(esrganAssets, 'samples', `${factor}x`, 'result.png')));
      const ours = await upscale(fixture, { factor }, { modelsDir });
      assert.equal(ours.width, sample.width);
      let max = 0;
      for (let i = 0; i < ours.pixels.length; i++) max = Math.max(max, Math.abs((ours.pixels[i] as number) - (sample.pixels[i] as number)));
      assert.ok(max <= 1, `x${factor}: up to ${max} levels from UpscalerJS's result.png`);
    }
  } finally {
    await rm(modelsDir, { recursive: true, force: true });
  }
});

test('nsfwjs MobileNetV2 class scores match nsfwjs on TensorFlow.js', async (t) => {
  const nsfwjs = (await import(join(packageRoot('nsfwjs'), 'dist', 'esm', 'index.js'))) as {
    load(name: string): Promise<{ classify(img: tf.Tensor3D, topk?: number): Promise<{ className: string; probability: number }[]> }>;
  };
  const image = await rgb(sharp(join(esrganAssets, 'fixture.png')).resize(150, 120));
  const classifier = await nsfwjs.load('MobileNetV2');
  const theirs = await classifier.classify(tf.tensor3d(image.pixels, [image.height, image.width, 3], 'int32'), 5);

  const modelsDir = await mkdtemp(join(tmpdir(), 'easel-models-'));
  try {
    const ours = await classifyNsfw(image, { modelsDir });
    t.diagnostic(`max |ours - nsfwjs| = ${Math.max(...theirs.map((c) => Math.abs(ours[c.className.toLowerCase() as (typeof NSFW_CLASSES)[number]] - c.probability))).toExponential(2)}`);
    for (const { className, probability } of theirs) {
      const key = className.toLowerCase() as (typeof NSFW_CLASSES)[number];
      assert.ok(Math.abs(ours[key] - probability) < 1e-4, `${className}: ours ${ours[key]}, nsfwjs ${probability}`);
    }
    assert.equal(theirs[0]?.className, 'Neutral', 'a hibiscus flower is neutral');
  } finally {
    await rm(modelsDir, { recursive: true, force: true });
  }
});

async function rgb(image: ReturnType<typeof sharp>): Promise<{ width: number; height: number; pixels: Uint8Array }> {
  const { data, info } = await image.flatten({ background: '#ffffff' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, pixels: new Uint8Array(data) };
}
