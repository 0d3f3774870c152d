// Writes a single-file Stable Diffusion checkpoint in the original LDM layout (what A1111 and model sites share)
// from random weights, at any size: a tiny one for tests that must not depend on downloaded data, a full-size SD 1.5
// one for the import memory benchmark. The tensor list comes from our own graph builders, each diffusers name mapped
// back to its original key (the inverse of convert/checkpoint-keys.ts, checked against it here), so the file holds
// exactly what the importer reads. Weights are streamed to disk one tensor at a time.
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { once } from 'node:events';
import { mapCheckpointKey } from '../convert/checkpoint-keys.js';
import type { CheckpointInfo, Family } from '../convert/checkpoint-keys.js';
import { buildClipTextEncoder } from '../convert/clip-text-encoder.js';
import type { WeightSource } from '../convert/graph-builder.js';
import type { ModelDef } from '../convert/onnx-proto.js';
import type { SdConfig } from '../convert/sd-config.js';
import { mulberry32 } from '../convert/seeded-random.js';
import { buildUnet } from '../convert/unet.js';
import { buildVaeDecoder, buildVaeEncoder } from '../convert/vae.js';
import { toFloat16Bits } from '../pipeline/onnx/float16.js';

export interface RandomCheckpointOptions {
  config: SdConfig;
  family: Family;
  /** F16 as most shared checkpoints are (half the disk), or F32. */
  dtype?: 'F16' | 'F32';
  seed?: number;
}

export interface CheckpointTensor {
  key: string;
  shape: number[];
  /** Standard deviation of the random values; norm scales are 1 and biases 0, as freshly initialised layers. */
  std: number;
  fill?: number;
}

/** An SD 1.x-style architecture at toy size, with the real CLIP vocabulary size so the bundled tokenizer fits. */
export function tinyCheckpointConfig(): SdConfig {
  return {
    textEncoder: {
      vocabSize: 49408, hiddenSize: 32, intermediateSize: 64, layers: 2, heads: 2,
      act: 'quick_gelu', maxPositions: 77, layerNormEps: 1e-5, penultimate: false,
    },
    unet: {
      inChannels: 4, outChannels: 4, blockOutChannels: [32, 32], layersPerBlock: 1,
      downBlockTypes: ['CrossAttnDownBlock2D', 'DownBlock2D'], upBlockTypes: ['UpBlock2D', 'CrossAttnUpBlock2D'],
      attentionHeads: [2, 2], transformerLayersPerBlock: [1, 1], crossAttentionDim: 32, normGroups: 8, normEps: 1e-5,
      useLinearProjection: false, flipSinToCos: true, freqShift: 0, downsamplePadding: 1, midBlockScaleFactor: 1, sampleSize: 8,
    },
    vae: {
      inChannels: 3, outChannels: 3, blockOutChannels: [8, 8, 16, 16], layersPerBlock: 1, latentChannels: 4,
      normGroups: 4, scalingFactor: 0.18215, sampleSize: 64, midBlockAttention: true,
    },
  };
}

/** The checkpoint's tensors, in a stable order: text encoder, UNet, VAE. */
export function checkpointTensors(config: SdConfig, family: Family): CheckpointTensor[] {
  const info: CheckpointInfo = {
    family, inpainting: config.unet.inChannels === 9, unetInChannels: config.unet.inChannels, vPredictionMarker: false, description: family,
  };
  const sizes = { unetLayersPerBlock: config.unet.layersPerBlock, vaeLevels: config.vae.blockOutChannels.length };
  const withAttention = config.unet.upBlockTypes.map((t) => t === 'CrossAttnUpBlock2D');
  const out = new Map<string, CheckpointTensor>();
  const groups: [ModelDef[], 'text_encoder' | 'unet' | 'vae'][] = [
    [[buildClipTextEncoder(config.textEncoder)], 'text_encoder'],
    [[buildUnet(config.unet)], 'unet'],
    [[buildVaeDecoder(config.vae), buildVaeEncoder(config.vae)], 'vae'],
  ];
  for (const [models, component] of groups) {
    for (const model of models) {
      for (const t of model.graph.initializers) {
        if (t.name.startsWith('const_')) continue;
        const torch = torchShape(t.name, t.dims);
        const original = originalKey(component, t.name, family, sizes, withAttention);
        const fused = original.third !== undefined;
        if (out.has(original.key)) continue; // the decoder and encoder share no names, but q/k/v fuse into one
        const shape = fused ? [torch[0] * 3, ...torch.slice(1)] : vaeAttentionConv(component, t.name, torch);
        const back = mapCheckpointKey(original.key, info, sizes);
        if (!back.some((b) => b.component === component && b.name === t.name)) {
          throw new Error(`inverse key map: ${component} ${t.name} → ${original.key} does not map back`);
        }
        const fill = /norm[^.]*\.weight$|layer_norm\d?\.weight$|group_norm\.weight$/.test(t.name) ? 1 : t.name.endsWith('.bias') ? 0 : undefined;
        const fanIn = shape.length > 1 ? shape.slice(1).reduce((a, b) => a * b, 1) : 1;
        out.set(original.key, { key: original.key, shape, std: /embedding\.weight$/.test(t.name) ? 0.5 : 1 / Math.sqrt(fanIn), fill });
      }
    }
  }
  return [...out.values()];
}

