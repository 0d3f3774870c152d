// Writes a tiny random-weight Stable Diffusion pipeline in the diffusers ONNX layout (what
// OnnxStableDiffusionPipeline.save_pretrained writes), for tests and demos without a multi-GB download.
// The networks are the real SD architectures (clip-text-encoder.ts, unet.ts, vae.ts) at toy sizes, so tests of the
// pipeline exercise the same graphs a converted checkpoint has. Same seed → byte-identical files.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeTinyTokenizer } from '../pipeline/tokenizer/tiny-vocab.js';
import { buildClipTextEncoder } from './clip-text-encoder.js';
import { writeModel } from './onnx-proto.js';
import { defaultSchedulerConfig, modelIndex } from './pipeline-files.js';
import type { Precision } from './graph-builder.js';
import type { ModelDef, WriteModelOptions } from './onnx-proto.js';
import type { TextEncoderConfig, UnetConfig, VaeConfig } from './sd-config.js';
import { buildUnet } from './unet.js';
import { buildVaeDecoder, buildVaeEncoder } from './vae.js';

export const TINY_TEXT_DIM = 32;

function tinyTextEncoder(vocabSize: number): TextEncoderConfig {
  return {
    vocabSize,
    hiddenSize: TINY_TEXT_DIM,
    intermediateSize: 2 * TINY_TEXT_DIM,
    layers: 2,
    heads: 2,
    act: 'quick_gelu',
    maxPositions: 77,
    layerNormEps: 1e-5,
    penultimate: false,
  };
}

/** Two levels (one cross-attention block, one plain), one resnet per block: SD's plumbing at a toy size. */
const TINY_UNET: UnetConfig = {
  inChannels: 4,
  outChannels: 4,
  blockOutChannels: [32, 32],
  layersPerBlock: 1,
  downBlockTypes: ['CrossAttnDownBlock2D', 'DownBlock2D'],
  upBlockTypes: ['UpBlock2D', 'CrossAttnUpBlock2D'],
  attentionHeads: [2, 2],
  transformerLayersPerBlock: [1, 1],
  crossAttentionDim: TINY_TEXT_DIM,
  // 8 groups of 4 channels: with one channel per group GroupNorm would erase the per-channel time embedding.
  normGroups: 8,
  normEps: 1e-5,
  useLinearProjection: false,
  flipSinToCos: true,
  freqShift: 0,
  downsamplePadding: 1,
  midBlockScaleFactor: 1,
  sampleSize: 8,
};

/** Four levels (three ×2 stages: latent = image / 8 as in SD), narrow where the pixels are many. */
const TINY_VAE: VaeConfig = {
  inChannels: 3,
  outChannels: 3,
  blockOutChannels: [8, 8, 16, 16],
  layersPerBlock: 1,
  latentChannels: 4,
  normGroups: 4,
  scalingFactor: 0.18215,
  sampleSize: 64,
  midBlockAttention: true,
};

export interface TinyModelOptions {
  seed?: number;
  /** onnxruntime's fused attention contrib op (GraphBuilderOptions.fusedAttention): same weights, other graph. */
  fusedAttention?: boolean;
  /** A 9-channel inpainting UNet (latents | mask | masked-image latents), as SD inpainting checkpoints have. */
  inpainting?: boolean;
  /** 'fp16': float16 weights and compute, float32 inputs and outputs (GraphBuilderOptions.precision). */
  precision?: Precision;
}

export async function writeTinyModel(dir: string, opts: TinyModelOptions = {}): Promise<void> {
  const seed = opts.seed ?? 0;
  const fusedAttention = opts.fusedAttention ?? false;
  const precision = opts.precision ?? 'fp32';
  const build = { seed, fusedAttention, precision };
  await mkdir(dir, { recursive: true });

  // The tokenizer first: the text encoder's embedding table must cover every id it can produce.
  const tokenizerDir = join(dir, 'tokenizer');
  await mkdir(tokenizerDir, { recursive: true });
  await writeTinyTokenizer(tokenizerDir);
  const vocabSize = await readVocabSize(join(tokenizerDir, 'vocab.json'));

  await writeComponent(dir, 'text_encoder', buildClipTextEncoder(tinyTextEncoder(vocabSize), build));
  // The UNet keeps its weights in weights.pb, as diffusers' exporter does (real UNets exceed protobuf's 2 GB),
  // so loaders get exercised on external data. A strong time projection and a noise-sized output (real UNets
  // zero-initialise conv_out), so predictions at different timesteps differ clearly (tests rely on it).
  await writeComponent(dir, 'unet', buildUnet(opts.inpainting ? { ...TINY_UNET, inChannels: 9 } : TINY_UNET, { ...build, randomGains: { temb: 3, convOut: 1.5 } }), {
    externalDataFile: 'weights.pb',
  });
  // Gain chosen so pixels land mostly within [-1, 1] with some overshoot, as a real decoder's do.
  await writeComponent(dir, 'vae_decoder', buildVaeDecoder(TINY_VAE, { ...build, randomOutGain: 0.8 }));
  await writeComponent(dir, 'vae_encoder', buildVaeEncoder(TINY_VAE, build));

  // model_index.json names the inpainting pipeline for a 9-channel UNet: loaders tell them apart by it.
  await writeJson(join(dir, 'model_index.json'), modelIndex('PNDMScheduler', opts.inpainting ?? false, 'tiny-test', precision));
  await mkdir(join(dir, 'scheduler'), { recursive: true });
  await writeJson(join(dir, 'scheduler', 'scheduler_config.json'), defaultSchedulerConfig('sd1', 'epsilon'));
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
