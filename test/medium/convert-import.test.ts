// importCheckpoint against the reference data: the tiny SD 1.x and SD 2.x-v checkpoints (original single-file
// layout, float16) and a diffusers folder, converted by our own ONNX writer, must reproduce diffusers' outputs for
// every network within 1e-4. Also: what gets refused (pickles, SDXL & co.) and how the prediction type is chosen.
import { after, before, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { importCheckpoint } from '../../server/src/convert/import-checkpoint.js';
import type { ImportOptions, ImportProgress } from '../../server/src/convert/import-checkpoint.js';
import { detectCheckpoint } from '../../server/src/convert/checkpoint-keys.js';
import { yamlPrediction } from '../../server/src/convert/pipeline-files.js';
import { SafetensorsFile } from '../../server/src/convert/safetensors.js';
import { builtinConfig, readDiffusersConfig } from '../../server/src/convert/sd-config.js';
import { checkpointWeights } from '../../server/src/convert/weight-source.js';
import { buildUnet } from '../../server/src/convert/unet.js';
import { REFERENCE_DATA as DATA, compareWithReference, type OutputDiff } from '../helpers/reference-components.js';

const HAVE_DATA = existsSync(join(DATA, 'tiny-sd1', 'tiny-sd1.safetensors'));
const SKIP = `reference data absent at ${DATA}`;
const TOLERANCE = 1e-4;

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'easel-convert-import-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function assertClose(t: TestContext, label: string, diffs: Record<string, OutputDiff>): void {
  t.diagnostic(`${label} max |diff|: ${Object.entries(diffs).map(([k, v]) => `${k} ${v.maxAbsDiff.toExponential(1)}`).join(', ')}`);
  for (const [k, { maxAbsDiff: v }] of Object.entries(diffs)) assert.ok(v <= TOLERANCE, `${label} ${k}: max |diff| ${v} > ${TOLERANCE}`);
}

async function importTo(name: string, opts: Omit<ImportOptions, 'outDir'>): Promise<string> {
  const outDir = join(dir, name);
  await importCheckpoint({ ...opts, outDir });
  return outDir;
}

async function readJsonFile(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
}

test('tiny SD 1.x single file (float16, original layout) matches diffusers on every network', async (t) => {
  if (!HAVE_DATA) return t.skip(SKIP);
  const progress: ImportProgress[] = [];
  const outDir = await importTo('sd1', {
    source: join(DATA, 'tiny-sd1', 'tiny-sd1.safetensors'),
    configDir: join(DATA, 'tiny-sd1', 'diffusers'),
    onProgress: (p) => progress.push(p),
  });
  assertClose(t, 'tiny-sd1', await compareWithReference(outDir, 'tiny-sd1'));

  const files = (await readdir(outDir, { recursive: true })).map(String).sort();
  for (const f of ['model_index.json', 'scheduler/scheduler_config.json', 'tokenizer/vocab.json', 'tokenizer/merges.txt',
    'text_encoder/model.onnx', 'unet/model.onnx', 'unet/weights.pb', 'vae_decoder/model.onnx', 'vae_encoder/model.onnx']) {
    assert.ok(files.includes(f), `${f} missing from [${files.join(', ')}]`);
  }
  const index = await readJsonFile(join(outDir, 'model_index.json'));
  assert.equal(index._class_name, 'OnnxStableDiffusionPipeline');
  assert.deepEqual(index.scheduler, ['diffusers', 'PNDMScheduler']);
  assert.deepEqual(
    await readJsonFile(join(outDir, 'scheduler', 'scheduler_config.json')),
    await readJsonFile(join(DATA, 'tiny-sd1', 'onnx', 'scheduler', 'scheduler_config.json')),
  );
  for (const stage of ['text_encoder', 'unet', 'vae_decoder', 'vae_encoder']) {
    const last = progress.filter((p) => p.stage === stage).at(-1);
    assert.ok(last && last.total > 0 && last.done === last.total, `${stage} progress reached its total`);
  }
});