/** Writes the checkpoint; returns its size in bytes. */
export async function writeRandomCheckpoint(path: string, opts: RandomCheckpointOptions): Promise<number> {
  const dtype = opts.dtype ?? 'F16';
  const bytesPer = dtype === 'F16' ? 2 : 4;
  const tensors = checkpointTensors(opts.config, opts.family);
  verifyAgainstBuilders(opts.config, tensors, opts.family);
  const header: Record<string, unknown> = { __metadata__: { format: 'pt', generator: 'easel random-checkpoint' } };
  let offset = 0;
  for (const t of tensors) {
    const length = t.shape.reduce((a, b) => a * b, 1) * bytesPer;
    header[t.key] = { dtype, shape: t.shape, data_offsets: [offset, offset + length] };
    offset += length;
  }
  // The header is padded with spaces to 8 bytes, as the reference writer does.
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  await mkdir(dirname(path), { recursive: true });
  const stream = createWriteStream(path);
  const write = async (chunk: Uint8Array): Promise<void> => {
    if (!stream.write(chunk)) await once(stream, 'drain');
  };
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  await write(length);
  await write(Buffer.from(json));
  // One table of normal samples, reused at a different offset per tensor: generating a billion fresh samples would
  // dominate the benchmark, and the values only need to be plausible.
  const table = normalTable(1 << 20, opts.seed ?? 1);
  const random = mulberry32(opts.seed ?? 1);
  for (const t of tensors) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    const start = Math.floor(random() * table.length);
    for (let done = 0; done < count; done += CHUNK) {
      const n = Math.min(CHUNK, count - done);
      const values = new Float32Array(n);
      if (t.fill !== undefined) values.fill(t.fill);
      else for (let i = 0; i < n; i++) values[i] = table[(start + done + i) % table.length]! * t.std;
      await write(dtype === 'F16' ? new Uint8Array(toFloat16Bits(values).buffer) : new Uint8Array(values.buffer));
    }
  }
  stream.end();
  await once(stream, 'finish');
  return 8 + Buffer.byteLength(json) + offset;
}

/** diffusers-style config.json files for each network: the `--config` folder a non-standard architecture needs. */
export async function writeConfigFolder(dir: string, config: SdConfig): Promise<void> {
  const { textEncoder: te, unet: u, vae: v } = config;
  const files: Record<string, Record<string, unknown>> = {
    text_encoder: {
      architectures: ['CLIPTextModel'], vocab_size: te.vocabSize, hidden_size: te.hiddenSize, intermediate_size: te.intermediateSize,
      num_hidden_layers: te.layers, num_attention_heads: te.heads, hidden_act: te.act, max_position_embeddings: te.maxPositions,
      layer_norm_eps: te.layerNormEps,
    },
    unet: {
      _class_name: 'UNet2DConditionModel', in_channels: u.inChannels, out_channels: u.outChannels, block_out_channels: u.blockOutChannels,
      layers_per_block: u.layersPerBlock, down_block_types: u.downBlockTypes, up_block_types: u.upBlockTypes,
      attention_head_dim: u.attentionHeads, transformer_layers_per_block: u.transformerLayersPerBlock,
      cross_attention_dim: u.crossAttentionDim, norm_num_groups: u.normGroups, norm_eps: u.normEps,
      use_linear_projection: u.useLinearProjection, flip_sin_to_cos: u.flipSinToCos, freq_shift: u.freqShift,
      downsample_padding: u.downsamplePadding, mid_block_scale_factor: u.midBlockScaleFactor, sample_size: u.sampleSize,
    },
    vae: {
      _class_name: 'AutoencoderKL', in_channels: v.inChannels, out_channels: v.outChannels, block_out_channels: v.blockOutChannels,
      layers_per_block: v.layersPerBlock, latent_channels: v.latentChannels, norm_num_groups: v.normGroups,
      scaling_factor: v.scalingFactor, sample_size: v.sampleSize, mid_block_add_attention: v.midBlockAttention,
      down_block_types: v.blockOutChannels.map(() => 'DownEncoderBlock2D'), up_block_types: v.blockOutChannels.map(() => 'UpDecoderBlock2D'),
    },
  };
  for (const [folder, json] of Object.entries(files)) {
    await mkdir(join(dir, folder), { recursive: true });
    await writeFile(join(dir, folder, 'config.json'), `${JSON.stringify(json, null, 2)}\n`);
  }
}

