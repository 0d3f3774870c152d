// Whether a model runs in low-memory mode (sd-model.ts): chosen by the owner's server setting
// (`performance.lowMemory`; EASEL_LOW_MEMORY overrides it from start-up until the owner changes it), or
// automatically from the memory free when the model loads. Measured on SD 1.5 at 512² (docs/BENCHMARKS.md):
// normal mode peaks at up to 2.6 × the weights' size on disk (plain attention; 1.5 × with fused attention), and
// low-memory mode at 1.0–1.5 ×, for 10–13 % longer images (each network loads again for every image, from the
// optimized-model cache).
export const LOW_MEMORY_SETTINGS = ['auto', 'on', 'off'] as const;
export type LowMemorySetting = (typeof LOW_MEMORY_SETTINGS)[number];

/** Normal mode's peak over the weights' size, the worst case measured. */
export const NORMAL_PEAK_PER_WEIGHT_BYTE = 2.6;

export function lowMemorySetting(value: string | undefined = process.env.EASEL_LOW_MEMORY): LowMemorySetting {
  const v = (value ?? '').trim().toLowerCase();
  if (v === '' || v === 'auto') return 'auto';
  if (['1', 'on', 'true', 'yes'].includes(v)) return 'on';
  if (['0', 'off', 'false', 'no'].includes(v)) return 'off';
  throw new Error(`EASEL_LOW_MEMORY must be auto, on or off, got "${value}"`);
}

export function useLowMemory(setting: LowMemorySetting, weightBytes: number, freeBytes: number): boolean {
  if (setting !== 'auto') return setting === 'on';
  return freeBytes < weightBytes * NORMAL_PEAK_PER_WEIGHT_BYTE;
}

/**
 * Whether a warm model, loaded in low-memory mode or not, can stay as it is under `setting`: on and off want their
 * mode; auto keeps whichever mode auto (or an earlier setting) gave it, and decides afresh at the next load.
 */
export function modeFits(setting: LowMemorySetting, lowMemory: boolean): boolean {
  return setting === 'auto' || lowMemory === (setting === 'on');
}
