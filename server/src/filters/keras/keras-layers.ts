// One ONNX subgraph per Keras layer type. Keras image tensors are NHWC; the converted graph keeps every 4-D value
// NCHW (what ONNX Conv wants), so kernels are transposed here and channel axes remapped, and Flatten puts the
// values back in NHWC order first, because Dense weights were trained on that order.
import type { GraphBuilder } from '../../convert/graph-builder.js';
import { attr } from '../../convert/onnx-proto.js';
import { subpixelConv } from './subpixel.js';
import type { KerasLayer, KerasWeight } from './tfjs-artifacts.js';

/** A graph value; rank-4 values are stored NCHW, rank-2 values as Keras has them ([batch, features]). */
export interface Value {
  name: string;
  rank: number;
  /** A nearest upsampling by this factor still to apply: the next convolution absorbs it (subpixel.ts). */
  pendingUpsample?: number;
}

export interface LayerContext {
  b: GraphBuilder;
  /** The layer's parameter (`kernel`, `bias`, `gamma`, …); throws when the weights lack it. */
  weight(param: string): KerasWeight;
}

type Emitter = (layer: KerasLayer, inputs: Value[], ctx: LayerContext) => Value;

const num = (v: unknown, fallback?: number): number => {
  if (typeof v === 'number') return v;
  if (fallback !== undefined && (v === undefined || v === null)) return fallback;
  throw new Error(`expected a number, got ${JSON.stringify(v)}`);
};
const pair = (v: unknown, fallback?: [number, number]): [number, number] => {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2) return [num(v[0]), num(v[1])];
  if (fallback && (v === undefined || v === null)) return fallback;
  throw new Error(`expected a pair of numbers, got ${JSON.stringify(v)}`);
};

function only(layer: KerasLayer, inputs: Value[]): Value {
  if (inputs.length !== 1 || !inputs[0]) throw new Error(`${layer.class_name} ${layer.name} takes one input, got ${inputs.length}`);
  return inputs[0];
}

function checkChannelsLast(layer: KerasLayer): void {
  const format = layer.config.data_format;
  if (format !== undefined && format !== 'channels_last') throw new Error(`${layer.name}: data_format ${String(format)} is not supported`);
}

/** A Keras axis on an NHWC (rank 4) or [batch, features] value → the axis of our stored value. */
function mapAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (rank !== 4) return a;
  return [0, 2, 3, 1][a] as number;
}

/** Keras [kh, kw, in, out] → ONNX [out, in, kh, kw]. */
function hwioToOihw(w: KerasWeight): Float32Array {
  const [kh, kw, cin, cout] = w.shape as [number, number, number, number];
  const out = new Float32Array(w.data.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < cin; i++)
        for (let o = 0; o < cout; o++) out[((o * cin + i) * kh + y) * kw + x] = w.data[((y * kw + x) * cin + i) * cout + o] as number;
  return out;
}

/** Depthwise [kh, kw, in, mult] → grouped ONNX [in * mult, 1, kh, kw]; TF numbers output channel i * mult + m. */
function depthwiseToOihw(w: KerasWeight): Float32Array {
  const [kh, kw, cin, mult] = w.shape as [number, number, number, number];
  const out = new Float32Array(w.data.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < cin; i++)
        for (let m = 0; m < mult; m++) out[((i * mult + m) * kh + y) * kw + x] = w.data[((y * kw + x) * cin + i) * mult + m] as number;
  return out;
}

/** TF's "same" at stride 1 pads (k - 1) * d split with the extra pixel at the end; at larger strides the split
 * depends on the input size, which ONNX's SAME_UPPER works out the same way. */
function spatialPadding(layer: KerasLayer, kernel: [number, number], strides: [number, number], dilation: [number, number]): { pads: number[] } | { auto_pad: string } {
  const padding = layer.config.padding ?? 'valid';
  if (padding === 'valid') return { pads: [0, 0, 0, 0] };
  if (padding !== 'same') throw new Error(`${layer.name}: padding ${String(padding)} is not supported`);
  if (strides[0] !== 1 || strides[1] !== 1) return { auto_pad: 'SAME_UPPER' };
  const total = [0, 1].map((i) => ((kernel[i] as number) - 1) * (dilation[i] as number));
  const before = total.map((t) => Math.floor(t / 2));
  return { pads: [before[0] as number, before[1] as number, (total[0] as number) - (before[0] as number), (total[1] as number) - (before[1] as number)] };
}

export function activation(b: GraphBuilder, x: Value, kind: unknown, hint: string): Value {
  switch (kind ?? 'linear') {
    case 'linear':
      return x;
    case 'relu':
      return { name: b.op('Relu', [x.name], {}, `${hint}_relu`), rank: x.rank };
    case 'relu6':
      return { name: b.op('Clip', [x.name, b.constFloat([0], []), b.constFloat([6], [])], {}, `${hint}_relu6`), rank: x.rank };
    case 'sigmoid':
      return { name: b.op('Sigmoid', [x.name], {}, `${hint}_sigmoid`), rank: x.rank };
    case 'tanh':
      return { name: b.op('Tanh', [x.name], {}, `${hint}_tanh`), rank: x.rank };
    case 'softmax':
      return { name: b.op('Softmax', [x.name], { axis: x.rank === 4 ? 1 : -1 }, `${hint}_softmax`), rank: x.rank };
    default:
      throw new Error(`${hint}: activation ${String(kind)} is not supported`);
  }
}