test('tiny SD 2.x v single file (OpenCLIP layout, penultimate layer) matches diffusers on every network', async (t) => {
  if (!HAVE_DATA) return t.skip(SKIP);
  const outDir = await importTo('sd2v', {
    source: join(DATA, 'tiny-sd2v', 'tiny-sd2v.safetensors'),
    configDir: join(DATA, 'tiny-sd2v', 'diffusers'),
    vaeEncoderOutput: 'sample', // diffusers' stochastic encoder: still within tolerance of the mean here
  });
  assertClose(t, 'tiny-sd2v', await compareWithReference(outDir, 'tiny-sd2v'));
  assert.deepEqual(
    await readJsonFile(join(outDir, 'scheduler', 'scheduler_config.json')),
    await readJsonFile(join(DATA, 'tiny-sd2v', 'onnx', 'scheduler', 'scheduler_config.json')),
  );

  // Same inputs/outputs (names, element types) as diffusers' own export of these weights.
  for (const c of ['text_encoder', 'unet', 'vae_decoder', 'vae_encoder']) {
    const [ours, theirs] = await Promise.all(
      [outDir, join(DATA, 'tiny-sd2v', 'onnx')].map((d) => ort.InferenceSession.create(join(d, c, 'model.onnx'))),
    );
    const describe = (s: ort.InferenceSession) =>
      [...s.inputMetadata, ...s.outputMetadata].map((m) => `${m.name}:${m.isTensor ? m.type : '?'}`);
    assert.deepEqual(describe(ours), describe(theirs), c);
    assert.deepEqual(
      ours.inputMetadata.map((m) => (m.isTensor ? m.shape : [])),
      theirs.inputMetadata.map((m) => (m.isTensor ? m.shape : [])),
      `${c} input dims`,
    );
    await Promise.all([ours.release(), theirs.release()]);
  }
});

test('a diffusers folder of safetensors imports too (its own configs, scheduler and tokenizer)', async (t) => {
  if (!HAVE_DATA) return t.skip(SKIP);
  const outDir = await importTo('sd1-folder', { source: join(DATA, 'tiny-sd1', 'diffusers') });
  assertClose(t, 'tiny-sd1 folder', await compareWithReference(outDir, 'tiny-sd1'));
  assert.deepEqual(
    await readFile(join(outDir, 'tokenizer', 'vocab.json')),
    await readFile(join(DATA, 'tiny-sd1', 'diffusers', 'tokenizer', 'vocab.json')),
  );
});

test('the prediction type: flag over config folder; v_pred marker and LDM yaml as clues', async (t) => {
  if (!HAVE_DATA) return t.skip(SKIP);
  const outDir = await importTo('sd2-eps', {
    source: join(DATA, 'tiny-sd2v', 'tiny-sd2v.safetensors'),
    configDir: join(DATA, 'tiny-sd2v', 'diffusers'),
    predictionType: 'epsilon',
  });
  const scheduler = await readJsonFile(join(outDir, 'scheduler', 'scheduler_config.json'));
  assert.equal(scheduler.prediction_type, 'epsilon');
  assert.equal(scheduler._class_name, 'DDIMScheduler');
  assert.equal(yamlPrediction(join(DATA, 'tiny-sd2v', 'tiny-sd2v.safetensors')), 'v_prediction');
  assert.equal(yamlPrediction(join(DATA, 'tiny-sd1', 'tiny-sd1.safetensors')), 'epsilon');
  assert.equal(yamlPrediction(join(dir, 'nothing-here.safetensors')), undefined);
});

test('without any tokenizer (none given, the bundled vocabulary missing) the import stops before writing', async (t) => {
  if (!HAVE_DATA) return t.skip(SKIP);
  const outDir = join(dir, 'no-tokenizer');
  const bundledTokenizerDir = join(dir, 'no-bundled-vocabulary');
  await assert.rejects(
    importCheckpoint({ source: join(DATA, 'tiny-sd2v', 'tiny-sd2v.safetensors'), outDir, bundledTokenizerDir }),
    /SD 2\.x CLIP tokenizer.*vocab\.json.*merges\.txt.*configDir/s,
  );
  assert.equal(existsSync(outDir), false, 'nothing written');
});

