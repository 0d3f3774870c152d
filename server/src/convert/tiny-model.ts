// Writes a tiny random-weight Stable Diffusion pipeline in the diffusers ONNX layout (what
// OnnxStableDiffusionPipeline.save_pretrained writes), for tests and demos without a multi-GB download.
// Same seed → byte-identical files.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeTinyTokenizer } from '../pipeline/tokenizer/tiny-vocab.js';
import { writeModel } from './onnx-proto.js';
import type { ModelDef, WriteModelOptions } from './onnx-proto.js';
import { TINY_TEXT_DIM, buildTinyTextEncoder } from './tiny-text-encoder.js';
import { buildTinyUnet } from './tiny-unet.js';
import { buildTinyVaeDecoder, buildTinyVaeEncoder } from './tiny-vae.js';

export interface TinyModelOptions {
  seed?: number;
}

/** Keys and values of a diffusers ONNX export without safety checker. */
const MODEL_INDEX = {
  _class_name: 'OnnxStableDiffusionPipeline',
  _diffusers_version: '0.24.0',
  feature_extractor: [null, null],
  requires_safety_checker: false,
  safety_checker: [null, null],
  scheduler: ['diffusers', 'PNDMScheduler'],
  text_encoder: ['diffusers', 'OnnxRuntimeModel'],
  tokenizer: ['transformers', 'CLIPTokenizer'],
  unet: ['diffusers', 'OnnxRuntimeModel'],
  vae_decoder: ['diffusers', 'OnnxRuntimeModel'],
  vae_encoder: ['diffusers', 'OnnxRuntimeModel'],
};

/** SD 1.5's PNDM scheduler config. */
const SCHEDULER_CONFIG = {
  _class_name: 'PNDMScheduler',
  _diffusers_version: '0.6.0',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  num_train_timesteps: 1000,
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  trained_betas: null,
  clip_sample: false,
};

export async function writeTinyModel(dir: string, opts: TinyModelOptions = {}): Promise<void> {
  const seed = opts.seed ?? 0;
  await mkdir(dir, { recursive: true });

  // The tokenizer first: the text encoder's embedding table must cover every id it can produce.
  const tokenizerDir = join(dir, 'tokenizer');
  await mkdir(tokenizerDir, { recursive: true });
  await writeTinyTokenizer(tokenizerDir);
  const vocabSize = await readVocabSize(join(tokenizerDir, 'vocab.json'));

  await writeComponent(dir, 'text_encoder', buildTinyTextEncoder({ vocabSize, seed }));
  // The UNet keeps its weights in weights.pb, as diffusers' exporter does (real UNets exceed protobuf's 2 GB),
  // so loaders get exercised on external data.
  await writeComponent(dir, 'unet', buildTinyUnet({ seed, contextDim: TINY_TEXT_DIM }), {
    externalDataFile: 'weights.pb',
  });
  await writeComponent(dir, 'vae_decoder', buildTinyVaeDecoder(seed));
  await writeComponent(dir, 'vae_encoder', buildTinyVaeEncoder(seed));

  await writeJson(join(dir, 'model_index.json'), MODEL_INDEX);
  await mkdir(join(dir, 'scheduler'), { recursive: true });
  await writeJson(join(dir, 'scheduler', 'scheduler_config.json'), SCHEDULER_CONFIG);
}

async function writeComponent(dir: string, name: string, model: ModelDef, opts?: WriteModelOptions): Promise<void> {
  await mkdir(join(dir, name), { recursive: true });
  await writeModel(join(dir, name, 'model.onnx'), model, opts);
}

async function readVocabSize(vocabPath: string): Promise<number> {
  const vocab = JSON.parse(await readFile(vocabPath, 'utf8')) as Record<string, number>;
  const ids = Object.values(vocab);
  if (ids.length === 0 || !ids.every((id) => Number.isInteger(id) && id >= 0)) {
    throw new Error(`${vocabPath}: expected a non-empty map of token → non-negative integer id`);
  }
  return ids.reduce((max, id) => Math.max(max, id), 0) + 1;
}

async function writeJson(path: string, value: unknown): Promise<void> {
  await writeFile(path, `${JSON.stringify(value, null, 2)}\n`);
}
