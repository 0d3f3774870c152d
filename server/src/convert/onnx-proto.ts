// Encodes ONNX ModelProto (onnx/onnx.proto) with the protobuf wire format, without a protobuf library.
// Only the fields a plain exported inference graph uses are covered. Field numbers are those of onnx.proto
// (checked against a diffusers/torch export: ir_version 7, opset 14, unpacked `dims`/`ints`, external data
// entries location/offset/length with data_location = EXTERNAL).
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ProtoWriter, resolveChunk } from './protobuf-writer.js';

export type TensorDataType = 'float32' | 'float16' | 'int64' | 'int32';
/** float16 values are their IEEE half bit patterns (pipeline/onnx/float16.ts converts). */
export type TensorData = Float32Array | Uint16Array | BigInt64Array | Int32Array;
/**
 * A tensor's values, or a function producing them on demand: lazy initializers are loaded one at a time while the
 * model is written and dropped right after, so converting a multi-GB checkpoint never holds the model in memory.
 */
export type TensorSource = TensorData | (() => TensorData);

/** An initializer (or tensor attribute). `data` is stored as little-endian raw_data. */
export interface TensorInit {
  name: string;
  dataType: TensorDataType;
  dims: readonly number[];
  data: TensorSource;
}

export type AttrValue =
  | { type: 'float'; value: number }
  | { type: 'int'; value: number }
  | { type: 'string'; value: string }
  | { type: 'tensor'; value: TensorInit }
  | { type: 'floats'; value: readonly number[] }
  | { type: 'ints'; value: readonly number[] };

/** Typed attribute constructors: ONNX tells FLOAT from INT, JavaScript numbers do not. */
export const attr = {
  float: (value: number): AttrValue => ({ type: 'float', value }),
  int: (value: number): AttrValue => ({ type: 'int', value }),
  string: (value: string): AttrValue => ({ type: 'string', value }),
  tensor: (value: TensorInit): AttrValue => ({ type: 'tensor', value }),
  floats: (value: readonly number[]): AttrValue => ({ type: 'floats', value }),
  ints: (value: readonly number[]): AttrValue => ({ type: 'ints', value }),
};

export interface NodeDef {
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  name?: string;
  /** Empty (the default ai.onnx domain) unless a contrib op is meant. */
  domain?: string;
  attributes?: Readonly<Record<string, AttrValue>>;
}

/** A graph input/output. A string dimension is symbolic (dim_param), a number is fixed (dim_value). */
export interface ValueInfo {
  name: string;
  elemType: TensorDataType;
  shape: readonly (number | string)[];
}

export interface GraphDef {
  name: string;
  nodes: readonly NodeDef[];
  initializers: readonly TensorInit[];
  inputs: readonly ValueInfo[];
  outputs: readonly ValueInfo[];
  valueInfo?: readonly ValueInfo[];
}

export interface OpsetImport {
  domain: string;
  version: number;
}

export interface ModelDef {
  irVersion: number;
  producerName: string;
  producerVersion?: string;
  opsetImports: readonly OpsetImport[];
  graph: GraphDef;
}

// onnx.proto TensorProto.DataType
const DATA_TYPE_CODE: Record<TensorDataType, number> = { float32: 1, int32: 6, int64: 7, float16: 10 };

/** The TensorProto.DataType number, as Cast's `to` and RandomNormalLike's `dtype` attributes take it. */
export function dataTypeCode(type: TensorDataType): number {
  return DATA_TYPE_CODE[type];
}
// onnx.proto AttributeProto.AttributeType
const ATTR_TYPE_CODE: Record<AttrValue['type'], number> = {
  float: 1,
  int: 2,
  string: 3,
  tensor: 4,
  floats: 6,
  ints: 7,
};
const DATA_LOCATION_EXTERNAL = 1;

/** Where a tensor's bytes live in the external data file. */
interface ExternalLocation {
  location: string;
  offset: number;
  length: number;
}

type Placement = (tensor: TensorInit, byteLength: number) => ExternalLocation | undefined;

const ELEMENT_BYTES: Record<TensorDataType, number> = { float32: 4, float16: 2, int32: 4, int64: 8 };

/** The size of a tensor's raw_data, known from its dims without loading it. */
export function tensorByteLength(tensor: TensorInit): number {
  return tensor.dims.reduce((n, d) => n * d, 1) * ELEMENT_BYTES[tensor.dataType];
}

/** Encodes the whole model, all tensors inline. */
export function encodeModel(model: ModelDef): Uint8Array {
  return encodeModelProto(model, () => undefined).finish();
}

export interface ExternalDataOptions {
  /** File name recorded in the model, relative to the model file (diffusers uses `weights.pb`). */
  location: string;
  /** Initializers of at least this many bytes go to the side file, smaller ones stay inline (onnx's default: 1024). */
  threshold?: number;
}

