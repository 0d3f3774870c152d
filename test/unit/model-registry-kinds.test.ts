// GET /api/models by kind over a store laid out as A1111 users have it: `Stable-diffusion/` beside Easel's
// `stable-diffusion/`, upscalers in `ESRGAN/` and `RealESRGAN/`, face restorers in `GFPGAN/` and `Codeformer/`, and
// single-file checkpoints waiting to be imported (never imported unasked from A1111's folder).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../server/src/app.js';
import { loadConfig } from '../../server/src/config/config.js';
import type { ModelInfo } from '../../server/src/http/schemas.js';
import { FakeBackend } from '../helpers/fake-backend.js';

let root: string;
let app: FastifyInstance;

async function put(path: string, content: string | Buffer = 'x'): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content);
}

async function onnxModelFolder(dir: string): Promise<void> {
  await put(join(dir, 'model_index.json'), JSON.stringify({ _class_name: 'OnnxStableDiffusionPipeline' }));
  await put(join(dir, 'tokenizer', 'special_tokens_map.json'), JSON.stringify({ pad_token: '!' }));
  for (const c of ['text_encoder', 'unet', 'vae_decoder']) await put(join(dir, c, 'model.onnx'));
}

/** A .safetensors file whose header names these tensors (shapes given; F16 zeros). */
function header(shapes: Record<string, number[]>): Buffer {
  let offset = 0;
  const entries = Object.entries(shapes).map(([name, shape]) => {
    const bytes = 2 * shape.reduce((a, b) => a * b, 1);
    const entry = [name, { dtype: 'F16', shape, data_offsets: [offset, offset + bytes] }] as const;
    offset += bytes;
    return entry;
  });
  const json = Buffer.from(JSON.stringify(Object.fromEntries(entries)));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, json, Buffer.alloc(offset)]);
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'easel-registry-kinds-'));
  const models = join(root, 'models');
  await onnxModelFolder(join(models, 'stable-diffusion', 'easel-model'));
  await onnxModelFolder(join(models, 'Stable-diffusion', 'a1111-onnx'));
  await put(join(models, 'Stable-diffusion', 'diffusers-weights', 'model_index.json'), '{}');
  await put(join(models, 'Stable-diffusion', 'diffusers-weights', 'vae', 'config.json'), '{}');
  const sd1 = {
    'model.diffusion_model.input_blocks.0.0.weight': [320, 4, 3, 3],
    'first_stage_model.decoder.conv_in.weight': [1],
    'cond_stage_model.transformer.text_model.final_layer_norm.weight': [1],
  };
  await put(join(models, 'Stable-diffusion', 'dreamy.safetensors'), header(sd1));
  await put(join(models, 'Stable-diffusion', 'xl.safetensors'), header({ ...sd1, 'conditioner.embedders.0.transformer.text_model.final_layer_norm.weight': [1] }));
  await put(join(models, 'Stable-diffusion', 'old.ckpt'), Buffer.from('PK\x03\x04'));
  await put(join(models, 'ESRGAN', '4x-UltraSharp.pth'));
  await put(join(models, 'RealESRGAN', 'realesr-general.onnx'));
  await put(join(models, 'upscaler', 'real-esrgan-x4plus', 'model.onnx'));
  await put(join(models, 'GFPGAN', 'GFPGANv1.4.pth'));
  await put(join(models, 'Codeformer', 'codeformer', 'model.onnx'));
  await put(join(models, 'vae-approx', 'taesd', 'vae_decoder', 'model.onnx'));
  const config = loadConfig(['--models', models, '--data', join(root, 'data'), '--no-browser'], {});
  app = await buildApp(config, { backend: new FakeBackend() });
});

after(async () => {
  await app.close();
  await rm(root, { recursive: true, force: true });
});

const list = async (kind?: string) => {
  const res = await app.inject({ url: kind ? `/api/models?kind=${kind}` : '/api/models' });
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as ModelInfo[];
};

test('Stable Diffusion models are found in both stable-diffusion/ and A1111\'s Stable-diffusion/', async () => {
  const models = await list();
  assert.deepEqual(models.map((m) => [m.id, m.ready, m.family]), [['a1111-onnx', true, 'sd2'], ['diffusers-weights', false, 'unknown'], ['easel-model', true, 'sd2']]);
  assert.deepEqual(models[0]!.components, ['tokenizer', 'text_encoder', 'unet', 'vae_decoder']);
  assert.match(models[1]!.problem ?? '', /diffusers folder of safetensors weights.*import it/);
  assert.deepEqual(await list('stable-diffusion'), models);
});

test('single-file checkpoints are listed with their family or the reason they cannot be imported, and are not imported unasked', async () => {
  const checkpoints = await list('checkpoint');
  const byId = Object.fromEntries(checkpoints.map((c) => [c.id, c]));
  assert.deepEqual(Object.keys(byId).sort(), ['dreamy.safetensors', 'old.ckpt', 'xl.safetensors']);
  assert.deepEqual([byId['dreamy.safetensors']!.family, byId['dreamy.safetensors']!.problem, byId['dreamy.safetensors']!.ready], ['sd1', undefined, false]);
  assert.match(byId['xl.safetensors']!.problem ?? '', /SDXL.*not supported yet/);
  assert.match(byId['old.ckpt']!.problem ?? '', /pickle/);
  const imports = (await app.inject({ url: '/api/models/imports' })).json() as unknown[];
  assert.deepEqual(imports, [], "A1111's checkpoints are offered for import, not converted behind the user's back");
});

test('upscalers and face restorers come from Easel\'s and A1111\'s folders; PyTorch files are listed as not ready', async () => {
  const upscalers = await list('upscaler');
  assert.deepEqual(upscalers.map((m) => [m.id, m.ready, m.format]), [
    ['real-esrgan-x4plus', true, 'onnx'],
    ['4x-UltraSharp', false, 'pytorch'],
    ['realesr-general', true, 'onnx'],
  ]);
  assert.match(upscalers[1]!.problem ?? '', /PyTorch weights.*ONNX/);
  const faces = await list('face-restore');
  assert.deepEqual(faces.map((m) => [m.id, m.ready, m.kind]), [['GFPGANv1.4', false, 'face-restore'], ['codeformer', true, 'face-restore']]);
  assert.deepEqual((await list('vae-approx')).map((m) => [m.id, m.components]), [['taesd', ['vae_decoder/model.onnx']]]);
  assert.equal((await list('all')).length, 3 + 3 + 3 + 2 + 1);
});