const CHUNK = 1 << 22;

/** The graph stores Linear weights transposed ([in, out]) and norm scales as [c, 1, 1]; PyTorch keeps [out, in], [c]. */
function torchShape(name: string, dims: readonly number[]): number[] {
  if (dims.length === 2 && !/(token|position)_embedding\.weight$/.test(name)) return [dims[1]!, dims[0]!];
  if (dims.length === 3 && dims[1] === 1 && dims[2] === 1) return [dims[0]!];
  return [...dims];
}

/** The original VAE attention projections are 1×1 convolutions; diffusers made them Linear. */
function vaeAttentionConv(component: string, name: string, shape: number[]): number[] {
  return component === 'vae' && /attentions\.0\.(to_q|to_k|to_v|to_out\.0)\.weight$/.test(name) ? [...shape, 1, 1] : shape;
}

/** Builds every graph against the shapes written, so a wrong inverse fails here, not in a test far away. */
function verifyAgainstBuilders(config: SdConfig, tensors: CheckpointTensor[], family: Family): void {
  const info: CheckpointInfo = {
    family, inpainting: config.unet.inChannels === 9, unetInChannels: config.unet.inChannels, vPredictionMarker: false, description: family,
  };
  const sizes = { unetLayersPerBlock: config.unet.layersPerBlock, vaeLevels: config.vae.blockOutChannels.length };
  const shapes: Record<string, Map<string, readonly number[]>> = { text_encoder: new Map(), unet: new Map(), vae: new Map() };
  for (const t of tensors) {
    for (const target of mapCheckpointKey(t.key, info, sizes)) {
      shapes[target.component]!.set(target.name, target.third === undefined ? t.shape : [t.shape[0]! / 3, ...t.shape.slice(1)]);
    }
  }
  const source = (component: string): WeightSource => ({
    shape: (name) => shapes[component]!.get(name),
    read: () => {
      throw new Error('not read while verifying');
    },
  });
  buildClipTextEncoder(config.textEncoder, { weights: source('text_encoder') });
  buildUnet(config.unet, { weights: source('unet') });
  buildVaeDecoder(config.vae, { weights: source('vae') });
  buildVaeEncoder(config.vae, { weights: source('vae') });
}

function normalTable(count: number, seed: number): Float32Array {
  const uniform = mulberry32(seed);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  return out;
}

interface OriginalKey {
  key: string;
  third?: 0 | 1 | 2;
}

/** diffusers name → original LDM key: the inverse of checkpoint-keys.ts's mapCheckpointKey. */
export function originalKey(
  component: 'text_encoder' | 'unet' | 'vae',
  name: string,
  family: Family,
  sizes: { unetLayersPerBlock: number; vaeLevels: number },
  upWithAttention: readonly boolean[],
): OriginalKey {
  if (component === 'unet') return { key: `model.diffusion_model.${unetKey(name, sizes.unetLayersPerBlock, upWithAttention)}` };
  if (component === 'vae') return { key: `first_stage_model.${vaeKey(name, sizes.vaeLevels)}` };
  if (family === 'sd1') return { key: `cond_stage_model.transformer.${name}` };
  return openClipKey(name);
}

const RESNET: [string, string][] = [
  ['norm1.', 'in_layers.0.'], ['conv1.', 'in_layers.2.'], ['norm2.', 'out_layers.0.'], ['conv2.', 'out_layers.3.'],
  ['time_emb_proj.', 'emb_layers.1.'], ['conv_shortcut.', 'skip_connection.'],
];
const rename = (rest: string, table: [string, string][]): string => {
  for (const [from, to] of table) if (rest.startsWith(from)) return to + rest.slice(from.length);
  return rest;
};

