// TAESD previews with real onnxruntime: the builder's graph computes what taesd.py's Decoder computes (a plain-JS
// reference on a tiny config), an installed TAESD is found and used for previews in either output range, a broken
// one falls back to the linear preview, and the full-size graph runs at 512².
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { GraphBuilder } from '../../server/src/convert/graph-builder.js';
import { writeModel, type ModelDef } from '../../server/src/convert/onnx-proto.js';
import { buildTaesdDecoder, TAESD_DECODER, type TaesdDecoderConfig, type TaesdOutputRange } from '../../server/src/convert/taesd.js';
import { tensorToRgb, type RgbImage } from '../../server/src/images/encode.js';
import { OnnxModel } from '../../server/src/pipeline/onnx/onnx-session.js';
import { latentsToRgb } from '../../server/src/pipeline/preview/latent-preview.js';
import { createPreviewer } from '../../server/src/pipeline/preview/previewer.js';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'easel-taesd-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

const TINY: TaesdDecoderConfig = { ...TAESD_DECODER, channels: 4, blocksPerStage: [2, 1, 1, 1] };
const tiny = (outputRange: TaesdOutputRange) => buildTaesdDecoder({ ...TINY, outputRange }, { seed: 5 });

/** A model store holding `model` where the catalog's `taesd` entry installs it. */
async function store(name: string, model: ModelDef, file = 'vae-approx/taesd/vae_decoder/model.onnx'): Promise<string> {
  const modelsDir = join(root, name);
  await mkdir(dirname(join(modelsDir, file)), { recursive: true });
  await writeModel(join(modelsDir, file), model);
  return modelsDir;
}

function latents(width: number, height: number, seed: number): Float32Array {
  let state = seed >>> 0;
  const uniform = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) + 0.5) / 4294967296;
  return Float32Array.from({ length: 4 * width * height }, () => 4 * uniform() - 2);
}

// --- taesd.py's Decoder in plain JS, on the weights the builder generated -------------------------------------

function weightsOf(model: ModelDef): Map<string, Float32Array> {
  return new Map(model.graph.initializers.map((t) => [t.name, (typeof t.data === 'function' ? t.data() : t.data) as Float32Array]));
}

interface Planes {
  data: Float32Array;
  c: number;
  h: number;
  w: number;
}

/** nn.Conv2d(cIn, cOut, 3, padding=1), direct. */
function conv3x3(x: Planes, weight: Float32Array, bias: Float32Array | undefined, cOut: number): Planes {
  const { c, h, w } = x;
  const out = new Float32Array(cOut * h * w);
  for (let o = 0; o < cOut; o++) {
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < w; xx++) {
        let sum = bias ? bias[o]! : 0;
        for (let i = 0; i < c; i++) {
          for (let ky = 0; ky < 3; ky++) {
            const sy = y + ky - 1;
            if (sy < 0 || sy >= h) continue;
            for (let kx = 0; kx < 3; kx++) {
              const sx = xx + kx - 1;
              if (sx < 0 || sx >= w) continue;
              sum += weight[((o * c + i) * 3 + ky) * 3 + kx]! * x.data[(i * h + sy) * w + sx]!;
            }
          }
        }
        out[(o * h + y) * w + xx] = sum;
      }
    }
  }
  return { data: out, c: cOut, h, w };
}

const relu = (x: Planes): Planes => ({ ...x, data: x.data.map((v) => Math.max(0, v)) });

function upsample2x(x: Planes): Planes {
  const out = new Float32Array(x.c * x.h * 2 * x.w * 2);
  for (let i = 0; i < out.length; i++) {
    const xx = i % (2 * x.w);
    const y = Math.floor(i / (2 * x.w)) % (2 * x.h);
    const c = Math.floor(i / (4 * x.w * x.h));
    out[i] = x.data[(c * x.h + (y >> 1)) * x.w + (xx >> 1)]!;
  }
  return { data: out, c: x.c, h: 2 * x.h, w: 2 * x.w };
}

