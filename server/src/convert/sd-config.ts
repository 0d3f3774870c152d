// Architecture settings of the three Stable Diffusion networks, as typed configs: read from a diffusers config
// folder (`text_encoder/config.json`, `unet/config.json`, `vae/config.json`) or taken from built-in defaults for
// SD 1.5 and SD 2.1 (the values those models ship with). Settings outside what the graph builders implement are
// refused with an UnsupportedModelError rather than silently ignored.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export class UnsupportedModelError extends Error {
  override name = 'UnsupportedModelError';
}

export type TextActivation = 'quick_gelu' | 'gelu';

/** transformers' CLIPTextModel. */
export interface TextEncoderConfig {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  /** Transformer layers in the weights (diffusers' num_hidden_layers). */
  layers: number;
  heads: number;
  act: TextActivation;
  maxPositions: number;
  layerNormEps: number;
  /**
   * Output the penultimate layer's hidden state (through final_layer_norm) instead of the last one ("clip skip 2").
   * SD 2.x needs no flag here: its diffusers text encoder already has the last OpenCLIP block removed.
   */
  penultimate: boolean;
}

export type DownBlockType = 'CrossAttnDownBlock2D' | 'DownBlock2D';
export type UpBlockType = 'CrossAttnUpBlock2D' | 'UpBlock2D';

/** diffusers' UNet2DConditionModel (SD 1.x/2.x subset). */
export interface UnetConfig {
  /** 4, or 9 for inpainting (latents + mask + masked-image latents). */
  inChannels: number;
  outChannels: number;
  blockOutChannels: number[];
  layersPerBlock: number;
  downBlockTypes: DownBlockType[];
  upBlockTypes: UpBlockType[];
  /**
   * Attention heads per down block (diffusers' num_attention_heads, or attention_head_dim, which UNet2DConditionModel
   * uses as the head count: SD 1.5 has 8 heads everywhere, SD 2.1 [5, 10, 20, 20], i.e. 64 channels per head).
   */
  attentionHeads: number[];
  transformerLayersPerBlock: number[];
  crossAttentionDim: number;
  normGroups: number;
  normEps: number;
  /** SD 2.x: Linear proj_in/proj_out in the transformers instead of 1×1 convs. */
  useLinearProjection: boolean;
  flipSinToCos: boolean;
  freqShift: number;
  downsamplePadding: number;
  midBlockScaleFactor: number;
  /** Latent side the model was trained at (64 → 512 px, 96 → 768 px). */
  sampleSize: number;
}

/** diffusers' AutoencoderKL. */
export interface VaeConfig {
  inChannels: number;
  outChannels: number;
  blockOutChannels: number[];
  layersPerBlock: number;
  latentChannels: number;
  normGroups: number;
  scalingFactor: number;
  sampleSize: number;
  midBlockAttention: boolean;
}

export interface SdConfig {
  textEncoder: TextEncoderConfig;
  unet: UnetConfig;
  vae: VaeConfig;
}

export type BuiltinModel = 'sd15' | 'sd21';

const SD_VAE: VaeConfig = {
  inChannels: 3,
  outChannels: 3,
  blockOutChannels: [128, 256, 512, 512],
  layersPerBlock: 2,
  latentChannels: 4,
  normGroups: 32,
  scalingFactor: 0.18215,
  sampleSize: 512,
  midBlockAttention: true,
};

const SD_UNET: Omit<UnetConfig, 'attentionHeads' | 'crossAttentionDim' | 'useLinearProjection' | 'sampleSize'> = {
  inChannels: 4,
  outChannels: 4,
  blockOutChannels: [320, 640, 1280, 1280],
  layersPerBlock: 2,
  downBlockTypes: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'],
  upBlockTypes: ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'],
  transformerLayersPerBlock: [1, 1, 1, 1],
  normGroups: 32,
  normEps: 1e-5,
  flipSinToCos: true,
  freqShift: 0,
  downsamplePadding: 1,
  midBlockScaleFactor: 1,
};

/** runwayml/stable-diffusion-v1-5 (text encoder: openai/clip-vit-large-patch14). */
const SD15: SdConfig = {
  textEncoder: {
    vocabSize: 49408,
    hiddenSize: 768,
    intermediateSize: 3072,
    layers: 12,
    heads: 12,
    act: 'quick_gelu',
    maxPositions: 77,
    layerNormEps: 1e-5,
    penultimate: false,
  },
  unet: { ...SD_UNET, attentionHeads: [8, 8, 8, 8], crossAttentionDim: 768, useLinearProjection: false, sampleSize: 64 },
  vae: SD_VAE,
};

/** stabilityai/stable-diffusion-2-1 (OpenCLIP ViT-H/14 text tower without its last block). */
const SD21: SdConfig = {
  textEncoder: {
    vocabSize: 49408,
    hiddenSize: 1024,
    intermediateSize: 4096,
    layers: 23,
    heads: 16,
    act: 'gelu',
    maxPositions: 77,
    layerNormEps: 1e-5,
    penultimate: false,
  },
  unet: {
    ...SD_UNET,
    attentionHeads: [5, 10, 20, 20],
    crossAttentionDim: 1024,
    useLinearProjection: true,
    sampleSize: 96,
  },
  vae: { ...SD_VAE, sampleSize: 768 },
};

