// Upscaling and the NSFW blur on real pictures with real onnxruntime: the built-in ESRGAN-slim must restore a
// downscaled photo better than Lanczos, tiles must blend without seams, a catalog-style ONNX upscaler is used
// through the same path, and a flagged picture comes out unrecognisable.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { GraphBuilder } from '../../server/src/convert/graph-builder.js';
import { writeModel } from '../../server/src/convert/onnx-proto.js';
import { withFilterParams } from '../../server/src/filters/filter-chain.js';
import { packageRoot } from '../../server/src/filters/keras/builtin-models.js';
import { blurImage, isFlagged } from '../../server/src/filters/nsfw.js';
import { runTiled } from '../../server/src/filters/tiling.js';
import { modelRunner, upscale } from '../../server/src/filters/upscale.js';
import { builtinModelPath } from '../../server/src/filters/keras/builtin-models.js';
import type { RgbImage } from '../../server/src/images/encode.js';

const modelsDir = await mkdtemp(join(tmpdir(), 'easel-filters-'));
after(() => rm(modelsDir, { recursive: true, force: true }));

/** A 128×128 photo of a hibiscus that ships with @upscalerjs/esrgan-slim (MIT). */
async function photo(): Promise<RgbImage> {
  return raw(sharp(join(packageRoot('@upscalerjs/esrgan-slim'), 'assets', 'fixture.png')).flatten({ background: '#ffffff' }));
}

async function raw(image: ReturnType<typeof sharp>): Promise<RgbImage> {
  const { data, info } = await image.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, pixels: new Uint8Array(data) };
}

function psnr(a: RgbImage, b: RgbImage): number {
  assert.equal(a.pixels.length, b.pixels.length);
  let se = 0;
  for (let i = 0; i < a.pixels.length; i++) se += ((a.pixels[i] as number) - (b.pixels[i] as number)) ** 2;
  return 10 * Math.log10(255 ** 2 / (se / a.pixels.length));
}

test('ESRGAN-slim x2 restores a downscaled photo better than Lanczos', async (t) => {
  const original = await photo();
  for (const factor of [2, 3, 4] as const) {
    const side = Math.floor(original.width / factor) * factor;
    const crop = await raw(sharp(original.pixels, { raw: { width: original.width, height: original.height, channels: 3 } }).extract({ left: 0, top: 0, width: side, height: side }));
    const small = await raw(sharp(crop.pixels, { raw: { width: side, height: side, channels: 3 } }).resize(side / factor, side / factor, { kernel: 'cubic' }));
    const esrgan = await upscale(small, { factor }, { modelsDir });
    const lanczos = await upscale(small, { factor, model: 'lanczos' }, { modelsDir });
    const [e, l] = [psnr(esrgan, crop), psnr(lanczos, crop)];
    t.diagnostic(`x${factor}: ESRGAN-slim ${e.toFixed(2)} dB, Lanczos ${l.toFixed(2)} dB`);
    // The slim x3/x4 models are tiny (RDN, 2 blocks) and trail Lanczos on PSNR; x2 is the one that must win.
    if (factor === 2) assert.ok(e > l, `x2: ESRGAN-slim ${e} dB should beat Lanczos ${l} dB`);
  }
});