export interface EncodedWithExternalData {
  model: Uint8Array;
  /** The side file's content, in order; kept as chunks so no single huge array is needed. */
  externalData: Uint8Array[];
  externalDataLength: number;
}

interface PlannedModel {
  proto: ProtoWriter;
  /** The tensors of the side file, in file order. */
  external: TensorInit[];
  externalDataLength: number;
}

/** Lays the model out with large initializers moved to one side file, as onnx's `save_as_external_data` does. */
function planWithExternalData(model: ModelDef, opts: ExternalDataOptions): PlannedModel {
  const threshold = opts.threshold ?? 1024;
  const external: TensorInit[] = [];
  let offset = 0;
  const proto = encodeModelProto(model, (tensor, byteLength) => {
    if (byteLength < threshold) return undefined;
    const placed = { location: opts.location, offset, length: byteLength };
    external.push(tensor);
    offset += byteLength;
    return placed;
  });
  return { proto, external, externalDataLength: offset };
}

/** Encodes the model with large initializers moved to one side file (everything in memory; see writeModel). */
export function encodeModelWithExternalData(model: ModelDef, opts: ExternalDataOptions): EncodedWithExternalData {
  const plan = planWithExternalData(model, opts);
  return {
    model: plan.proto.finish(),
    externalData: plan.external.map((t) => tensorBytes(t)),
    externalDataLength: plan.externalDataLength,
  };
}

export interface WriteModelOptions {
  /** When set, large initializers are written to this file (next to the model) instead of inline. */
  externalDataFile?: string;
  externalThreshold?: number;
}

export interface WrittenModel {
  modelBytes: number;
  externalDataBytes: number;
}

/**
 * Writes `model` to `path` (and its external data file when asked). The directory must exist.
 * Streams: lazy initializers are loaded one at a time, written, and released, so peak memory is about one tensor
 * (plus the graph), whatever the model's size.
 */
export async function writeModel(path: string, model: ModelDef, opts: WriteModelOptions = {}): Promise<WrittenModel> {
  if (!opts.externalDataFile) {
    const proto = encodeModelProto(model, () => undefined);
    const modelBytes = await writeChunks(path, proto.chunks().map((c) => () => resolveChunk(c)));
    return { modelBytes, externalDataBytes: 0 };
  }
  if (basename(opts.externalDataFile) !== opts.externalDataFile) {
    throw new Error(`externalDataFile must be a bare file name, got "${opts.externalDataFile}"`);
  }
  const plan = planWithExternalData(model, { location: opts.externalDataFile, threshold: opts.externalThreshold });
  const externalDataBytes = await writeChunks(
    join(dirname(path), opts.externalDataFile),
    plan.external.map((t) => () => tensorBytes(t)),
  );
  if (externalDataBytes !== plan.externalDataLength) {
    throw new Error(`external data is ${externalDataBytes} bytes, ${plan.externalDataLength} were planned`);
  }
  const modelBytes = await writeChunks(path, plan.proto.chunks().map((c) => () => resolveChunk(c)));
  return { modelBytes, externalDataBytes };
}

/** Writes the pieces in order, loading each only when its turn comes; small pieces are batched. */
async function writeChunks(path: string, pieces: readonly (() => Uint8Array)[]): Promise<number> {
  const file = await open(path, 'w');
  try {
    const out = new BufferedWriter(file);
    for (const piece of pieces) await out.write(piece());
    await out.flush();
    return out.written;
  } finally {
    await file.close();
  }
}

class BufferedWriter {
  private static readonly SIZE = 1 << 20;
  private readonly buffer = new Uint8Array(BufferedWriter.SIZE);
  private used = 0;
  written = 0;

  constructor(private readonly file: FileHandle) {}

  async write(bytes: Uint8Array): Promise<void> {
    const large = bytes.length >= BufferedWriter.SIZE / 2;
    if (large || this.used + bytes.length > BufferedWriter.SIZE) await this.flush();
    if (large) {
      await this.writeAll(bytes);
      return;
    }
    this.buffer.set(bytes, this.used);
    this.used += bytes.length;
  }

  async flush(): Promise<void> {
    if (this.used === 0) return;
    await this.writeAll(this.buffer.subarray(0, this.used));
    this.used = 0;
  }

  private async writeAll(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) {
      const { bytesWritten } = await this.file.write(bytes, offset, bytes.length - offset);
      offset += bytesWritten;
    }
    this.written += bytes.length;
  }
}

function encodeModelProto(model: ModelDef, place: Placement): ProtoWriter {
  const w = new ProtoWriter();
  w.varint(1, model.irVersion);
  w.string(2, model.producerName);
  if (model.producerVersion) w.string(3, model.producerVersion);
  w.message(7, (g) => writeGraph(g, model.graph, place));
  for (const opset of model.opsetImports) {
    w.message(8, (o) => {
      if (opset.domain) o.string(1, opset.domain);
      o.varint(2, opset.version);
    });
  }
  return w;
}