/**
 * taesd.py: Decoder = Sequential(Clamp(), conv(4, 64), ReLU(), Block ×3, Upsample(2), conv(64, 64, bias=False), …,
 * Block, conv(64, 3)); Block(x) = ReLU(conv(ReLU(conv(ReLU(conv(x))))) + x). diffusers' DecoderTiny has no Clamp
 * module, so taesd.py's layer i is its `decoder.layers.{i - 1}`. Output in [0, 1] (taesd.py's raw convention).
 */
function referenceDecoder(latent: Float32Array, h: number, w: number, cfg: TaesdDecoderConfig, weights: Map<string, Float32Array>): Planes {
  const C = cfg.channels;
  const p = (torchIndex: number, rest: string) => weights.get(`decoder.layers.${torchIndex - 1}${rest}`);
  let x: Planes = { data: latent.map((v) => Math.tanh(v / 3) * 3), c: 4, h, w };
  let i = 1;
  x = relu(conv3x3(x, p(i, '.weight')!, p(i, '.bias'), C));
  i += 2;
  cfg.blocksPerStage.forEach((blocks, stage) => {
    for (let n = 0; n < blocks; n++, i++) {
      let y = relu(conv3x3(x, p(i, '.conv.0.weight')!, p(i, '.conv.0.bias'), C));
      y = relu(conv3x3(y, p(i, '.conv.2.weight')!, p(i, '.conv.2.bias'), C));
      y = conv3x3(y, p(i, '.conv.4.weight')!, p(i, '.conv.4.bias'), C);
      x = relu({ ...y, data: y.data.map((v, k) => v + x.data[k]!) });
    }
    const last = stage === cfg.blocksPerStage.length - 1;
    if (!last) {
      x = upsample2x(x);
      i++;
      assert.equal(p(i, '.bias'), undefined, 'the conv after an upsample has no bias');
    }
    x = conv3x3(x, p(i, '.weight')!, p(i, '.bias'), last ? 3 : C);
    i++;
  });
  return x;
}