function unetKey(name: string, layers: number, upWithAttention: readonly boolean[]): string {
  const simple: [string, string][] = [
    ['time_embedding.linear_1.', 'time_embed.0.'], ['time_embedding.linear_2.', 'time_embed.2.'],
    ['conv_in.', 'input_blocks.0.0.'], ['conv_norm_out.', 'out.0.'], ['conv_out.', 'out.2.'],
  ];
  for (const [from, to] of simple) if (name.startsWith(from)) return to + name.slice(from.length);
  let m = /^down_blocks\.(\d+)\.(resnets|attentions|downsamplers)\.(\d+)\.(.+)$/.exec(name);
  if (m) {
    const [block, kind, layer, rest] = [Number(m[1]), m[2], Number(m[3]), m[4]!];
    if (kind === 'downsamplers') return `input_blocks.${block * (layers + 1) + layers + 1}.0.op.${rest.replace(/^conv\./, '')}`;
    const index = block * (layers + 1) + layer + 1;
    return kind === 'resnets' ? `input_blocks.${index}.0.${rename(rest, RESNET)}` : `input_blocks.${index}.1.${rest}`;
  }
  m = /^mid_block\.(resnets|attentions)\.(\d+)\.(.+)$/.exec(name);
  if (m) return m[1] === 'attentions' ? `middle_block.1.${m[3]}` : `middle_block.${Number(m[2]) * 2}.${rename(m[3]!, RESNET)}`;
  m = /^up_blocks\.(\d+)\.(resnets|attentions|upsamplers)\.(\d+)\.(.+)$/.exec(name);
  if (m) {
    const [block, kind, layer, rest] = [Number(m[1]), m[2], Number(m[3]), m[4]!];
    if (kind === 'upsamplers') return `output_blocks.${block * (layers + 1) + layers}.${upWithAttention[block] ? 2 : 1}.${rest}`;
    const index = block * (layers + 1) + layer;
    return kind === 'resnets' ? `output_blocks.${index}.0.${rename(rest, RESNET)}` : `output_blocks.${index}.1.${rest}`;
  }
  throw new Error(`inverse key map: unknown UNet parameter ${name}`);
}

const VAE_ATTENTION: [string, string][] = [['group_norm.', 'norm.'], ['to_q.', 'q.'], ['to_k.', 'k.'], ['to_v.', 'v.'], ['to_out.0.', 'proj_out.']];
const VAE_RESNET: [string, string][] = [['conv_shortcut.', 'nin_shortcut.']];

function vaeKey(name: string, levels: number): string {
  if (/^(quant_conv|post_quant_conv|(encoder|decoder)\.(conv_in|conv_out))\./.test(name)) return name;
  let m = /^(encoder|decoder)\.conv_norm_out\.(.+)$/.exec(name);
  if (m) return `${m[1]}.norm_out.${m[2]}`;
  m = /^(encoder|decoder)\.mid_block\.resnets\.(\d+)\.(.+)$/.exec(name);
  if (m) return `${m[1]}.mid.block_${Number(m[2]) + 1}.${rename(m[3]!, VAE_RESNET)}`;
  m = /^(encoder|decoder)\.mid_block\.attentions\.0\.(.+)$/.exec(name);
  if (m) return `${m[1]}.mid.attn_1.${rename(m[2]!, VAE_ATTENTION)}`;
  m = /^encoder\.down_blocks\.(\d+)\.(resnets\.(\d+)|downsamplers\.0)\.(.+)$/.exec(name);
  if (m) return m[3] !== undefined ? `encoder.down.${m[1]}.block.${m[3]}.${rename(m[4]!, VAE_RESNET)}` : `encoder.down.${m[1]}.downsample.${m[4]}`;
  m = /^decoder\.up_blocks\.(\d+)\.(resnets\.(\d+)|upsamplers\.0)\.(.+)$/.exec(name);
  if (m) {
    const level = levels - 1 - Number(m[1]);
    return m[3] !== undefined ? `decoder.up.${level}.block.${m[3]}.${rename(m[4]!, VAE_RESNET)}` : `decoder.up.${level}.upsample.${m[4]}`;
  }
  throw new Error(`inverse key map: unknown VAE parameter ${name}`);
}

function openClipKey(name: string): OriginalKey {
  const prefix = 'cond_stage_model.model.';
  if (name === 'text_model.embeddings.token_embedding.weight') return { key: `${prefix}token_embedding.weight` };
  if (name === 'text_model.embeddings.position_embedding.weight') return { key: `${prefix}positional_embedding` };
  let m = /^text_model\.final_layer_norm\.(weight|bias)$/.exec(name);
  if (m) return { key: `${prefix}ln_final.${m[1]}` };
  m = /^text_model\.encoder\.layers\.(\d+)\.(.+)$/.exec(name);
  if (!m) throw new Error(`inverse key map: unknown text encoder parameter ${name}`);
  const block = `${prefix}transformer.resblocks.${m[1]}`;
  const qkv = /^self_attn\.(q|k|v)_proj\.(weight|bias)$/.exec(m[2]!);
  if (qkv) return { key: `${block}.attn.in_proj_${qkv[2]}`, third: (['q', 'k', 'v'] as const).indexOf(qkv[1] as 'q') as 0 | 1 | 2 };
  const renames: [string, string][] = [
    ['layer_norm1.', 'ln_1.'], ['layer_norm2.', 'ln_2.'], ['mlp.fc1.', 'mlp.c_fc.'], ['mlp.fc2.', 'mlp.c_proj.'], ['self_attn.out_proj.', 'attn.out_proj.'],
  ];
  return { key: `${block}.${rename(m[2]!, renames)}` };
}