const conv2d: Emitter = (layer, inputs, { b, weight }) => {
  checkChannelsLast(layer);
  const x = only(layer, inputs);
  const c = layer.config;
  const kernel = weight('kernel');
  if (x.pendingUpsample) {
    const y = subpixelConv(b, layer, x.name, x.pendingUpsample, kernel, c.use_bias !== false ? weight('bias') : undefined);
    return activation(b, { name: y, rank: 4 }, c.activation, layer.name);
  }
  const [kh, kw, cinPerGroup, cout] = kernel.shape as [number, number, number, number];
  const strides = pair(c.strides, [1, 1]);
  const dilation = pair(c.dilation_rate, [1, 1]);
  const w = b.initializer(`${layer.name}.weight`, [cout, cinPerGroup, kh, kw], hwioToOihw(kernel));
  const ins = [x.name, w];
  if (c.use_bias !== false) ins.push(b.initializer(`${layer.name}.bias`, [cout], weight('bias').data));
  const attrs = { kernel_shape: [kh, kw], strides, dilations: dilation, group: num(c.groups, 1), ...spatialPadding(layer, [kh, kw], strides, dilation) };
  const y = { name: b.op('Conv', ins, attrs, layer.name), rank: 4 };
  return activation(b, y, c.activation, layer.name);
};

const depthwiseConv2d: Emitter = (layer, inputs, { b, weight }) => {
  checkChannelsLast(layer);
  const x = only(layer, inputs);
  const c = layer.config;
  const kernel = weight('depthwise_kernel');
  const [kh, kw, cin, mult] = kernel.shape as [number, number, number, number];
  const strides = pair(c.strides, [1, 1]);
  const dilation = pair(c.dilation_rate, [1, 1]);
  const w = b.initializer(`${layer.name}.weight`, [cin * mult, 1, kh, kw], depthwiseToOihw(kernel));
  const ins = [x.name, w];
  if (c.use_bias !== false) ins.push(b.initializer(`${layer.name}.bias`, [cin * mult], weight('bias').data));
  const attrs = { kernel_shape: [kh, kw], strides, dilations: dilation, group: cin, ...spatialPadding(layer, [kh, kw], strides, dilation) };
  const y = { name: b.op('Conv', ins, attrs, layer.name), rank: 4 };
  return activation(b, y, c.activation, layer.name);
};

const batchNorm: Emitter = (layer, inputs, { b, weight }) => {
  const x = only(layer, inputs);
  const c = layer.config;
  const axisConfig = Array.isArray(c.axis) ? c.axis[0] : c.axis;
  if (mapAxis(num(axisConfig, -1), x.rank) !== 1) throw new Error(`${layer.name}: only channel-axis batch norm is supported`);
  const mean = weight('moving_mean');
  const channels = mean.shape[0] as number;
  const ones = () => new Float32Array(channels).fill(1);
  const gamma = c.scale === false ? ones() : weight('gamma').data;
  const beta = c.center === false ? new Float32Array(channels) : weight('beta').data;
  const ins = [
    x.name,
    b.initializer(`${layer.name}.gamma`, [channels], gamma),
    b.initializer(`${layer.name}.beta`, [channels], beta),
    b.initializer(`${layer.name}.mean`, [channels], mean.data),
    b.initializer(`${layer.name}.variance`, [channels], weight('moving_variance').data),
  ];
  return { name: b.op('BatchNormalization', ins, { epsilon: attr.float(num(c.epsilon, 1e-3)) }, layer.name), rank: x.rank };
};

const relu: Emitter = (layer, inputs, { b }) => {
  const x = only(layer, inputs);
  const c = layer.config;
  if (num(c.threshold, 0) !== 0) throw new Error(`${layer.name}: ReLU threshold is not supported`);
  const slope = num(c.negative_slope, 0);
  let y = slope === 0 ? b.op('Relu', [x.name], {}, layer.name) : b.op('LeakyRelu', [x.name], { alpha: attr.float(slope) }, layer.name);
  if (c.max_value !== null && c.max_value !== undefined) {
    y = b.op('Clip', [y, b.constFloat([slope === 0 ? 0 : -3.4e38], []), b.constFloat([num(c.max_value)], [])], {}, `${layer.name}_max`);
  }
  return { name: y, rank: x.rank };
};

const concatenate: Emitter = (layer, inputs, { b }) => {
  const rank = inputs[0]?.rank ?? 4;
  const axis = mapAxis(num(layer.config.axis, -1), rank);
  return { name: b.op('Concat', inputs.map((v) => v.name), { axis }, layer.name), rank };
};