test('an architecture that does not fit the weights is refused with both shapes', async (t) => {
  if (!HAVE_DATA) return t.skip(SKIP);
  const file = SafetensorsFile.open(join(DATA, 'tiny-sd1', 'tiny-sd1.safetensors'));
  try {
    const info = detectCheckpoint(file.names(), (n) => (file.has(n) ? file.entry(n).shape : undefined));
    assert.equal(info.description, 'SD 1.x');
    const weights = checkpointWeights(file, info, { unetLayersPerBlock: 2, vaeLevels: 4 });
    assert.throws(() => buildUnet(builtinConfig('sd15').unet, { weights: weights.unet }), /"time_embedding\.linear_1\.weight" has shape \[128, 32\], the architecture expects \[1280, 320\]/);
    // A wrong layers_per_block leaves weights unplaced: the importer refuses rather than drop them silently.
    const config = readDiffusersConfig(join(DATA, 'tiny-sd1', 'diffusers'));
    assert.throws(() => buildUnet({ ...config.unet, layersPerBlock: 1 }, { weights: checkpointWeights(file, info, { unetLayersPerBlock: 1, vaeLevels: 4 }).unet }));
  } finally {
    file.close();
  }
});

test('a config folder may hold only some config.json files: the others are the built-in SD architecture', async (t) => {
  if (!HAVE_DATA) return t.skip(SKIP);
  const partial = join(dir, 'partial-config');
  const from = join(DATA, 'tiny-sd1', 'diffusers');
  await mkdir(partial, { recursive: true });
  await cp(join(from, 'tokenizer'), join(partial, 'tokenizer'), { recursive: true });
  await cp(join(from, 'unet'), join(partial, 'unet'), { recursive: true });
  await cp(join(from, 'vae'), join(partial, 'vae'), { recursive: true });
  // No text_encoder/config.json: the SD 1.5 text encoder (768 wide) does not fit the tiny one, and the error says why.
  await assert.rejects(
    importCheckpoint({ source: join(DATA, 'tiny-sd1', 'tiny-sd1.safetensors'), configDir: partial, outDir: join(dir, 'partial-out') }),
    /text_encoder: .*has shape \[49408, 8\], the architecture expects \[49408, 768\].*built with the SD 1\.5 architecture/,
  );
  assert.equal(existsSync(join(dir, 'partial-out')), false, 'a failed import leaves nothing behind');
  assert.deepEqual((await readdir(dir)).filter((n) => n.includes('importing')), [], 'no work folder left');
});

test('weights the configured architecture has no place for fail the import before anything is written', async (t) => {
  if (!HAVE_DATA) return t.skip(SKIP);
  const config = join(dir, 'no-attention-config');
  await cp(join(DATA, 'tiny-sd1', 'diffusers'), config, { recursive: true, filter: (src) => !src.endsWith('.safetensors') });
  const unetConfig = await readJsonFile(join(config, 'unet', 'config.json'));
  await writeFile(join(config, 'unet', 'config.json'), JSON.stringify({ ...unetConfig, down_block_types: ['DownBlock2D', 'DownBlock2D'] }));
  const outDir = join(dir, 'no-attention-out');
  await assert.rejects(
    importCheckpoint({ source: join(DATA, 'tiny-sd1', 'tiny-sd1.safetensors'), configDir: config, outDir }),
    /unet: 52 checkpoint weights have no place in the architecture \(down_blocks\.0\.attentions\.0\./,
  );
  assert.equal(existsSync(outDir), false);
});

test('pickle checkpoints are refused with the reason and a way to convert', async () => {
  const ckpt = join(dir, 'model.ckpt');
  await writeFile(ckpt, Buffer.from('PK\x03\x04 torch zip'));
  await assert.rejects(importCheckpoint({ source: ckpt, outDir: join(dir, 'out-ckpt') }), /pickle.*arbitrary code.*safetensors/s);
  const disguised = join(dir, 'disguised.safetensors');
  await writeFile(disguised, Buffer.from([0x80, 0x04, 0x95, 0x00, 0x00]));
  await assert.rejects(importCheckpoint({ source: disguised, outDir: join(dir, 'out-disguised') }), /pickle/);
});

/** .safetensors bytes: u64 header length, JSON header, then the tensors' bytes in order. */
function safetensorsBytes(tensors: Record<string, { dtype: string; shape: number[]; bytes: Uint8Array }>): Buffer {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
    offset += t.bytes.length;
  }
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, json, ...Object.values(tensors).map((t) => Buffer.from(t.bytes))]);
}

