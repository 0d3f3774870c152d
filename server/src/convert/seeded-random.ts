// Deterministic random numbers for generated test weights: the same seed must give byte-identical models, so the
// stream is pure 32-bit integer arithmetic (no Math.random, no host state).

/** mulberry32: a tiny 32-bit PRNG, good enough for weights (not for cryptography). Returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a over the UTF-16 code units of `text`, mixed with `seed`. */
export function hashSeed(seed: number, text: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * Fills an array with normal samples (Box–Muller) times `std`.
 * Each tensor gets its own stream, seeded by (seed, name), so adding a layer does not change the others.
 */
export function normalTensor(seed: number, name: string, count: number, std: number): Float32Array {
  const uniform = mulberry32(hashSeed(seed, name));
  const out = new Float32Array(count);
  for (let i = 0; i < count; i += 2) {
    // 1 - u keeps the log argument in (0, 1]; Math.log/cos/sin are not bit-exact across engines in theory,
    // but V8 uses the same fdlibm ports on every platform, which is what "byte-identical" relies on.
    const radius = Math.sqrt(-2 * Math.log(1 - uniform()));
    const angle = 2 * Math.PI * uniform();
    out[i] = radius * Math.cos(angle) * std;
    if (i + 1 < count) out[i + 1] = radius * Math.sin(angle) * std;
  }
  return out;
}