const add: Emitter = (layer, inputs, { b }) => {
  if (inputs.length < 2) throw new Error(`${layer.name}: Add needs two or more inputs`);
  const op = inputs.length === 2 ? 'Add' : 'Sum';
  return { name: b.op(op, inputs.map((v) => v.name), {}, layer.name), rank: inputs[0]?.rank ?? 4 };
};

const zeroPadding: Emitter = (layer, inputs, { b }) => {
  checkChannelsLast(layer);
  const x = only(layer, inputs);
  const p = layer.config.padding;
  const [[top, bottom], [left, right]] =
    typeof p === 'number' ? [[p, p], [p, p]] : Array.isArray(p) && Array.isArray(p[0]) ? [pair(p[0]), pair(p[1])] : (() => {
      const [h, w] = pair(p);
      return [[h, h], [w, w]];
    })();
  const pads = b.constInt64([0, 0, top, left, 0, 0, bottom, right]);
  return { name: b.op('Pad', [x.name, pads], { mode: 'constant' }, layer.name), rank: 4 };
};

function pooling(opType: 'AveragePool' | 'MaxPool'): Emitter {
  return (layer, inputs, { b }) => {
    checkChannelsLast(layer);
    const x = only(layer, inputs);
    const kernel = pair(layer.config.pool_size, [2, 2]);
    const strides = pair(layer.config.strides, kernel);
    // TF averages over the real pixels only at the padded border; ONNX does too with count_include_pad 0 (default).
    const attrs = { kernel_shape: kernel, strides, ...spatialPadding(layer, kernel, strides, [1, 1]) };
    return { name: b.op(opType, [x.name], attrs, layer.name), rank: 4 };
  };
}

function globalPooling(opType: 'GlobalAveragePool' | 'GlobalMaxPool'): Emitter {
  return (layer, inputs, { b }) => {
    checkChannelsLast(layer);
    const pooled = b.op(opType, [only(layer, inputs).name], {}, layer.name);
    if (layer.config.keepdims === true) return { name: pooled, rank: 4 };
    return { name: b.op('Flatten', [pooled], { axis: 1 }, `${layer.name}_flat`), rank: 2 };
  };
}

const flatten: Emitter = (layer, inputs, { b }) => {
  const x = only(layer, inputs);
  if (x.rank === 2) return x;
  const nhwc = x.rank === 4 ? b.op('Transpose', [x.name], { perm: [0, 2, 3, 1] }, `${layer.name}_nhwc`) : x.name;
  return { name: b.op('Flatten', [nhwc], { axis: 1 }, layer.name), rank: 2 };
};

const dense: Emitter = (layer, inputs, { b, weight }) => {
  const x = only(layer, inputs);
  if (x.rank !== 2) throw new Error(`${layer.name}: Dense on a rank-${x.rank} value is not supported`);
  const kernel = weight('kernel');
  const [fin, fout] = kernel.shape as [number, number];
  let y = b.op('MatMul', [x.name, b.initializer(`${layer.name}.weight`, [fin, fout], kernel.data)], {}, layer.name);
  if (layer.config.use_bias !== false) y = b.op('Add', [y, b.initializer(`${layer.name}.bias`, [fout], weight('bias').data)], {}, `${layer.name}_bias`);
  return activation(b, { name: y, rank: 2 }, layer.config.activation, layer.name);
};

const upSampling: Emitter = (layer, inputs, { b }) => {
  checkChannelsLast(layer);
  const x = only(layer, inputs);
  if ((layer.config.interpolation ?? 'nearest') !== 'nearest') throw new Error(`${layer.name}: only nearest upsampling is supported`);
  const [sh, sw] = pair(layer.config.size, [2, 2]);
  // Keras repeats each pixel: out[y] = in[floor(y / s)], which is Resize's asymmetric + floor.
  const attrs = { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' };
  return { name: b.op('Resize', [x.name, '', b.constFloat([1, 1, sh, sw])], attrs, layer.name), rank: 4 };
};

const identity: Emitter = (layer, inputs) => only(layer, inputs);

export const EMITTERS: Readonly<Record<string, Emitter>> = {
  Conv2D: conv2d,
  DepthwiseConv2D: depthwiseConv2d,
  BatchNormalization: batchNorm,
  ReLU: relu,
  Activation: (layer, inputs, { b }) => activation(b, only(layer, inputs), layer.config.activation, layer.name),
  Add: add,
  Concatenate: concatenate,
  ZeroPadding2D: zeroPadding,
  AveragePooling2D: pooling('AveragePool'),
  MaxPooling2D: pooling('MaxPool'),
  GlobalAveragePooling2D: globalPooling('GlobalAveragePool'),
  GlobalMaxPooling2D: globalPooling('GlobalMaxPool'),
  Flatten: flatten,
  Dense: dense,
  UpSampling2D: upSampling,
  Dropout: identity,
  SpatialDropout2D: identity,
};