/** A safetensors file with these tensor names (one zero each, shapes as given). */
async function keySet(name: string, shapes: Record<string, number[]>): Promise<string> {
  const path = join(dir, `${name}.safetensors`);
  const tensors = Object.fromEntries(
    Object.entries(shapes).map(([k, shape]) => [k, { dtype: 'F16', shape, bytes: new Uint8Array(2 * shape.reduce((n, d) => n * d, 1)) }]),
  );
  await writeFile(path, safetensorsBytes(tensors));
  return path;
}

test('SDXL, SD3, Flux, LoRA and odd UNets are refused as "not supported"', async () => {
  const unet = { 'model.diffusion_model.input_blocks.0.0.weight': [320, 4, 3, 3], 'first_stage_model.decoder.conv_in.weight': [1] };
  const sdxl = await keySet('sdxl', {
    ...unet,
    'model.diffusion_model.label_emb.0.0.weight': [1280, 2816],
    'conditioner.embedders.0.transformer.text_model.final_layer_norm.weight': [768],
    'conditioner.embedders.1.model.ln_final.weight': [1280],
  });
  await assert.rejects(importCheckpoint({ source: sdxl, outDir: join(dir, 'out-sdxl') }), /SDXL.*not supported yet/);
  assert.equal(existsSync(join(dir, 'out-sdxl')), false);

  const shapeOf = (shapes: Record<string, number[]>) => (n: string) => shapes[n];
  const cases: [Record<string, number[]>, RegExp][] = [
    [{ 'model.diffusion_model.joint_blocks.0.x_block.attn.qkv.weight': [1] }, /Stable Diffusion 3.*not supported/],
    [{ 'double_blocks.0.img_attn.qkv.weight': [1] }, /Flux.*not supported/],
    [{ 'lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight': [1] }, /LoRA.*not supported/],
    [{ 'first_stage_model.decoder.conv_in.weight': [1] }, /no Stable Diffusion UNet.*not supported/],
    [{ ...unet, 'model.diffusion_model.input_blocks.0.0.weight': [320, 8, 3, 3], 'cond_stage_model.transformer.x': [1] }, /8 input channels.*not supported/],
    [{ ...unet }, /no text encoder.*not supported/],
  ];
  for (const [shapes, message] of cases) assert.throws(() => detectCheckpoint(Object.keys(shapes), shapeOf(shapes)), message);

  const inpaint = { ...unet, 'model.diffusion_model.input_blocks.0.0.weight': [320, 9, 3, 3], 'cond_stage_model.model.ln_final.weight': [1024], v_pred: [] };
  const info = detectCheckpoint(Object.keys(inpaint), shapeOf(inpaint));
  assert.deepEqual([info.family, info.inpainting, info.vPredictionMarker, info.description], ['sd2', true, true, 'SD 2.x inpainting']);

  const xlFolder = join(dir, 'xl-folder');
  await mkdir(join(xlFolder, 'text_encoder_2'), { recursive: true });
  await writeFile(join(xlFolder, 'model_index.json'), JSON.stringify({ _class_name: 'StableDiffusionXLPipeline' }));
  await assert.rejects(importCheckpoint({ source: xlFolder, outDir: join(dir, 'out-xl') }), /StableDiffusionXLPipeline.*not supported/);
});