/** A fresh copy of a built-in configuration. */
export function builtinConfig(model: BuiltinModel): SdConfig {
  return structuredClone(model === 'sd15' ? SD15 : SD21);
}

type Json = Record<string, unknown>;

/**
 * Reads text_encoder/, unet/ and vae/ config.json from a diffusers folder. A component whose config.json is absent
 * takes `fallback`'s settings (an error when there is no fallback).
 */
export function readDiffusersConfig(dir: string, fallback?: SdConfig): SdConfig {
  const read = <T>(folder: string, parse: (json: Json) => T, otherwise: T | undefined): T => {
    const path = join(dir, folder, 'config.json');
    if (!existsSync(path) && otherwise !== undefined) return structuredClone(otherwise);
    return parse(readJson(path));
  };
  return {
    textEncoder: read('text_encoder', parseTextEncoderConfig, fallback?.textEncoder),
    unet: read('unet', parseUnetConfig, fallback?.unet),
    vae: read('vae', parseVaeConfig, fallback?.vae),
  };
}

/** Which components of a config folder have their own config.json. */
export function configFolderComponents(dir: string): { textEncoder: boolean; unet: boolean; vae: boolean } {
  const has = (folder: string) => existsSync(join(dir, folder, 'config.json'));
  return { textEncoder: has('text_encoder'), unet: has('unet'), vae: has('vae') };
}

