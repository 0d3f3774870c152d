// fp16 output of the converter (precision 'fp16'): float16 tensors in our ONNX writer, the reference checkpoints
// imported in fp16 and run on onnxruntime's CPU provider against diffusers' float32 outputs, half-size weights,
// and a tiny random fp16 model making a whole image through the pipeline.
//
// Tolerance. float16 keeps 11 significant bits: one rounding is off by up to 2⁻¹¹ ≈ 4.9e-4 of the value, and an
// output passes tens of rounded stages (residual adds, projections, the norms' affine parts). We allow 2⁻⁸ of the
// output's largest magnitude (8 float16 steps there; ≈0.014 for the UNet's noise prediction, whose scale is 3.5):
// 4× the largest error seen on this CPU (2⁻¹⁰, text encoder), in line with diffusers' own fp16 pipeline tests
// (1e-2 … 5e-2 on outputs of this scale). The CPU provider has few float16 kernels: it casts around the others and
// drops float32→float16→float32 cast pairs, so parts of a network run in float32 here and the errors below understate
// a GPU's. Where float32 is kept (the timestep sinusoid above all) is checked on the graph by
// test/unit/float16-graph.test.ts: on these tiny UNets (16 frequencies) a float16 sinusoid moves the output by only
// 3.7e-3 of its scale, 6× the correct build's error but too little for any sane tolerance to tell apart.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../../server/src/convert/graph-builder.js';
import { importCheckpoint } from '../../server/src/convert/import-checkpoint.js';
import { writeModel } from '../../server/src/convert/onnx-proto.js';
import { PRECISION_KEY } from '../../server/src/convert/pipeline-files.js';
import { writeTinyModel } from '../../server/src/convert/tiny-model.js';
import { ModelRegistry } from '../../server/src/models/model-registry.js';
import { generate, type GenerateParams } from '../../server/src/pipeline/generate.js';
import { loadSdModel, releaseSdModel } from '../../server/src/pipeline/sd-model.js';
import { REFERENCE_DATA as DATA, compareWithReference, type ReferenceModel } from '../helpers/reference-components.js';

const HAVE_DATA = existsSync(join(DATA, 'tiny-sd1', 'tiny-sd1.safetensors'));
const SKIP = `reference data absent at ${DATA}`;
const RELATIVE_TOLERANCE = 2 ** -8;

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'easel-convert-fp16-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('float16 initializers are written as TensorProto type 10 with little-endian half bits, inline or external, lazily', async () => {
  const bits = Uint16Array.of(0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000, 0x3555); // 1, -2, 65504, 2⁻²⁴, -0, ≈1/3
  for (const external of [false, true]) {
    let loads = 0;
    const b = new GraphBuilder('half');
    const w = b.lazyInitializer('w', [2, 3], 'float16', () => {
      loads++;
      return bits;
    });
    b.output('y', 'float16', [2, 3], w);
    const model = b.build();
    assert.equal(loads, 0, 'nothing is produced before writing');
    const path = join(dir, `half-${external}.onnx`);
    const written = await writeModel(path, model, external ? { externalDataFile: 'half.bin', externalThreshold: 0 } : {});
    assert.equal(loads, 1);
    if (external) {
      assert.equal(written.externalDataBytes, 12);
      assert.deepEqual([...(await readFile(join(dir, 'half.bin')))], [0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b, 0x01, 0x00, 0x00, 0x80, 0x55, 0x35]);
    }
    const session = await ort.InferenceSession.create(path);
    const { y } = await session.run({});
    assert.equal(y!.type, 'float16');
    assert.deepEqual([...(y!.data as Uint16Array)], [...bits]);
    await session.release();
  }
});

test('a weight float16 cannot hold stops an fp16 conversion, naming it; fp32 takes it', async () => {
  const weights = { shape: () => [3], read: () => Float32Array.from([1, -70000, 2]) };
  for (const precision of ['fp16', 'fp32'] as const) {
    const b = new GraphBuilder('big', { weights, precision });
    const w = b.param('huge.weight', [3], { fanIn: 1 });
    b.output('y', 'float32', [3], b.toFloat32(w));
    const path = join(dir, `big-${precision}.onnx`);
    if (precision === 'fp16') await assert.rejects(writeModel(path, b.build()), /big: "huge\.weight" holds -70000, which float16 cannot represent .* import this checkpoint as fp32/);
    else await writeModel(path, b.build());
  }
});

