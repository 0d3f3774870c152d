// Neural-network layers as ONNX opset-14 subgraphs, in the shapes torch.onnx exports them for diffusers models.
// Weight names follow the PyTorch module paths (`name.weight`, `name.bias`): with a weight source on the builder they
// are read from a checkpoint (PyTorch layout; Linear weights are transposed to [in, out] for MatMul), otherwise they
// are seeded random values.
// Every function takes the value name(s) it reads and returns the value name it produces.
//
// In fp16 (GraphBuilder precision) values are float16 except where torch's fp16 Stable Diffusion keeps float32,
// which is also where float16 would lose accuracy or overflow:
// - the timestep sinusoid: t up to 999 times frequencies; float16 keeps 11 bits, so t·f would be off by up to
//   0.25 rad. Computed in float32, cast after (diffusers casts t_emb to the sample's dtype the same way);
// - norm statistics (GroupNorm, LayerNorm): mean and variance in float32, as torch's half kernels accumulate them;
//   x² of an activation over 256 would overflow float16. The affine part runs in float16 with float16 weights;
// - attention scores and softmax in the plain (unfused) path: q·kᵀ over 64–160 channels can pass 65504 in SD 2.x
//   (diffusers' upcast_attention), and transformers' CLIP takes its softmax in float32. The fused
//   MultiHeadAttention op takes float16 q/k/v and accumulates in float32 inside its kernels;
// - Resize scales: float32 by the ONNX spec.
import type { GraphBuilder } from './graph-builder.js';
import { attr } from './onnx-proto.js';

export interface LinearOptions {
  bias?: boolean;
  gain?: number;
}

/** y = x·W + b over the last axis; W is stored [in, out] so any leading shape works with MatMul. */
export function linear(
  b: GraphBuilder,
  x: string,
  name: string,
  inFeatures: number,
  outFeatures: number,
  opts: LinearOptions = {},
): string {
  const w = b.param(`${name}.weight`, [inFeatures, outFeatures], { fanIn: inFeatures, gain: opts.gain }, { transpose: true });
  const y = b.op('MatMul', [x, w], {}, `${name}/MatMul`);
  if (opts.bias === false) return y;
  const bias = b.param(`${name}.bias`, [outFeatures], { fanIn: inFeatures, gain: 0.1 });
  return b.op('Add', [y, bias], {}, `${name}/Add`);
}

export interface Conv2dOptions {
  kernel?: number;
  stride?: number;
  /** Defaults to kernel / 2 (rounded down): "same" size at stride 1, halving at stride 2. */
  padding?: number;
  /** Explicit ONNX pads [top, left, bottom, right]; overrides `padding` (the VAE's downsampler pads only bottom/right). */
  pads?: readonly [number, number, number, number];
  gain?: number;
  /** Default true; TAESD's post-upsample convs have none. */
  bias?: boolean;
}

/** A square-kernel 2-D convolution over NCHW input. */
export function conv2d(
  b: GraphBuilder,
  x: string,
  name: string,
  inChannels: number,
  outChannels: number,
  opts: Conv2dOptions = {},
): string {
  const kernel = opts.kernel ?? 3;
  const stride = opts.stride ?? 1;
  const pad = opts.padding ?? Math.floor(kernel / 2);
  const fanIn = inChannels * kernel * kernel;
  const w = b.param(`${name}.weight`, [outChannels, inChannels, kernel, kernel], { fanIn, gain: opts.gain });
  const bias = opts.bias === false ? [] : [b.param(`${name}.bias`, [outChannels], { fanIn, gain: 0.1 })];
  const attrs = {
    kernel_shape: [kernel, kernel],
    strides: [stride, stride],
    pads: opts.pads ? [...opts.pads] : [pad, pad, pad, pad],
    dilations: [1, 1],
    group: 1,
  };
  return b.op('Conv', [x, w, ...bias], attrs, `${name}/Conv`);
}

/**
 * GroupNorm over NCHW input. Opset 14 has no GroupNormalization, so, like torch's exporter: reshape to
 * [N, groups, rest], InstanceNormalization (unit scale, zero bias), reshape back, then the per-channel affine.
 */
