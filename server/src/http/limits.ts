// The request limits, in a file with no imports so the UI can use the same numbers without bundling TypeBox.
export const LIMITS = {
  promptChars: 20_000,
  minSteps: 1,
  maxSteps: 150,
  minSize: 64,
  maxSize: 2048,
  sizeMultiple: 8,
  maxCfgScale: 30,
  maxCount: 16,
  maxSeed: 4_294_967_295,
  /** An init image or mask as a data URL (base64 grows it by a third). */
  imageChars: 30 * 1024 * 1024,
} as const;