function writeGraph(w: ProtoWriter, graph: GraphDef, place: Placement): void {
  for (const node of graph.nodes) w.message(1, (n) => writeNode(n, node));
  w.string(2, graph.name);
  for (const tensor of graph.initializers) w.message(5, (t) => writeTensor(t, tensor, place));
  for (const info of graph.inputs) w.message(11, (v) => writeValueInfo(v, info));
  for (const info of graph.outputs) w.message(12, (v) => writeValueInfo(v, info));
  for (const info of graph.valueInfo ?? []) w.message(13, (v) => writeValueInfo(v, info));
}

function writeNode(w: ProtoWriter, node: NodeDef): void {
  for (const input of node.inputs) w.string(1, input);
  for (const output of node.outputs) w.string(2, output);
  if (node.name) w.string(3, node.name);
  w.string(4, node.opType);
  for (const [name, value] of Object.entries(node.attributes ?? {})) {
    w.message(5, (a) => writeAttribute(a, name, value));
  }
  if (node.domain) w.string(7, node.domain);
}

function writeAttribute(w: ProtoWriter, name: string, attribute: AttrValue): void {
  w.string(1, name);
  switch (attribute.type) {
    case 'float':
      w.float(2, attribute.value);
      break;
    case 'int':
      w.varint(3, checkedInt(name, attribute.value));
      break;
    case 'string':
      w.string(4, attribute.value);
      break;
    case 'tensor':
      w.message(5, (t) => writeTensor(t, attribute.value, () => undefined));
      break;
    case 'floats':
      // onnx.proto is proto2 without [packed=true] here, so each element is its own field (parsers accept both).
      for (const v of attribute.value) w.float(7, v);
      break;
    case 'ints':
      for (const v of attribute.value) w.varint(8, checkedInt(name, v));
      break;
  }
  w.varint(20, ATTR_TYPE_CODE[attribute.type]);
}

function writeTensor(w: ProtoWriter, tensor: TensorInit, place: Placement): void {
  const byteLength = tensorByteLength(tensor);
  for (const d of tensor.dims) w.varint(1, d);
  w.varint(2, DATA_TYPE_CODE[tensor.dataType]);
  w.string(8, tensor.name);
  const external = place(tensor, byteLength);
  if (!external) {
    if (typeof tensor.data === 'function') w.lazyBytes(9, byteLength, () => tensorBytes(tensor));
    else w.bytes(9, tensorBytes(tensor));
    return;
  }
  const entries: [string, string][] = [
    ['location', external.location],
    ['offset', String(external.offset)],
    ['length', String(external.length)],
  ];
  for (const [key, value] of entries) {
    w.message(13, (e) => e.string(1, key).string(2, value));
  }
  w.varint(14, DATA_LOCATION_EXTERNAL);
}

function writeValueInfo(w: ProtoWriter, info: ValueInfo): void {
  w.string(1, info.name);
  w.message(2, (type) =>
    type.message(1, (tensorType) => {
      tensorType.varint(1, DATA_TYPE_CODE[info.elemType]);
      tensorType.message(2, (shape) => {
        for (const dim of info.shape) {
          shape.message(1, (d) => (typeof dim === 'number' ? d.varint(1, dim) : d.string(2, dim)));
        }
      });
    }),
  );
}

const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The values of a tensor, loading a lazy one. */
export function tensorValues(tensor: TensorInit): TensorData {
  return typeof tensor.data === 'function' ? tensor.data() : tensor.data;
}

/** The tensor's raw_data: little-endian, as ONNX requires regardless of the host. */
function tensorBytes(tensor: TensorInit): Uint8Array {
  const data = tensorValues(tensor);
  const count = tensor.dims.reduce((n, d) => n * d, 1);
  if (data.length !== count) {
    throw new Error(`tensor ${tensor.name}: ${data.length} values for dims [${tensor.dims.join(', ')}]`);
  }
  const expected = { float32: Float32Array, float16: Uint16Array, int32: Int32Array, int64: BigInt64Array }[tensor.dataType];
  if (!(data instanceof expected)) {
    throw new Error(`tensor ${tensor.name}: data is not a ${expected.name} for type ${tensor.dataType}`);
  }
  const { buffer, byteOffset, byteLength } = data;
  if (HOST_IS_LITTLE_ENDIAN) return new Uint8Array(buffer, byteOffset, byteLength);
  const out = new Uint8Array(byteLength);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) {
    if (data instanceof Float32Array) view.setFloat32(i * 4, data[i], true);
    else if (data instanceof Uint16Array) view.setUint16(i * 2, data[i], true);
    else if (data instanceof Int32Array) view.setInt32(i * 4, data[i], true);
    else view.setBigInt64(i * 8, data[i], true);
  }
  return out;
}

function checkedInt(name: string, value: number): number {
  if (!Number.isSafeInteger(value)) {
    throw new Error(`attribute ${name}: ${value} is not an integer (use attr.float / attr.floats for floats)`);
  }
  return value;
}
