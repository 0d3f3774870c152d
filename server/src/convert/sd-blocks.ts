// Stable Diffusion building blocks (diffusers' ResnetBlock2D, Transformer2DModel, Down/Upsample2D,
// TimestepEmbedding, the VAE's mid-block attention) assembled from nn-layers. Sizes are parameters, so the tiny test
// model and full-size architectures share this code; names follow diffusers' module paths.
import type { GraphBuilder } from './graph-builder.js';
import {
  attention,
  conv2d,
  gelu,
  groupNorm,
  layerNorm,
  linear,
  silu,
  timestepEmbedding,
  upsampleNearest2x,
  upsampleNearestTo,
} from './nn-layers.js';
import type { TimestepEmbeddingOptions } from './nn-layers.js';

/** Timestep [T] → sinusoidal features → Linear → SiLU → Linear: [T, embedDim]. */
export function timeEmbedding(
  b: GraphBuilder,
  timestep: string,
  name: string,
  sinusoidDim: number,
  embedDim: number,
  opts: TimestepEmbeddingOptions & { gain?: number } = {},
): string {
  const sinusoid = timestepEmbedding(b, timestep, sinusoidDim, 'time_proj', opts);
  const hidden = silu(b, linear(b, sinusoid, `${name}.linear_1`, sinusoidDim, embedDim, { gain: opts.gain }), `${name}/act`);
  return linear(b, hidden, `${name}.linear_2`, embedDim, embedDim, { gain: opts.gain });
}

export interface ResnetOptions {
  inChannels: number;
  outChannels: number;
  groups: number;
  /** GroupNorm epsilon: 1e-5 in the UNet, 1e-6 in the VAE. */
  eps?: number;
  /** Size of the time embedding; omit for blocks without one (VAE). */
  tembDim?: number;
  /** Scale of the random time-embedding projection; larger makes the output depend more on the timestep. */
  tembGain?: number;
  /** diffusers' output_scale_factor: the sum is divided by it (1 in SD). */
  outputScale?: number;
}

/**
 * ResnetBlock2D: GroupNorm → SiLU → conv → (+ projected time embedding) → GroupNorm → SiLU → conv, plus the
 * input (through a 1×1 conv when the channel count changes).
 */
export function resnetBlock(
  b: GraphBuilder,
  x: string,
  temb: string | undefined,
  name: string,
  opts: ResnetOptions,
): string {
  const { inChannels, outChannels, groups } = opts;
  const eps = opts.eps ?? 1e-5;
  let h = silu(b, groupNorm(b, x, `${name}.norm1`, inChannels, groups, eps), `${name}/act1`);
  h = conv2d(b, h, `${name}.conv1`, inChannels, outChannels);
  if (temb !== undefined) {
    if (opts.tembDim === undefined) throw new Error(`${name}: a time embedding needs tembDim`);
    const projected = linear(b, silu(b, temb, `${name}/temb_act`), `${name}.time_emb_proj`, opts.tembDim, outChannels, {
      gain: opts.tembGain,
    });
    // [T, C] → [T, C, 1, 1] so it broadcasts over H and W (and over the batch when T is 1).
    const perChannel = b.op('Unsqueeze', [projected, b.constInt64([2, 3])], {}, `${name}/temb_unsqueeze`);
    h = b.op('Add', [h, perChannel], {}, `${name}/temb_add`);
  }
  h = silu(b, groupNorm(b, h, `${name}.norm2`, outChannels, groups, eps), `${name}/act2`);
  h = conv2d(b, h, `${name}.conv2`, outChannels, outChannels);
  const shortcut =
    inChannels === outChannels ? x : conv2d(b, x, `${name}.conv_shortcut`, inChannels, outChannels, { kernel: 1 });
  const sum = b.op('Add', [shortcut, h], {}, `${name}/residual`);
  const scale = opts.outputScale ?? 1;
  return scale === 1 ? sum : b.op('Div', [sum, b.constFloat([scale], [])], {}, `${name}/output_scale`);
}

/**
 * Downsample2D: a stride-2 3×3 conv (halves H and W, rounding up). The UNet pads 1 on every side; the VAE
 * (`vaePadding`) pads only the bottom and right by one, as diffusers' padding=0 path does with F.pad(0, 1, 0, 1).
 */
export function downsample(b: GraphBuilder, x: string, name: string, channels: number, vaePadding = false): string {
  return conv2d(b, x, `${name}.conv`, channels, channels, { stride: 2, ...(vaePadding ? { pads: [0, 0, 1, 1] } : {}) });
}

/** Upsample2D: nearest ×2, then a 3×3 conv. */
export function upsample(
  b: GraphBuilder,
  x: string,
  name: string,
  inChannels: number,
  outChannels = inChannels,
  /** Resize to this tensor's height and width instead of doubling (needed when the input side was odd). */
  sizeLike?: string,
): string {
  const up = sizeLike ? upsampleNearestTo(b, x, sizeLike, name) : upsampleNearest2x(b, x, name);
  return conv2d(b, up, `${name}.conv`, inChannels, outChannels);
}

