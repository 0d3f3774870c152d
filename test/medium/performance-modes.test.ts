// The speed and memory options must not change the picture: low-memory mode gives the same pixels, fused
// attention the same image within float rounding, and tiled VAE decoding stays close to decoding whole.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readdir, rm, stat, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tensorToRgb } from '../../server/src/images/encode.js';
import { writeTinyModel } from '../../server/src/convert/tiny-model.js';
import { generate, type GenerateParams } from '../../server/src/pipeline/generate.js';
import { OnnxModel } from '../../server/src/pipeline/onnx/onnx-session.js';
import { loadSdModel, releaseSdModel } from '../../server/src/pipeline/sd-model.js';
import { DEFAULT_TILING, decodeLatents, tileStarts } from '../../server/src/pipeline/vae-decode.js';
import { tinyModelStore } from '../helpers/tiny-model.js';

const params: GenerateParams = { prompt: 'a photo of a cat', negativePrompt: 'blurry', sampler: 'euler', steps: 4, cfgScale: 7.5, width: 256, height: 192, seed: 3 };
const temp: string[] = [];
after(async () => {
  for (const dir of temp) await rm(dir, { recursive: true, force: true });
});

test('low-memory mode makes the same pixels and holds no network between images', async () => {
  const { modelDir } = await tinyModelStore();
  const normal = await loadSdModel('tiny', modelDir);
  const low = await loadSdModel('tiny', modelDir, { lowMemory: true });
  try {
    const expected = await generate(normal, params);
    const actual = await generate(low, params);
    assert.deepEqual(actual?.image.pixels, expected?.image.pixels);
    assert.deepEqual([low.textEncoder.loaded, low.unet.loaded, low.vaeDecoder.loaded], [false, false, false]);
  } finally {
    await releaseSdModel(normal);
    await releaseSdModel(low);
  }
});

test('fused attention (onnxruntime MultiHeadAttention) gives the plain graph’s image', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'easel-fused-'));
  temp.push(dir);
  await writeTinyModel(dir, { seed: 1, fusedAttention: true });
  const plain = await loadSdModel('tiny', (await tinyModelStore()).modelDir);
  const fused = await loadSdModel('tiny-fused', dir);
  try {
    const a = (await generate(plain, params))!;
    const b = (await generate(fused, params))!;
    // The parity tests' tolerance for onnxruntime against torch: flash attention sums in another order.
    let err = 0;
    let norm = 0;
    a.latents.forEach((v, i) => {
      err += (v - (b.latents[i] as number)) ** 2;
      norm += v * v;
    });
    assert.ok(Math.sqrt(err / norm) < 1e-4, `latents relative L2 ${Math.sqrt(err / norm)}`);
    const levels = a.image.pixels.reduce((m, v, i) => Math.max(m, Math.abs(v - (b.image.pixels[i] as number))), 0);
    assert.ok(levels <= 1, `pixels differ by ${levels} levels`);
  } finally {
    await releaseSdModel(plain);
    await releaseSdModel(fused);
  }
});

test('tiled VAE decoding covers the image and stays close to decoding whole', async () => {
  assert.deepEqual(tileStarts(32, 16, 8), [0, 8, 16]);
  assert.deepEqual(tileStarts(30, 16, 4), [0, 12, 14]);
  assert.deepEqual(tileStarts(12, 16, 4), [0]);
  const model = await loadSdModel('tiny', (await tinyModelStore()).modelDir);
  try {
    const latents = (await generate(model, params))!.latents.map((v) => v / model.vaeScalingFactor);
    const whole = tensorToRgb(await decodeLatents(model.vaeDecoder, latents, 32, 24), 256, 192).pixels;
    // Forced tiling: 24-latent tiles overlapping by 8 (two across, one down).
    const tiled = tensorToRgb(await decodeLatents(model.vaeDecoder, latents, 32, 24, { tile: 24, overlap: 8, maxUntiled: 0 }), 256, 192).pixels;
    let sum = 0;
    let worst = 0;
    whole.forEach((v, i) => {
      const d = Math.abs(v - (tiled[i] as number));
      sum += d;
      worst = Math.max(worst, d);
    });
    // Tiles normalise and attend over their own area only, so some difference is expected; a misplaced or
    // unblended tile would differ by far more.
    assert.ok(sum / whole.length < 1.5, `mean difference ${sum / whole.length} levels`);
    assert.ok(worst < 40, `largest difference ${worst} levels`);
    assert.ok(DEFAULT_TILING.maxUntiled >= 64 * 64, 'SD’s own 512² images are decoded whole');
  } finally {
    await releaseSdModel(model);
  }
});

test('a saved optimized graph computes what the original does, and is replaced when the model changes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'easel-ort-cache-'));
  temp.push(dir);
  const modelDir = join(dir, 'models', 'tiny');
  await cp((await tinyModelStore()).modelDir, modelDir, { recursive: true });
  const path = join(modelDir, 'text_encoder', 'model.onnx');
  const cache = join(dir, 'cache');
  const ids = { kind: 'int' as const, dims: [1, 77], data: Int32Array.from({ length: 77 }, (_, i) => (i * 7) % 300) };
  const run = async (options = {}) => {
    const model = await OnnxModel.load(path, options);
    try {
      return Object.values(await model.run({ input_ids: ids }))[0]!.data;
    } finally {
      await model.release();
    }
  };
  const expected = await run();
  assert.deepEqual(await run({ optimizedCacheDir: cache }), expected); // optimizes and saves
  const saved = await readdir(cache);
  assert.equal(saved.filter((f) => f.endsWith('.onnx')).length, 1);
  const savedAt = (await stat(join(cache, saved.find((f) => f.endsWith('.onnx'))!))).mtimeMs;
  assert.deepEqual(await run({ optimizedCacheDir: cache }), expected); // loads the saved graph…
  assert.equal((await stat(join(cache, saved.find((f) => f.endsWith('.onnx'))!))).mtimeMs, savedAt); // …without rewriting it
  await utimes(path, new Date(), new Date(Date.now() + 5000));
  await run({ optimizedCacheDir: cache });
  const after = await readdir(cache);
  assert.equal(after.filter((f) => f.endsWith('.onnx')).length, 1);
  assert.notDeepEqual(after, saved, 'a changed model gets a new entry in place of the old one');
});
