// TensorFlow.js "layers-model" artifacts: the model.json topology and its weight shards, read into plain float32
// arrays by weight name. Shards may hold quantized weights (uint8/uint16 affine, float16); they are expanded here
// exactly as tfjs does (q * scale + min, rounded to float32) so a converted model sees the same numbers.

import { fromFloat16Bytes } from '../../pipeline/onnx/float16.js';

/** One Keras layer as the Keras 2 JSON config names it. */
export interface KerasLayer {
  name: string;
  class_name: string;
  config: Record<string, unknown>;
  /** Functional models: `[[[inboundLayer, nodeIndex, tensorIndex, kwargs], …]]`; absent in Sequential ones. */
  inbound_nodes?: unknown[];
}

export interface KerasModelConfig {
  class_name: string;
  config: {
    name?: string;
    layers: KerasLayer[];
    input_layers?: [string, number, number][];
    output_layers?: [string, number, number][];
  };
}

export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  quantization?: { dtype: 'uint8' | 'uint16' | 'float16'; min?: number; scale?: number };
}

export interface TfjsModelJson {
  format?: string;
  modelTopology: { model_config?: KerasModelConfig; keras_version?: string } & Partial<KerasModelConfig>;
  weightsManifest: { paths: string[]; weights: WeightSpec[] }[];
}

export interface KerasWeight {
  shape: number[];
  data: Float32Array;
}

/** The Keras model config, whether model.json nests it under `model_config` (converter ≥1) or not. */
export function modelConfigOf(json: TfjsModelJson): KerasModelConfig {
  const topology = json.modelTopology;
  const config = topology.model_config ?? (topology.class_name ? (topology as KerasModelConfig) : undefined);
  if (!config?.config?.layers) throw new Error('model.json has no Keras layers model_config (is it a graph model?)');
  return config;
}

/** Splits the concatenated shard bytes into named float32 weights, in manifest order. */
export function readWeights(json: TfjsModelJson, shards: readonly Uint8Array[]): Map<string, KerasWeight> {
  const total = shards.reduce((n, s) => n + s.byteLength, 0);
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const shard of shards) {
    bytes.set(shard, at);
    at += shard.byteLength;
  }
  const view = new DataView(bytes.buffer);
  const weights = new Map<string, KerasWeight>();
  let offset = 0;
  for (const spec of json.weightsManifest.flatMap((group) => group.weights)) {
    const count = spec.shape.reduce((n, d) => n * d, 1);
    const q = spec.quantization;
    const width = q ? (q.dtype === 'uint8' ? 1 : 2) : 4;
    if (offset + count * width > total) throw new Error(`weight ${spec.name} runs past the end of the shards`);
    const data = new Float32Array(count);
    if (!q) {
      for (let i = 0; i < count; i++) {
        data[i] = spec.dtype === 'int32' ? view.getInt32(offset + i * 4, true) : view.getFloat32(offset + i * 4, true);
      }
    } else if (q.dtype === 'float16') {
      data.set(fromFloat16Bytes(bytes.subarray(offset, offset + count * 2)));
    } else {
      const scale = q.scale ?? 1;
      const min = q.min ?? 0;
      for (let i = 0; i < count; i++) {
        const v = q.dtype === 'uint8' ? (bytes[offset + i] as number) : view.getUint16(offset + i * 2, true);
        data[i] = v * scale + min;
      }
    }
    weights.set(spec.name, { shape: spec.shape, data });
    offset += count * width;
  }
  return weights;
}
