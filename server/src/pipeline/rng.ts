// PyTorch's CPU generator (MT19937 + torch.randn's float32 layout), so a seed gives the same initial noise as
// diffusers / A1111 with a CPU generator. The algorithm is spelled out in docs: interop.md §4.3.

const MT_N = 624;
const MT_M = 397;
const MATRIX_A = 0x9908b0df;
const UPPER_MASK = 0x80000000;
const LOWER_MASK = 0x7fffffff;

const TWO_POW_MINUS_24 = 2 ** -24;
const TWO_POW_MINUS_53 = 2 ** -53;
const TWO_POW_32 = 2 ** 32;
// torch's scalar path computes θ as float(double(2π)·u2); the float multiply by 2π would round differently.
const TWO_PI = 2 * Math.PI;

/** Below this many elements torch.randn uses the per-element double path instead of the 16-wide float fill. */
const FILL_BLOCK = 16;

const f32 = Math.fround;

export class TorchGenerator {
  private readonly state = new Uint32Array(MT_N);
  private index = MT_N;
  // The double-precision normal path produces values in pairs and keeps the second for the next scalar draw;
  // torch stores it in the generator, so it survives across randn calls until the next manual_seed.
  private cachedNormal: number | null = null;

  /** `seed` is reduced to its low 32 bits, as torch's manual_seed does (2**32 + 42 seeds like 42). */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new Error(`TorchGenerator seed must be a non-negative safe integer, got ${seed}`);
    }
    const state = this.state;
    state[0] = seed >>> 0;
    for (let j = 1; j < MT_N; j++) {
      const prev = state[j - 1];
      state[j] = (Math.imul(1812433253, prev ^ (prev >>> 30)) + j) >>> 0;
    }
    this.index = MT_N;
    this.cachedNormal = null;
  }

  /** One tempered 32-bit output of the Mersenne Twister. */
  nextUint32(): number {
    if (this.index >= MT_N) this.twist();
    let y = this.state[this.index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** Same values as `torch.randn(shape)` in float32 on CPU for a tensor of `count` elements. */
  randn(count: number): Float32Array {
    if (!Number.isInteger(count) || count < 0) throw new Error(`randn count must be a non-negative integer, got ${count}`);
    const out = new Float32Array(count);
    if (count >= FILL_BLOCK) this.fillNormal(out);
    else for (let i = 0; i < count; i++) out[i] = f32(this.nextDoubleNormal());
    return out;
  }

  private twist(): void {
    const state = this.state;
    for (let k = 0; k < MT_N; k++) {
      const y = (state[k] & UPPER_MASK) | (state[(k + 1) % MT_N] & LOWER_MASK);
      let next = state[(k + MT_M) % MT_N] ^ (y >>> 1);
      if (y & 1) next ^= MATRIX_A;
      state[k] = next >>> 0;
    }
    this.index = 0;
  }

  /** uniform_real_distribution<float>: keeps the low 24 bits, so the value is exact in float32. */
  private nextFloatUniform(): number {
    return (this.nextUint32() & 0xffffff) * TWO_POW_MINUS_24;
  }

  /** uniform_real_distribution<double>: 53 bits of a 64-bit draw made of two u32s, the first one high. */
  private nextDoubleUniform(): number {
    const hi = this.nextUint32();
    const lo = this.nextUint32();
    return ((hi & 0x1fffff) * TWO_POW_32 + lo) * TWO_POW_MINUS_53;
  }

  private nextDoubleNormal(): number {
    if (this.cachedNormal !== null) {
      const cached = this.cachedNormal;
      this.cachedNormal = null;
      return cached;
    }
    const u1 = this.nextDoubleUniform();
    const u2 = this.nextDoubleUniform();
    const radius = Math.sqrt(-2 * Math.log1p(-u2));
    const theta = TWO_PI * u1;
    this.cachedNormal = radius * Math.sin(theta);
    return radius * Math.cos(theta);
  }

  /** torch's normal_fill: uniforms everywhere, Box–Muller per block of 16, then a fresh tail block. */
  private fillNormal(data: Float32Array): void {
    const size = data.length;
    for (let i = 0; i < size; i++) data[i] = this.nextFloatUniform();
    for (let i = 0; i + FILL_BLOCK <= size; i += FILL_BLOCK) boxMuller16(data, i);
    if (size % FILL_BLOCK !== 0) {
      // torch redraws the last 16 slots (overlapping the final full block) rather than handling a short block.
      const start = size - FILL_BLOCK;
      for (let i = 0; i < FILL_BLOCK; i++) data[start + i] = this.nextFloatUniform();
      boxMuller16(data, start);
    }
  }
}

/** One normal_fill_16 block, rounding to float32 after every operation like the C++ float code. */
function boxMuller16(data: Float32Array, offset: number): void {
  for (let j = 0; j < 8; j++) {
    const u1 = f32(1 - data[offset + j]); // [0, 1) -> (0, 1] so the log stays finite
    const u2 = data[offset + j + 8];
    const radius = f32(Math.sqrt(f32(-2 * f32(Math.log(u1)))));
    const theta = f32(TWO_PI * u2);
    data[offset + j] = f32(radius * f32(Math.cos(theta)));
    data[offset + j + 8] = f32(radius * f32(Math.sin(theta)));
  }
}