export interface TransformerOptions {
  channels: number;
  contextDim: number;
  heads: number;
  groups: number;
  /** Width of the feed-forward hidden layer; diffusers uses 4 × channels. */
  ffDim?: number;
  /** SD 2.x: Linear proj_in/proj_out on tokens instead of 1×1 convs on the map. */
  linearProjection?: boolean;
  /** Number of BasicTransformerBlocks (diffusers' transformer_layers_per_block). */
  depth?: number;
}

/**
 * Transformer2DModel: the feature map becomes a token sequence that runs self-attention, cross-attention to
 * `context` (the prompt embedding) and a GEGLU feed-forward in each block, then goes back to NCHW and is added to the
 * input. SD 1.x projects with 1×1 convs before/after the reshape, SD 2.x with Linear layers after/before it.
 */
export function spatialTransformer(
  b: GraphBuilder,
  x: string,
  context: string,
  name: string,
  opts: TransformerOptions,
): string {
  const { channels, contextDim, heads, groups } = opts;
  const ffDim = opts.ffDim ?? 4 * channels;
  const linearProjection = opts.linearProjection ?? false;

  let h = groupNorm(b, x, `${name}.norm`, channels, groups, 1e-6);
  if (!linearProjection) h = conv2d(b, h, `${name}.proj_in`, channels, channels, { kernel: 1 });
  // [B, C, H, W] → [B, H·W, C]
  const flat = b.op('Reshape', [h, b.constInt64([0, channels, -1])], {}, `${name}/to_tokens`);
  let tokens = b.op('Transpose', [flat], { perm: [0, 2, 1] }, `${name}/to_tokens`);
  if (linearProjection) tokens = linear(b, tokens, `${name}.proj_in`, channels, channels);

  for (let i = 0; i < (opts.depth ?? 1); i++) {
    const block = `${name}.transformer_blocks.${i}`;
    const selfAttn = attention(b, layerNorm(b, tokens, `${block}.norm1`, channels), undefined, `${block}.attn1`, {
      dim: channels,
      heads,
    });
    tokens = b.op('Add', [selfAttn, tokens], {}, `${block}/attn1_residual`);
    const crossAttn = attention(b, layerNorm(b, tokens, `${block}.norm2`, channels), context, `${block}.attn2`, {
      dim: channels,
      heads,
      contextDim,
    });
    tokens = b.op('Add', [crossAttn, tokens], {}, `${block}/attn2_residual`);
    const ff = gegluFeedForward(b, layerNorm(b, tokens, `${block}.norm3`, channels), `${block}.ff`, channels, ffDim);
    tokens = b.op('Add', [ff, tokens], {}, `${block}/ff_residual`);
  }

  if (linearProjection) tokens = linear(b, tokens, `${name}.proj_out`, channels, channels);
  // [B, H·W, C] → [B, C, H, W], taking H and W from the input.
  const channelsFirst = b.op('Transpose', [tokens], { perm: [0, 2, 1] }, `${name}/to_map`);
  let out = b.op('Reshape', [channelsFirst, b.op('Shape', [x], {}, `${name}/Shape`)], {}, `${name}/to_map`);
  if (!linearProjection) out = conv2d(b, out, `${name}.proj_out`, channels, channels, { kernel: 1 });
  return b.op('Add', [out, x], {}, `${name}/residual`);
}

/** FeedForward with GEGLU: Linear(dim → 2·ff) split into value and gate, value·gelu(gate), Linear(ff → dim). */
function gegluFeedForward(b: GraphBuilder, x: string, name: string, dim: number, ffDim: number): string {
  const projected = linear(b, x, `${name}.net.0.proj`, dim, 2 * ffDim);
  const [value, gate] = b.node('Split', [projected], 2, { axis: -1 }, `${name}/Split`);
  const gated = b.op('Mul', [value, gelu(b, gate, `${name}/gelu`)], {}, `${name}/Mul`);
  return linear(b, gated, `${name}.net.2`, ffDim, dim);
}

/**
 * The VAE mid block's single-head self-attention over all pixels (diffusers' Attention with group_norm,
 * residual_connection=True): GroupNorm → tokens → q/k/v (with bias) → softmax(q·kᵀ/√C)·v → to_out → map + input.
 */
export function vaeAttention(b: GraphBuilder, x: string, name: string, channels: number, groups: number): string {
  const normed = groupNorm(b, x, `${name}.group_norm`, channels, groups, 1e-6);
  const flat = b.op('Reshape', [normed, b.constInt64([0, channels, -1])], {}, `${name}/to_tokens`);
  const tokens = b.op('Transpose', [flat], { perm: [0, 2, 1] }, `${name}/to_tokens`);
  const attended = attention(b, tokens, undefined, name, { dim: channels, heads: 1, qkvBias: true });
  const channelsFirst = b.op('Transpose', [attended], { perm: [0, 2, 1] }, `${name}/to_map`);
  const map = b.op('Reshape', [channelsFirst, b.op('Shape', [x], {}, `${name}/Shape`)], {}, `${name}/to_map`);
  return b.op('Add', [map, x], {}, `${name}/residual`);
}
