// The .safetensors reader (header parsing, lazy ranged reads, dtype conversion, corrupt files) and the streaming
// ONNX writer (lazy tensors, inline and external data in the right order, read back by onnxruntime).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { SafetensorsFile, toFloat32 } from '../../server/src/convert/safetensors.js';
import { GraphBuilder } from '../../server/src/convert/graph-builder.js';
import { encodeModel, writeModel } from '../../server/src/convert/onnx-proto.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'easel-convert-st-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface RawTensor {
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
}

/** Writes a .safetensors file: u64 header length, JSON header, then the tensors' bytes in order. */
function safetensorsBytes(tensors: Record<string, RawTensor>, metadata?: Record<string, string>): Buffer {
  const header: Record<string, unknown> = metadata ? { __metadata__: metadata } : {};
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
    offset += t.bytes.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8); // the format pads the header to 8 bytes
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([length, Buffer.from(json), ...Object.values(tensors).map((t) => Buffer.from(t.bytes))]);
}

const u16 = (...bits: number[]) => new Uint8Array(Uint16Array.from(bits).buffer);

test('reads F32, F16, BF16 and F64 tensors as float32, with metadata and ranged reads', async () => {
  const path = join(dir, 'small.safetensors');
  const f32 = Float32Array.from([0.1, -2, 3.5, 1e-8, 7, 8]);
  await writeFile(
    path,
    safetensorsBytes(
      {
        'a.weight': { dtype: 'F32', shape: [2, 3], bytes: new Uint8Array(f32.buffer) },
        // 1, -2, 0.5, 65504 (max), 2^-24 (smallest subnormal), -0, +Inf, NaN
        half: { dtype: 'F16', shape: [8], bytes: u16(0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0x8000, 0x7c00, 0x7e00) },
        brain: { dtype: 'BF16', shape: [3], bytes: u16(0x3f80, 0xc040, 0x4049) },
        double: { dtype: 'F64', shape: [2], bytes: new Uint8Array(Float64Array.from([1.5, -1e-3]).buffer) },
        ids: { dtype: 'I64', shape: [1], bytes: new Uint8Array(8) },
        scalar: { dtype: 'F16', shape: [], bytes: u16(0x4000) },
      },
      { format: 'pt' },
    ),
  );
  const file = SafetensorsFile.open(path);
  try {
    assert.deepEqual(file.names(), ['a.weight', 'half', 'brain', 'double', 'ids', 'scalar']);
    assert.deepEqual(file.metadata, { format: 'pt' });
    assert.deepEqual(file.entry('a.weight').shape, [2, 3]);
    assert.deepEqual(file.readFloat32('a.weight'), f32);
    assert.deepEqual(file.readFloat32('a.weight', 3, 3), f32.subarray(3)); // the second row only
    assert.deepEqual([...file.readFloat32('half')], [1, -2, 0.5, 65504, 2 ** -24, -0, Infinity, NaN]);
    assert.deepEqual([...file.readFloat32('brain')], [1, -3, 3.140625]);
    assert.deepEqual([...file.readFloat32('double')], [1.5, Math.fround(-1e-3)]);
    assert.deepEqual([...file.readFloat32('scalar')], [2]);
    assert.throws(() => file.readFloat32('ids'), /I64; only F32, F16, BF16 and F64/);
    assert.throws(() => file.readFloat32('missing'), /no tensor "missing"/);
    assert.throws(() => file.readFloat32('half', 6, 4), /outside "half"/);
  } finally {
    file.close();
  }
});

test('float16 conversion covers every normal value exactly', () => {
  // Every finite half is exactly representable in float32: spot-check by re-deriving a few by formula.
  const bits = [0x0000, 0x03ff, 0x0400, 0x3555, 0x7bfe, 0xfbff];
  const got = toFloat32(u16(...bits), 'F16');
  const expected = [0, 1023 * 2 ** -24, 2 ** -14, (1 + 0x155 / 1024) * 2 ** -2, (1 + 1022 / 1024) * 2 ** 15, -65504];
  assert.deepEqual([...got], expected);
});

test('corrupt or foreign files are refused with a reason', async () => {
  const cases: [string, Buffer, RegExp][] = [
    ['tiny', Buffer.from([1, 2, 3]), /only 3 bytes/],
    ['huge-header', Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]), Buffer.alloc(16)]), /header length/],
    ['not-json', Buffer.concat([Buffer.from([4, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('nope')]), /not JSON/],
    [
      'truncated',
      safetensorsBytes({ t: { dtype: 'F32', shape: [4], bytes: new Uint8Array(16) } }).subarray(0, -4),
      /past the end of the file/,
    ],
    [
      'bad-length',
      (() => {
        const json = JSON.stringify({ t: { dtype: 'F32', shape: [4], data_offsets: [0, 12] } });
        const len = Buffer.alloc(8);
        len.writeBigUInt64LE(BigInt(json.length));
        return Buffer.concat([len, Buffer.from(json), Buffer.alloc(12)]);
      })(),
      /spans 12 bytes, its shape needs 16/,
    ],
  ];
  for (const [name, bytes, message] of cases) {
    const path = join(dir, `${name}.safetensors`);
    await writeFile(path, bytes);
    assert.throws(() => SafetensorsFile.open(path), message, name);
  }
});

test('writeModel streams lazy tensors, inline and external, in order (read back by onnxruntime)', async () => {
  // Sizes straddle the writer's internal buffering (small, under and over half a MiB, several MiB).
  const sizes = [3, 300, 100_000, 140_000, 2_000_000, 5, 600_000];
  const build = () => {
    const b = new GraphBuilder('order');
    const loads: string[] = [];
    sizes.forEach((n, i) => {
      const values = Float32Array.from({ length: n }, (_, j) => i * 1000 + (j % 997));
      const init = b.lazyInitializer(`w${i}`, [n], 'float32', () => {
        loads.push(`w${i}`);
        return values;
      });
      b.output(`out${i}`, 'float32', [n], init);
    });
    return { model: b.build(), loads };
  };
  for (const external of [false, true]) {
    const path = join(dir, `order-${external}.onnx`);
    const { model, loads } = build();
    const written = await writeModel(path, model, external ? { externalDataFile: 'weights.pb' } : {});
    // External tensors (≥ 1 KiB) are loaded while weights.pb is written, the inline ones with the graph after it.
    const order = sizes.map((_, i) => `w${i}`);
    const expected = external ? [...order.filter((_, i) => sizes[i] * 4 >= 1024), ...order.filter((_, i) => sizes[i] * 4 < 1024)] : order;
    assert.deepEqual(loads, expected, 'each tensor loaded exactly once, in file order');
    assert.equal(written.externalDataBytes > 0, external);
    if (!external) {
      const { readFile } = await import('node:fs/promises');
      assert.ok((await readFile(path)).equals(encodeModel(build().model)), 'streamed bytes equal the in-memory encoding');
    }
    const session = await ort.InferenceSession.create(path);
    try {
      const out = await session.run({});
      sizes.forEach((n, i) => {
        const data = out[`out${i}`].data as Float32Array;
        assert.equal(data.length, n);
        for (const j of [0, 1, Math.floor(n / 2), n - 1]) assert.equal(data[j], i * 1000 + (j % 997), `w${i}[${j}]`);
      });
    } finally {
      await session.release();
    }
  }
});