export function readJson(path: string): Json {
  if (!existsSync(path)) throw new Error(`missing ${path}`);
  const value: unknown = JSON.parse(readFileSync(path, 'utf8'));
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${path}: not a JSON object`);
  return value as Json;
}

export function parseTextEncoderConfig(json: Json): TextEncoderConfig {
  const act = str(json, 'hidden_act', 'quick_gelu');
  if (act !== 'quick_gelu' && act !== 'gelu') throw new UnsupportedModelError(`text encoder activation "${act}" is not supported yet`);
  const config: TextEncoderConfig = {
    vocabSize: int(json, 'vocab_size', 49408),
    hiddenSize: int(json, 'hidden_size', 512),
    intermediateSize: int(json, 'intermediate_size', 2048),
    layers: int(json, 'num_hidden_layers', 12),
    heads: int(json, 'num_attention_heads', 8),
    act,
    maxPositions: int(json, 'max_position_embeddings', 77),
    layerNormEps: num(json, 'layer_norm_eps', 1e-5),
    penultimate: false,
  };
  if (config.hiddenSize % config.heads !== 0) throw new Error(`text encoder: ${config.hiddenSize} does not split into ${config.heads} heads`);
  return config;
}

/** Settings whose non-default values mean an architecture these builders do not implement (SDXL, LCM, …). */
const UNET_UNSUPPORTED: [key: string, allowed: unknown[]][] = [
  ['addition_embed_type', [null]],
  ['class_embed_type', [null]],
  ['num_class_embeds', [null]],
  ['encoder_hid_dim', [null]],
  ['encoder_hid_dim_type', [null]],
  ['time_cond_proj_dim', [null]],
  ['time_embedding_type', ['positional']],
  ['time_embedding_dim', [null]],
  ['time_embedding_act_fn', [null]],
  ['timestep_post_act', [null]],
  ['resnet_time_scale_shift', ['default']],
  ['mid_block_type', ['UNetMidBlock2DCrossAttn']],
  ['act_fn', ['silu']],
  ['only_cross_attention', [false]],
  ['dual_cross_attention', [false]],
  ['conv_in_kernel', [3]],
  ['conv_out_kernel', [3]],
  ['attention_type', ['default']],
  ['center_input_sample', [false]],
  ['resnet_out_scale_factor', [1]],
  ['resnet_skip_time_act', [false]],
  ['cross_attention_norm', [null]],
];

export function parseUnetConfig(json: Json): UnetConfig {
  for (const [key, allowed] of UNET_UNSUPPORTED) {
    if (key in json && !allowed.includes(json[key] as never)) {
      throw new UnsupportedModelError(
        `UNet setting ${key}=${JSON.stringify(json[key])} is not supported yet (only SD 1.x/2.x UNets are)`,
      );
    }
  }
  const blockOutChannels = intList(json, 'block_out_channels', [320, 640, 1280, 1280]);
  const blocks = blockOutChannels.length;
  const downBlockTypes = strList(json, 'down_block_types', SD_UNET.downBlockTypes);
  const upBlockTypes = strList(json, 'up_block_types', SD_UNET.upBlockTypes);
  for (const t of downBlockTypes) {
    if (t !== 'CrossAttnDownBlock2D' && t !== 'DownBlock2D') throw new UnsupportedModelError(`UNet down block ${t} is not supported yet`);
  }
  for (const t of upBlockTypes) {
    if (t !== 'CrossAttnUpBlock2D' && t !== 'UpBlock2D') throw new UnsupportedModelError(`UNet up block ${t} is not supported yet`);
  }
  if (downBlockTypes.length !== blocks || upBlockTypes.length !== blocks) {
    throw new Error(`UNet config: ${blocks} block_out_channels but ${downBlockTypes.length} down / ${upBlockTypes.length} up blocks`);
  }
  const heads = json.num_attention_heads ?? json.attention_head_dim ?? 8;
  const perBlock = (value: unknown, what: string): number[] => {
    const list = Array.isArray(value) ? value : new Array<unknown>(blocks).fill(value);
    if (list.length !== blocks || !list.every((v) => Number.isInteger(v) && (v as number) > 0)) {
      throw new Error(`UNet config: ${what} must be a positive integer or one per block, got ${JSON.stringify(value)}`);
    }
    return list as number[];
  };
  const layersPerBlock = json.layers_per_block ?? 2;
  if (!Number.isInteger(layersPerBlock)) throw new UnsupportedModelError('UNet: per-block layers_per_block lists are not supported yet');
  const crossAttentionDim = json.cross_attention_dim ?? 1280;
  if (!Number.isInteger(crossAttentionDim)) throw new UnsupportedModelError('UNet: per-block cross_attention_dim is not supported yet');
  return {
    inChannels: int(json, 'in_channels', 4),
    outChannels: int(json, 'out_channels', 4),
    blockOutChannels,
    layersPerBlock: layersPerBlock as number,
    downBlockTypes: downBlockTypes as DownBlockType[],
    upBlockTypes: upBlockTypes as UpBlockType[],
    attentionHeads: perBlock(heads, 'attention heads'),
    transformerLayersPerBlock: perBlock(json.transformer_layers_per_block ?? 1, 'transformer_layers_per_block'),
    crossAttentionDim: crossAttentionDim as number,
    normGroups: int(json, 'norm_num_groups', 32),
    normEps: num(json, 'norm_eps', 1e-5),
    useLinearProjection: json.use_linear_projection === true,
    flipSinToCos: json.flip_sin_to_cos !== false,
    freqShift: num(json, 'freq_shift', 0),
    downsamplePadding: int(json, 'downsample_padding', 1),
    midBlockScaleFactor: num(json, 'mid_block_scale_factor', 1),
    sampleSize: int(json, 'sample_size', 64),
  };
}

export function parseVaeConfig(json: Json): VaeConfig {
  const blockOutChannels = intList(json, 'block_out_channels', [64]);
  for (const t of strList(json, 'down_block_types', [])) {
    if (t !== 'DownEncoderBlock2D') throw new UnsupportedModelError(`VAE down block ${t} is not supported yet`);
  }
  for (const t of strList(json, 'up_block_types', [])) {
    if (t !== 'UpDecoderBlock2D') throw new UnsupportedModelError(`VAE up block ${t} is not supported yet`);
  }
  if ((json.act_fn ?? 'silu') !== 'silu') throw new UnsupportedModelError(`VAE act_fn ${String(json.act_fn)} is not supported yet`);
  for (const key of ['latents_mean', 'latents_std', 'shift_factor']) {
    if (json[key] !== undefined && json[key] !== null) throw new UnsupportedModelError(`VAE setting ${key} is not supported yet`);
  }
  return {
    inChannels: int(json, 'in_channels', 3),
    outChannels: int(json, 'out_channels', 3),
    blockOutChannels,
    layersPerBlock: int(json, 'layers_per_block', 1),
    latentChannels: int(json, 'latent_channels', 4),
    normGroups: int(json, 'norm_num_groups', 32),
    scalingFactor: num(json, 'scaling_factor', 0.18215),
    sampleSize: int(json, 'sample_size', 512),
    midBlockAttention: json.mid_block_add_attention !== false,
  };
}

function num(json: Json, key: string, fallback: number): number {
  const value = json[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`config: ${key} must be a number, got ${JSON.stringify(value)}`);
  return value;
}

function int(json: Json, key: string, fallback: number): number {
  const value = num(json, key, fallback);
  if (!Number.isInteger(value)) throw new Error(`config: ${key} must be an integer, got ${value}`);
  return value;
}

function str(json: Json, key: string, fallback: string): string {
  const value = json[key] ?? fallback;
  if (typeof value !== 'string') throw new Error(`config: ${key} must be a string, got ${JSON.stringify(value)}`);
  return value;
}

function intList(json: Json, key: string, fallback: number[]): number[] {
  const value = json[key] ?? fallback;
  if (!Array.isArray(value) || value.length === 0 || !value.every((v) => Number.isInteger(v) && v > 0)) {
    throw new Error(`config: ${key} must be a list of positive integers, got ${JSON.stringify(value)}`);
  }
  return value as number[];
}

function strList(json: Json, key: string, fallback: string[]): string[] {
  const value = json[key] ?? fallback;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new Error(`config: ${key} must be a list of strings, got ${JSON.stringify(value)}`);
  }
  return value as string[];
}
