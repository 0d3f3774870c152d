// Which range a TAESD decoder file outputs, told from its graph: diffusers' DecoderTiny ends with x·2 − 1 (a Mul
// then a Sub, or an Add of −1) and gives [-1, 1]; taesd.py's raw Decoder ends with its last Conv (or a Clip to
// [0, 1] some exporters add) and gives [0, 1]. Only the graph's nodes and outputs are read, with a minimal
// protobuf walk (field numbers from onnx.proto), so a 5 MB file is scanned in milliseconds.
import { readFile } from 'node:fs/promises';
import type { TaesdOutputRange } from '../../convert/taesd.js';

// Field numbers of onnx.proto.
const FIELD = {
  model: { graph: 7 },
  graph: { node: 1, output: 12 },
  node: { input: 1, output: 2, opType: 4 },
  valueInfo: { name: 1 },
} as const;

interface GraphTail {
  /** Each value's producing node (op type and inputs), by the value's name. */
  producers: Map<string, { opType: string; inputs: string[] }>;
  outputs: string[];
}

/** The range the file's first output is in, or undefined when its last op says neither. */
export async function detectOutputRange(path: string): Promise<TaesdOutputRange | undefined> {
  return outputRangeOf(readGraphTail(await readFile(path)));
}

export function outputRangeOf(graph: GraphTail): TaesdOutputRange | undefined {
  let value = graph.outputs[0];
  for (let hops = 0; value !== undefined && hops < 8; hops++) {
    const node = graph.producers.get(value);
    if (!node) return undefined;
    if (node.opType === 'Sub' || node.opType === 'Add') return '[-1,1]';
    if (node.opType === 'Conv' || node.opType === 'Clip') return '[0,1]';
    if (node.opType !== 'Identity' && node.opType !== 'Cast') return undefined;
    value = node.inputs[0];
  }
  return undefined;
}

export function readGraphTail(bytes: Uint8Array): GraphTail {
  const graph = fields(bytes).find((f) => f.field === FIELD.model.graph)?.bytes;
  if (!graph) throw new Error('not an ONNX model: no graph');
  const tail: GraphTail = { producers: new Map(), outputs: [] };
  for (const f of fields(graph)) {
    if (f.field === FIELD.graph.node && f.bytes) {
      const inputs: string[] = [];
      const outputs: string[] = [];
      let opType = '';
      for (const n of fields(f.bytes)) {
        if (!n.bytes) continue;
        if (n.field === FIELD.node.input) inputs.push(text(n.bytes));
        else if (n.field === FIELD.node.output) outputs.push(text(n.bytes));
        else if (n.field === FIELD.node.opType) opType = text(n.bytes);
      }
      for (const out of outputs) tail.producers.set(out, { opType, inputs });
    } else if (f.field === FIELD.graph.output && f.bytes) {
      const name = fields(f.bytes).find((v) => v.field === FIELD.valueInfo.name)?.bytes;
      if (name) tail.outputs.push(text(name));
    }
  }
  return tail;
}

interface Field {
  field: number;
  /** Length-delimited payloads only (sub-messages, strings, bytes); other wire types are skipped. */
  bytes?: Uint8Array;
}

/** The top-level fields of one protobuf message. */
function fields(buf: Uint8Array): Field[] {
  const out: Field[] = [];
  let pos = 0;
  const varint = (): number => {
    let value = 0;
    let scale = 1;
    for (;;) {
      if (pos >= buf.length) throw new Error('truncated protobuf');
      const byte = buf[pos++]!;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
  };
  while (pos < buf.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    switch (key & 7) {
      case 0:
        varint();
        out.push({ field });
        break;
      case 1:
        pos += 8;
        break;
      case 2: {
        const length = varint();
        if (pos + length > buf.length) throw new Error('truncated protobuf');
        out.push({ field, bytes: buf.subarray(pos, pos + length) });
        pos += length;
        break;
      }
      case 5:
        pos += 4;
        break;
      default:
        throw new Error(`unsupported protobuf wire type ${key & 7}`);
    }
  }
  return out;
}

const decoder = new TextDecoder();
const text = (bytes: Uint8Array): string => decoder.decode(bytes);
