// float32 ⇄ IEEE half conversion (pipeline/onnx/float16.ts): what the fp16 ONNX writer stores, what fp16 model I/O
// is fed and returns, and how float16 checkpoints are read. Known bit patterns, round-to-nearest-even at every
// kind of tie, overflow, subnormals, and a round trip over every half value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromFloat16Bits, fromFloat16Bytes, toFloat16Bits } from '../../server/src/pipeline/onnx/float16.js';

const bits = (...values: number[]) => [...toFloat16Bits(Float32Array.from(values))];
const hex = (xs: number[]) => xs.map((x) => `0x${x.toString(16).padStart(4, '0')}`);

test('exact values get their IEEE half bit patterns', () => {
  assert.deepEqual(
    hex(bits(0, -0, 1, -2, 0.5, 65504, -65504, 2 ** -14, 1 / 3, Math.PI, 0.1)),
    hex([0x0000, 0x8000, 0x3c00, 0xc000, 0x3800, 0x7bff, 0xfbff, 0x0400, 0x3555, 0x4248, 0x2e66]),
  );
});

test('rounding is to nearest, ties to the even mantissa', () => {
  const ulp = 2 ** -10; // spacing of halves in [1, 2)
  assert.deepEqual(
    hex(bits(1 + ulp / 2, 1 + (3 * ulp) / 2, 1 + ulp / 2 + 2 ** -20, 1 + ulp / 2 - 2 ** -20, 2 - ulp / 4, 2 - ulp)),
    // tie → 1 (even); tie → 1 + 2 ulp (even); just above the tie → up; just below → down; the carry into the
    // exponent (2 − ulp/4 rounds to 2); 2 − ulp itself is exact
    hex([0x3c00, 0x3c02, 0x3c01, 0x3c00, 0x4000, 0x3fff]),
  );
});

test('overflow goes to infinity at the rounding threshold, NaN stays NaN', () => {
  // Halves near the top are 32 apart: 65519 rounds down to 65504, 65520 is the tie and rounds (to even) to infinity.
  assert.deepEqual(hex(bits(65519, 65520, 1e6, -1e6, Infinity, -Infinity)), hex([0x7bff, 0x7c00, 0x7c00, 0xfc00, 0x7c00, 0xfc00]));
  const [nan] = bits(NaN);
  assert.equal(nan! & 0x7c00, 0x7c00);
  assert.notEqual(nan! & 0x3ff, 0, 'a NaN keeps a mantissa bit');
  assert.ok(Number.isNaN(fromFloat16Bits(Uint16Array.of(nan!))[0]));
});

test('tiny values become subnormals, rounded the same way, or signed zero', () => {
  const unit = 2 ** -24; // the smallest subnormal
  assert.deepEqual(
    hex(bits(unit, -unit, unit / 2, unit * 0.75, unit * 1.5, unit * 2.5, 2 ** -14 - unit, 1e-8, -1e-8)),
    // 1 unit; −1 unit; tie with 0 → 0 (even); → 1; tie 1|2 → 2; tie 2|3 → 2; largest subnormal; below half a unit → ±0
    hex([0x0001, 0x8001, 0x0000, 0x0001, 0x0002, 0x0002, 0x03ff, 0x0000, 0x8000]),
  );
  assert.deepEqual([...fromFloat16Bits(Uint16Array.of(0x0001, 0x03ff, 0x8001))], [unit, 2 ** -14 - unit, -unit]);
});

test('every half value survives half → float32 → half, also from unaligned little-endian bytes', () => {
  const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
  const values = fromFloat16Bits(all);
  const back = toFloat16Bits(values);
  for (let h = 0; h < 65536; h++) {
    if (Number.isNaN(values[h])) continue;
    if (back[h] !== h) assert.fail(`0x${h.toString(16)} → ${values[h]} → 0x${back[h]!.toString(16)}`);
  }
  const bytes = new Uint8Array(7);
  bytes.set([0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b], 1); // 1, -2, 65504 starting at an odd offset
  assert.deepEqual([...fromFloat16Bytes(bytes.subarray(1))], [1, -2, 65504]);
});