test('the TAESD graph computes what taesd.py\'s Decoder does (plain-JS reference, 2×2 latent), in both output ranges', async () => {
  const latent = latents(2, 2, 11);
  for (const range of ['[0,1]', '[-1,1]'] as const) {
    const model = tiny(range);
    const path = join(root, `reference-${range === '[0,1]' ? 'raw' : 'signed'}.onnx`);
    await writeModel(path, model);
    const session = await OnnxModel.load(path);
    const out = (await session.run({ latent_sample: { kind: 'float', dims: [1, 4, 2, 2], data: latent } })).sample!;
    await session.release();
    assert.deepEqual(out.dims, [1, 3, 16, 16]);
    const ref = referenceDecoder(latent, 2, 2, TINY, weightsOf(model));
    const expected = range === '[0,1]' ? ref.data : ref.data.map((v) => v * 2 - 1);
    const scale = Math.max(...expected.map(Math.abs));
    assert.ok(scale > 1e-3, 'the reference output is not all zeros');
    const worst = Math.max(...out.data.map((v, k) => Math.abs(v - expected[k]!)));
    assert.ok(worst <= 1e-5 * Math.max(1, scale), `${range}: max difference ${worst}`);
  }
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
// With this share any few milliseconds of "step" pay for a tiny decode: the budget is tested on its own (unit).
const GENEROUS = 1e6;

async function twoSteps(modelsDir: string, width: number, height: number, maxSide = 256): Promise<{ kind: string; first: RgbImage; second: RgbImage }> {
  const previewer = await createPreviewer({ modelsDir, latentChannels: 4, maxSide, share: GENEROUS, log: () => {} });
  const x = latents(width, height, 3);
  const first = await previewer.preview(x, width, height);
  await sleep(5);
  return { kind: previewer.kind, first, second: await previewer.preview(x, width, height) };
}

test('an installed TAESD is found and previews at 8× the latent size, the same picture whichever range its file has', async () => {
  const signed = await store('signed', tiny('[-1,1]'));
  const raw = await store('raw', tiny('[0,1]'));
  const [w, h] = [8, 6];
  const a = await twoSteps(signed, w, h);
  const b = await twoSteps(raw, w, h);
  assert.equal(a.kind, 'taesd');
  // The first step's duration is not known yet, so it gets the linear preview.
  assert.deepEqual(a.first, latentsToRgb(latents(w, h, 3), w, h));
  assert.deepEqual([a.second.width, a.second.height], [64, 48]);
  // Exactly the decoder's own output in [-1, 1], converted as the final image is.
  const session = await OnnxModel.load(join(signed, 'vae-approx/taesd/vae_decoder/model.onnx'));
  const out = (await session.run({ latent_sample: { kind: 'float', dims: [1, 4, h, w], data: latents(w, h, 3) } })).sample!;
  await session.release();
  assert.deepEqual(a.second, tensorToRgb(out.data, 64, 48));
  const levels = new Set(a.second.pixels);
  assert.ok(levels.size > 10, 'a picture, not a flat fill');
  // A raw [0, 1] export of the same weights gives the same picture (±1 level of rounding).
  const diff = Math.max(...a.second.pixels.map((v, i) => Math.abs(v - b.second.pixels[i]!)));
  assert.ok(diff <= 1, `raw vs diffusers range: ${diff} levels apart`);
  // A treated as [0, 1] (or B as [-1, 1]) would be off by half the range: this is what the range detection buys.
  const misread = tensorToRgb(out.data.map((v) => v * 2 - 1), 64, 48);
  assert.ok(Math.max(...misread.pixels.map((v, i) => Math.abs(v - a.second.pixels[i]!))) > 20);

  // Larger than the preview side: box-averaged down by a whole factor.
  const small = await twoSteps(signed, w, h, 32);
  assert.deepEqual([small.second.width, small.second.height], [32, 24]);
  const mean = (img: RgbImage) => img.pixels.reduce((s, v) => s + v, 0) / img.pixels.length;
  assert.ok(Math.abs(mean(small.second) - mean(a.second)) < 1.5);
});

test('TAESD is looked for where the catalog installs it, as a loose file, and never as taesdxl', async () => {
  const signed = await store('loose', tiny('[-1,1]'), 'vae-approx/taesd_decoder.onnx');
  assert.equal((await createPreviewer({ modelsDir: signed, latentChannels: 4 })).kind, 'taesd');
  const xl = await store('xl', tiny('[-1,1]'), 'vae-approx/taesdxl/vae_decoder/model.onnx');
  assert.equal((await createPreviewer({ modelsDir: xl, latentChannels: 4 })).kind, 'linear');
  // SD 3 / FLUX-style 16-channel latents: linear, whatever is installed.
  assert.equal((await createPreviewer({ modelsDir: signed, latentChannels: 16 })).kind, 'linear');
  assert.equal((await createPreviewer({ modelsDir: join(root, 'empty'), latentChannels: 4 })).kind, 'linear');
  assert.equal((await createPreviewer({ modelsDir: undefined, latentChannels: 4 })).kind, 'linear');
});

test('a TAESD file that does not load falls back to the linear preview, and says so once', async () => {
  const modelsDir = join(root, 'broken');
  await mkdir(join(modelsDir, 'vae-approx/taesd/vae_decoder'), { recursive: true });
  await writeFile(join(modelsDir, 'vae-approx/taesd/vae_decoder/model.onnx'), 'not an onnx model');
  const logs: string[] = [];
  for (let i = 0; i < 2; i++) {
    const previewer = await createPreviewer({ modelsDir, latentChannels: 4, log: (m) => logs.push(m) });
    assert.equal(previewer.kind, 'linear');
    assert.deepEqual(await previewer.preview(latents(8, 8, 1), 8, 8), latentsToRgb(latents(8, 8, 1), 8, 8));
  }
  assert.equal(logs.length, 1, logs.join('\n'));
  assert.match(logs[0]!, /could not be loaded, using the linear preview/);
});

/** A stand-in "decoder" (nearest ×8 of the first 3 channels) whose latent input is `[1, 4, h, w]` or reshaped to 16×16. */
function standIn(input: (number | string)[], reshapeTo16: boolean): ModelDef {
  const b = new GraphBuilder('vae_decoder');
  let x = b.input('latent_sample', 'float32', input);
  if (reshapeTo16) x = b.op('Reshape', [x, b.constInt64([1, 4, 16, 16])]);
  const rgb = b.op('Slice', [x, b.constInt64([0]), b.constInt64([3]), b.constInt64([1])]);
  b.output('sample', 'float32', [1, 3, 'H', 'W'], b.op('Resize', [rgb, '', b.constFloat([1, 1, 8, 8])], { mode: 'nearest' }));
  return b.build();
}

test('a TAESD that fails while decoding falls back to the linear preview for good, and says so once', async () => {
  // Declares any size, loads and warms up (16×16 latents), but fails on any other size.
  const modelsDir = await store('fails-later', standIn([1, 4, 'h', 'w'], true));
  const logs: string[] = [];
  const previewer = await createPreviewer({ modelsDir, latentChannels: 4, share: GENEROUS, log: (m) => logs.push(m) });
  assert.equal(previewer.kind, 'taesd');
  assert.match(logs.join('\n'), /output range not told by the graph/);
  const x8 = latents(8, 8, 2);
  await previewer.preview(x8, 8, 8);
  await sleep(5);
  assert.deepEqual(await previewer.preview(x8, 8, 8), latentsToRgb(x8, 8, 8));
  await sleep(5);
  assert.deepEqual(await previewer.preview(x8, 8, 8), latentsToRgb(x8, 8, 8));
  assert.equal(logs.filter((m) => /failed, using the linear preview/.test(m)).length, 1);
  assert.equal((await createPreviewer({ modelsDir, latentChannels: 4, log: (m) => logs.push(m) })).kind, 'linear');
  assert.equal(logs.length, 2);
});

test('an export for one fixed latent size previews that size with TAESD and others with the linear map', async () => {
  const modelsDir = await store('fixed-size', standIn([1, 4, 16, 16], false));
  const logs: string[] = [];
  const previewer = await createPreviewer({ modelsDir, latentChannels: 4, share: GENEROUS, log: (m) => logs.push(m) });
  assert.equal(previewer.kind, 'taesd');
  for (const side of [16, 8]) {
    const x = latents(side, side, 4);
    await previewer.preview(x, side, side);
    await sleep(5);
    const shown = await previewer.preview(x, side, side);
    assert.equal(shown.width, side === 16 ? 128 : 8, `${side}×${side} latents`);
  }
  assert.ok(!logs.some((m) => /failed/.test(m)), logs.join('\n'));
});

test('the full-size random-weight TAESD decodes a 64×64 latent to 512×512', async () => {
  const path = join(root, 'full.onnx');
  await writeModel(path, buildTaesdDecoder(TAESD_DECODER, { seed: 1 }));
  const session = await OnnxModel.load(path);
  const started = performance.now();
  const out = (await session.run({ latent_sample: { kind: 'float', dims: [1, 4, 64, 64], data: latents(64, 64, 9) } })).sample!;
  const ms = performance.now() - started;
  await session.release();
  assert.deepEqual(out.dims, [1, 3, 512, 512]);
  assert.ok(out.data.every(Number.isFinite));
  assert.ok(new Set(out.data.subarray(0, 4096)).size > 100, 'varied pixels');
  console.log(`full-size TAESD, 64×64 latent: ${ms.toFixed(0)} ms`);
});
