// float32 ⇄ IEEE 754 half conversion on Uint16Array bits: onnxruntime-node takes float16 tensors as Uint16Array,
// Node 20 has no Float16Array, safetensors checkpoints and Easel's fp16 ONNX initializers store the same bits.
// One copy for the whole server: the session's I/O, the checkpoint reader and the ONNX writer all use it.
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 → half bits, rounding to nearest even; overflow → ±Inf, tiny values → subnormals or ±0, NaN stays NaN. */
export function toFloat16Bits(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    f32[0] = values[i] as number;
    const x = u32[0] as number;
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    let mant = x & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (mant ? 0x200 : 0);
      continue;
    }
    const e = exp - 127 + 15;
    if (e >= 0x1f) {
      out[i] = sign | 0x7c00;
    } else if (e <= 0) {
      if (e < -10) {
        out[i] = sign;
      } else {
        mant |= 0x800000;
        const shift = 14 - e;
        let half = mant >> shift;
        const rest = mant & ((1 << shift) - 1);
        const halfway = 1 << (shift - 1);
        if (rest > halfway || (rest === halfway && half & 1)) half++;
        out[i] = sign | half;
      }
    } else {
      let half = (e << 10) | (mant >> 13);
      const rest = mant & 0x1fff;
      if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++; // round to nearest even; may carry into exp
      out[i] = sign | half;
    }
  }
  return out;
}

let table: Float32Array | undefined;

/** The float32 value of every half bit pattern (subnormals, ±Inf and NaN included), built once. */
function halfTable(): Float32Array {
  if (table) return table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) t[h] = sign * mant * 2 ** -24;
    else if (exp === 0x1f) t[h] = mant ? NaN : sign * Infinity;
    else t[h] = sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  table = t;
  return t;
}

/** Half bits → float32 values (exact: every half is a float32). */
export function fromFloat16Bits(bits: Uint16Array): Float32Array {
  const t = halfTable();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = t[bits[i] as number] as number;
  return out;
}

/** Little-endian half bytes → float32 values (any byte offset, any host). */
export function fromFloat16Bytes(bytes: Uint8Array): Float32Array {
  const t = halfTable();
  const out = new Float32Array(bytes.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = t[(bytes[2 * i] as number) | ((bytes[2 * i + 1] as number) << 8)] as number;
  return out;
}