export function groupNorm(
  b: GraphBuilder,
  x: string,
  name: string,
  channels: number,
  groups: number,
  eps = 1e-5,
): string {
  if (channels % groups !== 0) throw new Error(`${name}: ${channels} channels do not split into ${groups} groups`);
  const grouped = b.op('Reshape', [b.toFloat32(x), b.constInt64([0, groups, -1])], {}, `${name}/Reshape`);
  const normed = b.op(
    'InstanceNormalization',
    [grouped, b.constFloat32(new Array(groups).fill(1)), b.constFloat32(new Array(groups).fill(0))],
    { epsilon: attr.float(eps) },
    `${name}/InstanceNormalization`,
  );
  const shape = b.op('Shape', [x], {}, `${name}/Shape`);
  const restored = b.toCompute(b.op('Reshape', [normed, shape], {}, `${name}/Reshape`));
  const scale = b.param(`${name}.weight`, [channels, 1, 1], { fill: 1 });
  const shift = b.param(`${name}.bias`, [channels, 1, 1], { fill: 0 });
  return b.op('Add', [b.op('Mul', [restored, scale], {}, `${name}/Mul`), shift], {}, `${name}/Add`);
}

/** LayerNorm over the last axis (LayerNormalization is opset 17, so it is spelled out with ReduceMean). */
export function layerNorm(b: GraphBuilder, x: string, name: string, dim: number, eps = 1e-5): string {
  const x32 = b.toFloat32(x);
  const mean = b.op('ReduceMean', [x32], { axes: [-1], keepdims: 1 }, `${name}/ReduceMean`);
  const centered = b.op('Sub', [x32, mean], {}, `${name}/Sub`);
  const squared = b.op('Mul', [centered, centered], {}, `${name}/Mul`);
  const variance = b.op('ReduceMean', [squared], { axes: [-1], keepdims: 1 }, `${name}/ReduceMean`);
  const std = b.op('Sqrt', [b.op('Add', [variance, b.constFloat32([eps], [])], {}, `${name}/Add`)], {}, `${name}/Sqrt`);
  const normed = b.toCompute(b.op('Div', [centered, std], {}, `${name}/Div`));
  const scaled = b.op('Mul', [normed, b.param(`${name}.weight`, [dim], { fill: 1 })], {}, `${name}/Mul`);
  return b.op('Add', [scaled, b.param(`${name}.bias`, [dim], { fill: 0 })], {}, `${name}/Add`);
}

/** SiLU / swish: x·sigmoid(x). */
export function silu(b: GraphBuilder, x: string, hint = 'silu'): string {
  return b.op('Mul', [x, b.op('Sigmoid', [x], {}, `${hint}/Sigmoid`)], {}, `${hint}/Mul`);
}

/** CLIP's quick GELU: x·sigmoid(1.702·x). */
export function quickGelu(b: GraphBuilder, x: string, hint = 'quick_gelu'): string {
  const scaled = b.op('Mul', [x, b.constFloat([1.702], [])], {}, `${hint}/Mul`);
  return b.op('Mul', [x, b.op('Sigmoid', [scaled], {}, `${hint}/Sigmoid`)], {}, `${hint}/Mul`);
}

/** Exact GELU, 0.5·x·(1 + erf(x/√2)) (the Gelu op is opset 20). */
export function gelu(b: GraphBuilder, x: string, hint = 'gelu'): string {
  const erf = b.op('Erf', [b.op('Div', [x, b.constFloat([Math.SQRT2], [])], {}, `${hint}/Div`)], {}, `${hint}/Erf`);
  const onePlus = b.op('Add', [erf, b.constFloat([1], [])], {}, `${hint}/Add`);
  const half = b.op('Mul', [x, b.constFloat([0.5], [])], {}, `${hint}/Mul`);
  return b.op('Mul', [half, onePlus], {}, `${hint}/Mul`);
}

