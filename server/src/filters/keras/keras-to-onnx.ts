// Converts a TensorFlow.js layers model (Keras functional or Sequential config + weights) to an ONNX graph with
// Easel's own protobuf writer. The converted graph takes and gives images NCHW (the layout onnxruntime and the
// catalog's ONNX models use); values of other ranks keep the Keras layout.
import { GraphBuilder } from '../../convert/graph-builder.js';
import type { ModelDef } from '../../convert/onnx-proto.js';
import { EMITTERS, type Value } from './keras-layers.js';
import { canAbsorbUpsampling } from './subpixel.js';
import { modelConfigOf, type KerasLayer, type KerasWeight, type TfjsModelJson } from './tfjs-artifacts.js';

export interface KerasToOnnxOptions {
  /** The ONNX graph's name. */
  name: string;
  inputName?: string;
  outputName?: string;
}

export function kerasToOnnx(json: TfjsModelJson, weights: ReadonlyMap<string, KerasWeight>, opts: KerasToOnnxOptions): ModelDef {
  const config = modelConfigOf(json);
  const b = new GraphBuilder(opts.name, { opset: 14, producerName: 'easel keras-to-onnx' });
  const byLayer = indexWeights(weights);
  const values = new Map<string, Value>();
  const layers = config.config.layers;
  const sequential = config.class_name === 'Sequential';
  const consumers = consumersOf(layers, sequential);
  let previous: Value | undefined;

  for (const [index, layer] of layers.entries()) {
    if (layer.class_name === 'InputLayer' || (sequential && index === 0 && !previous)) {
      previous = graphInput(b, layer, opts.inputName ?? 'input');
      values.set(layer.name, previous);
      if (layer.class_name === 'InputLayer') continue;
    }
    const emit = EMITTERS[layer.class_name];
    if (!emit) {
      throw new Error(`layer ${layer.name}: Keras ${layer.class_name} is not supported; supported: ${Object.keys(EMITTERS).join(', ')}`);
    }
    const inputs = sequential ? [previous as Value] : inboundOf(layer).map((name) => {
      const value = values.get(name);
      if (!value) throw new Error(`layer ${layer.name}: its input ${name} comes later in the file or does not exist`);
      return value;
    });
    const absorbedBy = absorbingConv(layer, consumers);
    if (absorbedBy) {
      // Left for the convolution that follows to do at the small size (subpixel.ts).
      previous = { ...(inputs[0] as Value), pendingUpsample: absorbedBy };
      values.set(layer.name, previous);
      continue;
    }
    const weight = (param: string): KerasWeight => {
      const found = byLayer.get(`${layer.name}/${param}`);
      if (!found) throw new Error(`layer ${layer.name}: the weights lack ${param}`);
      return found;
    };
    previous = emit(layer, inputs, { b, weight });
    values.set(layer.name, previous);
  }

  const outputNames = sequential ? [layers[layers.length - 1]?.name as string] : (config.config.output_layers ?? []).map((o) => o[0]);
  if (outputNames.length === 0) throw new Error('the model names no output layer');
  outputNames.forEach((layerName, i) => {
    const value = values.get(layerName);
    if (!value) throw new Error(`output layer ${layerName} was not built`);
    const shape = value.rank === 4 ? ['batch', 'channels', 'height', 'width'] : value.rank === 2 ? ['batch', 'features'] : Array.from({ length: value.rank }, (_, d) => `d${d}`);
    const name = outputNames.length === 1 ? (opts.outputName ?? 'output') : `${opts.outputName ?? 'output'}_${i}`;
    b.output(name, 'float32', shape, value.name);
  });
  return b.build();
}

/** Which layers read each layer's output. */
function consumersOf(layers: readonly KerasLayer[], sequential: boolean): Map<string, KerasLayer[]> {
  const map = new Map<string, KerasLayer[]>();
  layers.forEach((layer, i) => {
    const sources = sequential ? (i > 0 ? [layers[i - 1]?.name as string] : []) : layer.class_name === 'InputLayer' ? [] : inboundOf(layer);
    for (const source of sources) map.set(source, [...(map.get(source) ?? []), layer]);
  });
  return map;
}

/** The factor of a nearest, square UpSampling2D whose only reader is a convolution that can absorb it. */
function absorbingConv(layer: KerasLayer, consumers: ReadonlyMap<string, KerasLayer[]>): number | undefined {
  if (layer.class_name !== 'UpSampling2D' || (layer.config.interpolation ?? 'nearest') !== 'nearest') return undefined;
  const size = layer.config.size;
  if (!Array.isArray(size) || size[0] !== size[1] || typeof size[0] !== 'number') return undefined;
  const readers = consumers.get(layer.name) ?? [];
  return readers.length === 1 && readers[0] && canAbsorbUpsampling(readers[0]) ? size[0] : undefined;
}

/** Keras 2 inbound nodes: `[[[layer, node, tensor, kwargs], …]]`. A layer called twice (shared) is not supported. */
function inboundOf(layer: KerasLayer): string[] {
  const nodes = layer.inbound_nodes ?? [];
  if (nodes.length !== 1) throw new Error(`layer ${layer.name} is called ${nodes.length} times; shared layers are not supported`);
  const node = nodes[0];
  if (!Array.isArray(node)) throw new Error(`layer ${layer.name}: inbound nodes in an unknown format`);
  return node.map((entry) => {
    if (!Array.isArray(entry) || typeof entry[0] !== 'string') throw new Error(`layer ${layer.name}: inbound nodes in an unknown format`);
    if (entry[1] !== 0 || entry[2] !== 0) throw new Error(`layer ${layer.name}: multi-node inputs are not supported`);
    return entry[0];
  });
}

function graphInput(b: GraphBuilder, layer: KerasLayer, name: string): Value {
  const shape = layer.config.batch_input_shape;
  if (!Array.isArray(shape)) throw new Error(`layer ${layer.name} has no batch_input_shape`);
  const dim = (d: unknown, symbol: string) => (typeof d === 'number' ? d : symbol);
  if (shape.length === 4) {
    b.input(name, 'float32', ['batch', dim(shape[3], 'channels'), dim(shape[1], 'height'), dim(shape[2], 'width')]);
    return { name, rank: 4 };
  }
  b.input(name, 'float32', shape.map((d, i) => dim(d, i === 0 ? 'batch' : `d${i}`)));
  return { name, rank: shape.length };
}

/** Weights by `layer/param`: tfjs names them `layer/param`, sometimes under a model-name prefix. */
function indexWeights(weights: ReadonlyMap<string, KerasWeight>): Map<string, KerasWeight> {
  const index = new Map<string, KerasWeight>();
  for (const [name, weight] of weights) {
    const parts = name.replace(/:0$/, '').split('/');
    index.set(parts.slice(-2).join('/'), weight);
  }
  return index;
}