for (const model of ['tiny-sd1', 'tiny-sd2v'] as ReferenceModel[]) {
  test(`${model} imported in fp16 matches diffusers within 2⁻⁸ of each output's scale, with half-size weights`, async (t) => {
    if (!HAVE_DATA) return t.skip(SKIP);
    const source = { source: join(DATA, model, `${model}.safetensors`), configDir: join(DATA, model, 'diffusers') };
    const fp16 = await importCheckpoint({ ...source, outDir: join(dir, `${model}-fp16`), precision: 'fp16' });
    const fp32 = await importCheckpoint({ ...source, outDir: join(dir, `${model}-fp32`) });
    assert.equal(fp16.precision, 'fp16');

    const diffs = await compareWithReference(fp16.outDir, model);
    t.diagnostic(`${model} fp16 max |diff| (÷ output scale): ${Object.entries(diffs).map(([k, d]) => `${k} ${d.maxAbsDiff.toExponential(2)} (${(d.maxAbsDiff / d.maxAbs).toExponential(1)})`).join(', ')}`);
    for (const [output, d] of Object.entries(diffs)) {
      assert.ok(d.maxAbsDiff <= RELATIVE_TOLERANCE * d.maxAbs, `${output}: max |diff| ${d.maxAbsDiff} > 2⁻⁸ × ${d.maxAbs}`);
    }

    // The UNet's weights: 2 bytes a parameter instead of 4 (the graph file keeps small float32 constants).
    const size = (outDir: string) => statSync(join(outDir, 'unet', 'weights.pb')).size;
    const ratio = size(fp16.outDir) / size(fp32.outDir);
    t.diagnostic(`${model} unet/weights.pb: fp16 ${size(fp16.outDir)} bytes, fp32 ${size(fp32.outDir)} bytes (${ratio.toFixed(3)})`);
    assert.ok(ratio > 0.49 && ratio < 0.51, `fp16 weights are ${ratio} of fp32`);
    for (const c of ['text_encoder', 'vae_decoder', 'vae_encoder']) {
      const r = statSync(join(fp16.outDir, c, 'model.onnx')).size / statSync(join(fp32.outDir, c, 'model.onnx')).size;
      assert.ok(r < 0.65, `${c}: fp16 file is ${r} of fp32`);
    }

    // The pipeline needs no change: the same float32 inputs and outputs as the fp32 export, and the precision recorded.
    for (const c of ['text_encoder', 'unet', 'vae_decoder', 'vae_encoder']) {
      const [ours, theirs] = await Promise.all([fp16, fp32].map((r) => ort.InferenceSession.create(join(r.outDir, c, 'model.onnx'))));
      const describe = (s: ort.InferenceSession) => [...s.inputMetadata, ...s.outputMetadata].map((m) => `${m.name}:${m.isTensor ? m.type : '?'}`);
      assert.deepEqual(describe(ours!), describe(theirs!), c);
      await Promise.all([ours!.release(), theirs!.release()]);
    }
    const index = JSON.parse(await readFile(join(fp16.outDir, 'model_index.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(index[PRECISION_KEY], 'fp16');
  });
}

test('a tiny random fp16 model makes an image through the pipeline on the CPU, close to its fp32 twin, and is listed as fp16', async (t) => {
  const modelsDir = join(dir, 'store');
  const store = join(modelsDir, 'stable-diffusion');
  await mkdir(store, { recursive: true });
  await writeTinyModel(join(store, 'tiny-fp16'), { seed: 3, precision: 'fp16' });
  await writeTinyModel(join(store, 'tiny-fp32'), { seed: 3 });
  const params: GenerateParams = { prompt: 'a lighthouse at dusk', negativePrompt: 'blurry', sampler: 'euler', steps: 6, cfgScale: 7.5, width: 64, height: 64, seed: 42 };
  const render = async (id: string) => {
    const model = await loadSdModel(id, join(store, id));
    try {
      const result = await generate(model, params);
      assert.ok(result && !result.partial, `${id}: a finished image`);
      return result.image;
    } finally {
      await releaseSdModel(model);
    }
  };
  const half = await render('tiny-fp16');
  const full = await render('tiny-fp32');
  assert.deepEqual([half.width, half.height], [64, 64]);
  let sum = 0;
  for (let i = 0; i < half.pixels.length; i++) sum += Math.abs(half.pixels[i]! - full.pixels[i]!);
  const meanDiff = sum / half.pixels.length;
  const spread = Math.max(...half.pixels) - Math.min(...half.pixels);
  t.diagnostic(`mean |fp16 − fp32| ${meanDiff.toFixed(3)} of 255; fp16 pixel range ${spread}`);
  assert.ok(spread > 50, 'a picture, not a flat colour');
  assert.ok(meanDiff < 2, `fp16 image differs from fp32 by ${meanDiff} levels on average`);

  const listed = await new ModelRegistry(modelsDir).list();
  assert.deepEqual(listed.map((m) => [m.id, m.precision]), [['tiny-fp16', 'fp16'], ['tiny-fp32', 'fp32']]);
});
