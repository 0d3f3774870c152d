// How many images of a job share one UNet call (generate.ts's lockstep batch): the execution provider's default,
// or EASEL_BATCH_SIZE. Measured on a 2-core CPU (docs/BENCHMARKS.md, "Batching"): a step already runs at the
// MatMul ceiling there, so a batch takes as long as its images one by one. GPUs have headroom a batch fills.
export const CPU_BATCH_SIZE = 1;
/** CUDA (and DirectML, CoreML, WebGPU when Easel wires them): a common choice, not measured here (no GPU). */
export const GPU_BATCH_SIZE = 4;
/** A job makes at most 16 images (JobRequest.count). */
export const MAX_BATCH_SIZE = 16;

/** EASEL_BATCH_SIZE: a whole number 1–16, or empty / "auto" for the provider's default (undefined). */
export function parseBatchSize(value: string | undefined): number | undefined {
  const v = (value ?? '').trim().toLowerCase();
  if (v === '' || v === 'auto') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > MAX_BATCH_SIZE) {
    throw new Error(`EASEL_BATCH_SIZE must be auto or a whole number from 1 to ${MAX_BATCH_SIZE}, got "${value}"`);
  }
  return n;
}

/**
 * Latent pixels one UNet call may hold by default: GPU_BATCH_SIZE images at 512² (64 × 64 latents). Activations
 * grow with batch × area, so larger pictures batch fewer images (1024²: one) rather than run out of GPU memory.
 */
export const DEFAULT_BATCH_LATENT_PIXELS = GPU_BATCH_SIZE * 64 * 64;

/**
 * `providers` in order of preference, as the render worker's execution provider choice lists them; `size`, the
 * job's picture, caps the default (not an explicit EASEL_BATCH_SIZE) by DEFAULT_BATCH_LATENT_PIXELS.
 */
export function batchSizeFor(providers: readonly string[], override?: number, size?: { width: number; height: number }): number {
  if (override !== undefined) return override;
  const base = providers[0] === 'cpu' ? CPU_BATCH_SIZE : GPU_BATCH_SIZE;
  if (!size) return base;
  const latentPixels = Math.ceil(size.width / 8) * Math.ceil(size.height / 8);
  return Math.max(1, Math.min(base, Math.floor(DEFAULT_BATCH_LATENT_PIXELS / latentPixels)));
}
