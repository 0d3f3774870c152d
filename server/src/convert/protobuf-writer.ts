// A minimal protocol-buffers wire-format writer: just what ONNX's ModelProto needs.
// Nested messages are kept as lists of chunks (not concatenated) until `finish()`, so a large raw_data
// blob is copied once, not once per nesting level (tensor → graph → model). A length-delimited field whose
// size is known up front can be *deferred* (`lazyBytes`): only its length is recorded, and its bytes are produced
// when the message is written out chunk by chunk (`chunks()`), so a multi-GB model never sits in memory whole.

const WIRE_VARINT = 0;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_FIXED32 = 5;

const textEncoder = new TextEncoder();
const UINT64_MASK = (1n << 64n) - 1n;
/** Names and other short fields are copied into the scratch buffer rather than kept as separate chunks. */
const SMALL_BYTES = 256;

/** Bytes produced on demand while writing: `load()` must return exactly `length` bytes. */
export interface DeferredChunk {
  length: number;
  load: () => Uint8Array;
}

export type Chunk = Uint8Array | DeferredChunk;

/** The bytes of a chunk, loading a deferred one (and checking its promised length). */
export function resolveChunk(chunk: Chunk): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  const bytes = chunk.load();
  if (bytes.length !== chunk.length) {
    throw new Error(`deferred protobuf chunk produced ${bytes.length} bytes, ${chunk.length} were promised`);
  }
  return bytes;
}

export class ProtoWriter {
  private readonly parts: Chunk[] = [];
  /** Small scalar writes go here and are flushed as one chunk, to avoid thousands of tiny arrays. */
  private scratch: number[] = [];
  private size = 0;

  /** Total encoded size in bytes so far. */
  get length(): number {
    return this.size + this.scratch.length;
  }

  /** Writes an int32/int64/enum/bool field. Negative values take 10 bytes (two's complement), as protobuf requires. */
  varint(field: number, value: number | bigint): this {
    this.tag(field, WIRE_VARINT);
    this.rawVarint(value);
    return this;
  }

  /** Writes a `float` field (fixed32, little-endian). */
  float(field: number, value: number): this {
    this.tag(field, WIRE_FIXED32);
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setFloat32(0, value, true);
    this.scratch.push(...bytes);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, textEncoder.encode(value));
  }

  /** Writes a length-delimited field. Large arrays are referenced, not copied, until `finish()`. */
  bytes(field: number, value: Uint8Array): this {
    this.tag(field, WIRE_LENGTH_DELIMITED);
    this.rawVarint(value.length);
    if (value.length <= SMALL_BYTES) {
      for (const byte of value) this.scratch.push(byte);
    } else {
      this.pushChunk(value);
    }
    return this;
  }

  /** Writes a length-delimited field whose `length` bytes are produced by `load` only when written out. */
  lazyBytes(field: number, length: number, load: () => Uint8Array): this {
    this.tag(field, WIRE_LENGTH_DELIMITED);
    this.rawVarint(length);
    this.pushChunk({ length, load });
    return this;
  }

  /** Writes an embedded message built by `build` into a fresh writer. */
  message(field: number, build: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    build(inner);
    inner.flush();
    this.tag(field, WIRE_LENGTH_DELIMITED);
    this.rawVarint(inner.length);
    this.flush();
    for (const chunk of inner.parts) this.parts.push(chunk);
    this.size += inner.size;
    return this;
  }

  /** Everything written, in order, deferred chunks still unresolved: write them out one by one. */
  chunks(): readonly Chunk[] {
    this.flush();
    return this.parts;
  }

  /** Concatenates everything written into one array (resolving deferred chunks). */
  finish(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.size);
    let offset = 0;
    for (const chunk of this.parts) {
      out.set(resolveChunk(chunk), offset);
      offset += chunk.length;
    }
    return out;
  }

  private tag(field: number, wireType: number): void {
    if (!Number.isInteger(field) || field < 1) throw new Error(`invalid protobuf field number ${field}`);
    this.rawVarint(field * 8 + wireType);
  }

  private rawVarint(value: number | bigint): void {
    if (typeof value === 'number') {
      if (!Number.isSafeInteger(value)) throw new Error(`varint value ${value} is not a safe integer`);
      // Fast path: small non-negative numbers need no BigInt.
      if (value >= 0 && value < 2 ** 31) {
        let v = value;
        while (v >= 0x80) {
          this.scratch.push((v & 0x7f) | 0x80);
          v >>>= 7;
        }
        this.scratch.push(v);
        return;
      }
    }
    let v = BigInt(value) & UINT64_MASK;
    while (v >= 0x80n) {
      this.scratch.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.scratch.push(Number(v));
  }

  private pushChunk(chunk: Chunk): void {
    this.flush();
    this.parts.push(chunk);
    this.size += chunk.length;
  }

  private flush(): void {
    if (this.scratch.length === 0) return;
    this.parts.push(Uint8Array.from(this.scratch));
    this.size += this.scratch.length;
    this.scratch = [];
  }
}
