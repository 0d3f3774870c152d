// A reader for .safetensors files (https://github.com/huggingface/safetensors): an 8-byte little-endian header
// length, a JSON header {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {…}}, then the raw
// little-endian tensor bytes. Only the header is read up front; each tensor is read by its byte range when asked
// for, so multi-GB checkpoints are never held in memory whole.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { fromFloat16Bytes } from '../pipeline/onnx/float16.js';

export type SafetensorsDtype =
  | 'F64' | 'F32' | 'F16' | 'BF16' | 'F8_E4M3' | 'F8_E5M2'
  | 'I64' | 'I32' | 'I16' | 'I8' | 'U64' | 'U32' | 'U16' | 'U8' | 'BOOL';

const DTYPE_BYTES: Record<SafetensorsDtype, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, F8_E4M3: 1, F8_E5M2: 1,
  I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
};

/** Dtypes readFloat32 converts. */
const FLOAT_DTYPES = new Set<SafetensorsDtype>(['F64', 'F32', 'F16', 'BF16']);

/** Headers larger than this are refused (the format's reference implementation uses the same 100 MB cap). */
const MAX_HEADER_BYTES = 100_000_000;
/** Reads larger tensors in pieces (a single fs read is limited to 2 GB). */
const READ_CHUNK_BYTES = 1 << 30;

export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: readonly number[];
  /** Absolute position of the first byte in the file. */
  offset: number;
  byteLength: number;
}

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

export class SafetensorsFile {
  private fd: number | undefined;

  private constructor(
    readonly path: string,
    fd: number,
    private readonly entries: ReadonlyMap<string, SafetensorsEntry>,
    /** The header's free-form `__metadata__` strings. */
    readonly metadata: Readonly<Record<string, string>>,
  ) {
    this.fd = fd;
  }

  /** Opens the file and parses its header; tensors are read later, on demand. Call close() when done. */
  static open(path: string): SafetensorsFile {
    const fd = openSync(path, 'r');
    try {
      const fileSize = fstatSync(fd).size;
      const fail = (why: string) => new SafetensorsError(`${path}: not a valid .safetensors file: ${why}`);
      if (fileSize < 8) throw fail(`only ${fileSize} bytes`);
      const lengthBytes = Buffer.alloc(8);
      readFully(fd, lengthBytes, 0);
      const headerLength = lengthBytes.readBigUInt64LE(0);
      if (headerLength > BigInt(Math.min(MAX_HEADER_BYTES, fileSize - 8))) {
        throw fail(`header length ${headerLength} exceeds the file (${fileSize} bytes) or the 100 MB limit`);
      }
      const headerBytes = Buffer.alloc(Number(headerLength));
      readFully(fd, headerBytes, 8);
      let header: unknown;
      try {
        header = JSON.parse(headerBytes.toString('utf8'));
      } catch (err) {
        throw fail(`header is not JSON (${(err as Error).message})`);
      }
      if (!isRecord(header)) throw fail('header is not a JSON object');
      const dataStart = 8 + Number(headerLength);
      const entries = new Map<string, SafetensorsEntry>();
      let metadata: Record<string, string> = {};
      for (const [name, value] of Object.entries(header)) {
        if (name === '__metadata__') {
          if (isRecord(value)) metadata = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v)]));
          continue;
        }
        entries.set(name, parseEntry(name, value, dataStart, fileSize, fail));
      }
      return new SafetensorsFile(path, fd, entries, metadata);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  /** Tensor names, in header order. */
  names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  entry(name: string): SafetensorsEntry {
    const entry = this.entries.get(name);
    if (!entry) throw new SafetensorsError(`${this.path}: no tensor "${name}"`);
    return entry;
  }

  /** The raw little-endian bytes of a tensor (or of `count` elements from element `start`). */
  readBytes(name: string, start = 0, count?: number): Uint8Array {
    const entry = this.entry(name);
    const size = DTYPE_BYTES[entry.dtype];
    const total = entry.byteLength / size;
    const n = count ?? total - start;
    if (start < 0 || n < 0 || start + n > total) {
      throw new SafetensorsError(`${this.path}: elements [${start}, ${start + n}) are outside "${name}" (${total})`);
    }
    const out = new Uint8Array(n * size);
    readFully(this.openFd(), out, entry.offset + start * size);
    return out;
  }

  /** A float tensor (F32/F16/BF16/F64) as float32, optionally only `count` elements from element `start`. */
  readFloat32(name: string, start = 0, count?: number): Float32Array {
    const { dtype } = this.entry(name);
    if (!FLOAT_DTYPES.has(dtype)) {
      throw new SafetensorsError(`${this.path}: "${name}" is ${dtype}; only F32, F16, BF16 and F64 convert to float32`);
    }
    return toFloat32(this.readBytes(name, start, count), dtype);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private openFd(): number {
    if (this.fd === undefined) throw new SafetensorsError(`${this.path}: file is closed`);
    return this.fd;
  }
}

function parseEntry(
  name: string,
  value: unknown,
  dataStart: number,
  fileSize: number,
  fail: (why: string) => Error,
): SafetensorsEntry {
  if (!isRecord(value)) throw fail(`entry "${name}" is not an object`);
  const { dtype, shape, data_offsets: offsets } = value;
  if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) throw fail(`"${name}" has unknown dtype ${String(dtype)}`);
  const isDim = (d: unknown) => Number.isSafeInteger(d) && (d as number) >= 0;
  if (!Array.isArray(shape) || !shape.every(isDim)) throw fail(`"${name}" has an invalid shape`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isDim)) {
    throw fail(`"${name}" has invalid data_offsets`);
  }
  const [begin, end] = offsets as number[];
  const count = (shape as number[]).reduce((n, d) => n * d, 1);
  const byteLength = count * DTYPE_BYTES[dtype as SafetensorsDtype];
  if (end - begin !== byteLength) throw fail(`"${name}" spans ${end - begin} bytes, its shape needs ${byteLength}`);
  if (dataStart + end > fileSize) throw fail(`"${name}" ends past the end of the file (truncated download?)`);
  return { name, dtype: dtype as SafetensorsDtype, shape: shape as number[], offset: dataStart + begin, byteLength };
}

function readFully(fd: number, into: Uint8Array, position: number): void {
  let done = 0;
  while (done < into.length) {
    const want = Math.min(into.length - done, READ_CHUNK_BYTES);
    const got = readSync(fd, into, done, want, position + done);
    if (got === 0) throw new SafetensorsError(`unexpected end of file at byte ${position + done}`);
    done += got;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Little-endian raw bytes of `dtype` → float32 values. */
export function toFloat32(bytes: Uint8Array, dtype: 'F32' | 'F16' | 'BF16' | 'F64' | SafetensorsDtype): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'F32': {
      if (HOST_IS_LITTLE_ENDIAN && bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
      const out = new Float32Array(bytes.length / 4);
      for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
      return out;
    }
    case 'F16':
      return fromFloat16Bytes(bytes);
    case 'BF16': {
      // bfloat16 is the top half of a float32.
      const bits = new Uint32Array(bytes.length / 2);
      for (let i = 0; i < bits.length; i++) bits[i] = ((bytes[2 * i] | (bytes[2 * i + 1] << 8)) << 16) >>> 0;
      return new Float32Array(bits.buffer);
    }
    case 'F64': {
      const out = new Float32Array(bytes.length / 8);
      for (let i = 0; i < out.length; i++) out[i] = view.getFloat64(i * 8, true);
      return out;
    }
    default:
      throw new SafetensorsError(`cannot convert ${dtype} to float32`);
  }
}