/** Nearest-neighbour ×2 upsampling of NCHW input, as torch exports F.interpolate(scale_factor=2). */
export function upsampleNearest2x(b: GraphBuilder, x: string, hint = 'upsample'): string {
  return b.op(
    'Resize',
    [x, '', b.constFloat32([1, 1, 2, 2])],
    { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' },
    `${hint}/Resize`,
  );
}

/**
 * Nearest-neighbour resize of `x` to the spatial size of `like` — diffusers' `upsample_size` path, which lets
 * odd latent sizes (an image side that is a multiple of 8 but not of 16) come back to the skip's exact size.
 */
export function upsampleNearestTo(b: GraphBuilder, x: string, like: string, hint = 'upsample'): string {
  const batchChannels = b.op('Slice', [b.op('Shape', [x], {}, `${hint}/Shape_x`), b.constInt64([0]), b.constInt64([2])], {}, `${hint}/Slice_x`);
  const spatial = b.op('Slice', [b.op('Shape', [like], {}, `${hint}/Shape_like`), b.constInt64([2]), b.constInt64([4])], {}, `${hint}/Slice_like`);
  const sizes = b.op('Concat', [batchChannels, spatial], { axis: 0 }, `${hint}/sizes`);
  return b.op(
    'Resize',
    [x, '', '', sizes],
    { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' },
    `${hint}/Resize`,
  );
}

/** The size of one axis of `x` as an int64 scalar (for Range and friends). */
export function dimScalar(b: GraphBuilder, x: string, axis: number, hint = 'dim'): string {
  const shape = b.op('Shape', [x], {}, `${hint}/Shape`);
  return b.op('Gather', [shape, b.constInt64([axis], [])], { axis: 0 }, `${hint}/Gather`);
}

/**
 * [S, S] additive mask: 0 on and below the diagonal, a large negative number above (token i sees tokens ≤ i).
 * float32 in every precision: it is added to attention scores, which are float32 (see the header).
 */
export function causalMask(b: GraphBuilder, seqLen: string, hint = 'causal_mask'): string {
  const positions = b.op('Range', [b.constInt64([0], []), seqLen, b.constInt64([1], [])], {}, `${hint}/Range`);
  const rows = b.op('Unsqueeze', [positions, b.constInt64([1])], {}, `${hint}/Unsqueeze`);
  const cols = b.op('Unsqueeze', [positions, b.constInt64([0])], {}, `${hint}/Unsqueeze`);
  const future = b.op('Greater', [cols, rows], {}, `${hint}/Greater`);
  // Not -Infinity: a fully masked row would turn Softmax into NaN; finfo.min-like values are what CLIP uses.
  return b.op('Where', [future, b.constFloat32([-1e9], []), b.constFloat32([0], [])], {}, `${hint}/Where`);
}

export interface AttentionOptions {
  dim: number;
  heads: number;
  /** Feature size of `context` (cross-attention); defaults to `dim`. */
  contextDim?: number;
  /** Bias on the q/k/v projections: CLIP has it, the SD UNet does not. */
  qkvBias?: boolean;
  /** Additive float32 mask broadcastable to [B, heads, Nq, Nk]. */
  mask?: string;
  /** Projection module names: diffusers' to_q/to_k/to_v/to_out.0 by default; CLIP uses q_proj/…/out_proj. */
  projections?: { q: string; k: string; v: string; out: string };
}

const DIFFUSERS_PROJECTIONS = { q: 'to_q', k: 'to_k', v: 'to_v', out: 'to_out.0' };

/**
 * Multi-head scaled dot-product attention with plain MatMul/Softmax (no contrib ops, so every EP runs it).
 * x: [B, Nq, dim]; context: [B, Nk, contextDim] for cross-attention, or undefined for self-attention.
 */
export function attention(
  b: GraphBuilder,
  x: string,
  context: string | undefined,
  name: string,
  opts: AttentionOptions,
): string {
  const { dim, heads } = opts;
  if (dim % heads !== 0) throw new Error(`${name}: dim ${dim} does not split into ${heads} heads`);
  const headDim = dim / heads;
  const kvInput = context ?? x;
  const kvDim = opts.contextDim ?? dim;
  const bias = opts.qkvBias ?? false;
  const proj = opts.projections ?? DIFFUSERS_PROJECTIONS;
  const q = linear(b, x, `${name}.${proj.q}`, dim, dim, { bias });
  const k = linear(b, kvInput, `${name}.${proj.k}`, kvDim, dim, { bias });
  const v = linear(b, kvInput, `${name}.${proj.v}`, kvDim, dim, { bias });
  if (b.fusedAttention && !opts.mask) {
    // Its CPU kernel runs flash attention when there is no mask: scores are never materialized.
    const fused = b.contribOp('MultiHeadAttention', [q, k, v], { num_heads: heads }, `${name}/MultiHeadAttention`);
    return linear(b, fused, `${name}.${proj.out}`, dim, dim);
  }

  // [B, N, dim] → [B, heads, N, headDim]; keys go straight to [B, heads, headDim, N] for the MatMul.
  const headShape = b.constInt64([0, 0, heads, headDim]);
  const split = (t: string, perm: number[], hint: string): string =>
    b.op('Transpose', [b.op('Reshape', [t, headShape], {}, `${name}/${hint}/Reshape`)], { perm }, `${name}/${hint}`);
  const qh = split(q, [0, 2, 1, 3], 'q_heads');
  const kh = split(k, [0, 2, 3, 1], 'k_heads');
  const vh = split(v, [0, 2, 1, 3], 'v_heads');

  // Scores and softmax in float32 (the header says why); the probabilities go back to the compute type for ·v.
  let scores = b.op('MatMul', [b.toFloat32(qh), b.toFloat32(kh)], {}, `${name}/scores`);
  scores = b.op('Mul', [scores, b.constFloat32([1 / Math.sqrt(headDim)], [])], {}, `${name}/scale`);
  if (opts.mask) scores = b.op('Add', [scores, opts.mask], {}, `${name}/mask`);
  const probs = b.toCompute(b.op('Softmax', [scores], { axis: -1 }, `${name}/Softmax`));
  // [B, heads, Nq, headDim] → [B, Nq, heads, headDim] → [B, Nq, dim]
  const perHead = b.op('MatMul', [probs, vh], {}, `${name}/MatMul`);
  const tokenMajor = b.op('Transpose', [perHead], { perm: [0, 2, 1, 3] }, `${name}/merge`);
  const merged = b.op('Reshape', [tokenMajor, b.constInt64([0, 0, dim])], {}, `${name}/merge/Reshape`);
  return linear(b, merged, `${name}.${proj.out}`, dim, dim);
}

export interface TimestepEmbeddingOptions {
  /** diffusers' flip_sin_to_cos: [cos, sin] (true, SD) or [sin, cos]. */
  flipSinToCos?: boolean;
  /** diffusers' downscale_freq_shift (SD: 0). */
  freqShift?: number;
}

/**
 * diffusers' sinusoidal timestep embedding (Timesteps; SD uses flip_sin_to_cos=True, downscale_freq_shift=0):
 * [T] → [T, dim] = [cos(t·f), sin(t·f)] with f_i = exp(-ln(10000)·i / (half - shift)).
 * The frequencies are rounded step by step as torch computes them in float32, so they match bit for bit.
 * `t` is float32 and so is the whole computation; the result is in the compute type.
 */
export function timestepEmbedding(
  b: GraphBuilder,
  t: string,
  dim: number,
  hint = 'time_proj',
  opts: TimestepEmbeddingOptions = {},
): string {
  if (dim % 2 !== 0) throw new Error(`${hint}: odd timestep embedding size ${dim} is not supported`);
  const half = dim / 2;
  const shift = opts.freqShift ?? 0;
  const f32 = Math.fround;
  const logMax = f32(-Math.log(10000));
  const freqs = Array.from({ length: half }, (_, i) => f32(Math.exp(f32(f32(logMax * i) / (half - shift)))));
  const column = b.op('Unsqueeze', [t, b.constInt64([1])], {}, `${hint}/Unsqueeze`);
  const args = b.op('Mul', [column, b.constFloat32(freqs, [1, half])], {}, `${hint}/Mul`);
  const cos = b.op('Cos', [args], {}, `${hint}/Cos`);
  const sin = b.op('Sin', [args], {}, `${hint}/Sin`);
  const parts = (opts.flipSinToCos ?? true) ? [cos, sin] : [sin, cos];
  return b.toCompute(b.op('Concat', parts, { axis: 1 }, `${hint}/Concat`));
}

/** A token-embedding lookup: rows of a [vocab, dim] table at integer ids. */
export function embedding(b: GraphBuilder, ids: string, name: string, rows: number, dim: number, gain = 1): string {
  const table = b.param(`${name}.weight`, [rows, dim], { fanIn: 1, gain });
  return b.op('Gather', [table, ids], { axis: 0 }, `${name}/Gather`);
}