test('tiles blend into the same picture as one pass, with progress per tile', async () => {
  const image = await raw(sharp((await photo()).pixels, { raw: { width: 128, height: 128, channels: 3 } }).extract({ left: 20, top: 30, width: 64, height: 48 }));
  const run = await modelRunner(await builtinModelPath('esrgan-slim-x2', modelsDir), 255);
  const whole = await runTiled(image, run, { tile: 1024, overlap: 0, pad: 0 });
  const progress: [number, number][] = [];
  const tiled = await runTiled(image, run, { tile: 24, overlap: 8, pad: 8 }, { modelsDir, onProgress: (done, total) => progress.push([done, total]) });
  // Tiles start every 16 px, the last flush with the edge: x at 0, 16, 32, 40 and y at 0, 16, 24.
  assert.deepEqual(progress.map(([d]) => d), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  assert.ok(progress.every(([, total]) => total === 12));
  let max = 0;
  let sum = 0;
  for (let i = 0; i < whole.image.pixels.length; i++) {
    const d = Math.abs((whole.image.pixels[i] as number) - (tiled.image.pixels[i] as number));
    max = Math.max(max, d);
    sum += d;
  }
  assert.ok(max <= 2 && sum / whole.image.pixels.length < 0.1, `tiled differs by up to ${max} levels, ${sum / whole.image.pixels.length} on average`);
});

test('a catalog upscaler (NCHW, 0–1) runs through the same path, with Lanczos to the factor asked for', async () => {
  // A stand-in with Real-ESRGAN's tensor contract: "input" NCHW float RGB in [0, 1], output 4× larger.
  const b = new GraphBuilder('tiny-x4');
  const x = b.input('input', 'float32', [1, 3, 'height', 'width']);
  const y = b.op('Resize', [x, '', b.constFloat([1, 1, 4, 4])], { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' });
  b.output('output', 'float32', [1, 3, 'h4', 'w4'], y);
  await mkdir(join(modelsDir, 'upscaler', 'tiny-x4'), { recursive: true });
  await writeModel(join(modelsDir, 'upscaler', 'tiny-x4', 'model.onnx'), b.build());

  const image = await raw(sharp((await photo()).pixels, { raw: { width: 128, height: 128, channels: 3 } }).resize(40, 30));
  const x4 = await upscale(image, { factor: 4, model: 'tiny-x4' }, { modelsDir });
  assert.deepEqual([x4.width, x4.height], [160, 120]);
  for (const [px, py] of [[0, 0], [77, 33], [159, 119]] as const) {
    const src = (Math.floor(py / 4) * 40 + Math.floor(px / 4)) * 3;
    assert.deepEqual([...x4.pixels.subarray((py * 160 + px) * 3, (py * 160 + px) * 3 + 3)], [...image.pixels.subarray(src, src + 3)], `pixel ${px},${py}`);
  }
  const x2 = await upscale(image, { factor: 2, model: 'tiny-x4' }, { modelsDir });
  assert.deepEqual([x2.width, x2.height], [80, 60]);
});

test('a flagged picture is blurred beyond recognition; the flag rule counts the explicit classes', async () => {
  const image = await photo();
  const blurred = await blurImage(image);
  assert.deepEqual([blurred.width, blurred.height], [image.width, image.height]);
  // Detail (the mean gradient) all but vanishes, while the average colour stays.
  const detail = (im: RgbImage) => {
    let sum = 0;
    for (let i = 3; i < im.pixels.length; i++) sum += Math.abs((im.pixels[i] as number) - (im.pixels[i - 3] as number));
    return sum / im.pixels.length;
  };
  assert.ok(detail(blurred) < detail(image) / 4, `detail ${detail(blurred)} vs ${detail(image)}`);
  assert.ok(psnr(blurred, image) > 12 && psnr(blurred, image) < 25, 'the colours survive, the picture does not');

  const scores = { drawing: 0, hentai: 0.3, neutral: 0.3, porn: 0.25, sexy: 0.15 };
  assert.equal(isFlagged(scores), true);
  assert.equal(isFlagged({ ...scores, hentai: 0.1, sexy: 0.35 }), false, 'suggestive but not explicit');
});

test('filter entries go into the infotext before Version, as A1111 writes extras', () => {
  const infotext = 'a cat\nNegative prompt: dog\nSteps: 20, Sampler: Euler, Seed: 1, Version: Easel 0.1.0';
  assert.equal(
    withFilterParams(infotext, [['Postprocess upscale by', 2], ['Postprocess upscaler', 'ESRGAN-slim 2x']]),
    'a cat\nNegative prompt: dog\nSteps: 20, Sampler: Euler, Seed: 1, Postprocess upscale by: 2, Postprocess upscaler: ESRGAN-slim 2x, Version: Easel 0.1.0',
  );
  assert.equal(withFilterParams(infotext, []), infotext);
});
