// "Preserve color profile" for img2img, as A1111's color correction does it: match the result's colour
// histograms to the initial image's in CIELAB, then keep the result's own lightness (A1111 blends the matched
// picture back in "luminosity" mode), so shading stays and colours stop drifting over repeated img2img passes.
import type { RgbImage } from './encode.js';

const toLinear = (c: number): number => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
const toSrgb = (c: number): number => (c <= 0.0031308 ? 12.92 * c : 1.055 * c ** (1 / 2.4) - 0.055);
const WHITE = [0.95047, 1, 1.08883] as const;
const f = (t: number): number => (t > 216 / 24389 ? Math.cbrt(t) : (24389 / 27 * t + 16) / 116);
const fInv = (t: number): number => (t ** 3 > 216 / 24389 ? t ** 3 : (116 * t - 16) / (24389 / 27));

/** sRGB bytes → three planes L, a, b. */
export function rgbToLab(image: RgbImage): [Float64Array, Float64Array, Float64Array] {
  const n = image.width * image.height;
  const L = new Float64Array(n);
  const A = new Float64Array(n);
  const B = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const r = toLinear((image.pixels[i * 3] as number) / 255);
    const g = toLinear((image.pixels[i * 3 + 1] as number) / 255);
    const b = toLinear((image.pixels[i * 3 + 2] as number) / 255);
    const x = f((0.4124564 * r + 0.3575761 * g + 0.1804375 * b) / WHITE[0]);
    const y = f(0.2126729 * r + 0.7151522 * g + 0.072175 * b);
    const z = f((0.0193339 * r + 0.119192 * g + 0.9503041 * b) / WHITE[2]);
    L[i] = 116 * y - 16;
    A[i] = 500 * (x - y);
    B[i] = 200 * (y - z);
  }
  return [L, A, B];
}

export function labToRgb(planes: [Float64Array, Float64Array, Float64Array], width: number, height: number): RgbImage {
  const [L, A, B] = planes;
  const pixels = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    const fy = ((L[i] as number) + 16) / 116;
    const x = fInv(fy + (A[i] as number) / 500) * WHITE[0];
    const y = fInv(fy);
    const z = fInv(fy - (B[i] as number) / 200) * WHITE[2];
    const rgb = [
      3.2404542 * x - 1.5371385 * y - 0.4985314 * z,
      -0.969266 * x + 1.8760108 * y + 0.041556 * z,
      0.0556434 * x - 0.2040259 * y + 1.0572252 * z,
    ];
    for (let c = 0; c < 3; c++) pixels[i * 3 + c] = Math.round(Math.min(1, Math.max(0, toSrgb(rgb[c] as number))) * 255);
  }
  return { width, height, pixels };
}

/** Maps `source`'s values so their distribution matches `reference`'s (quantile mapping, as skimage does). */
export function matchHistogram(source: Float64Array, reference: Float64Array): Float64Array {
  const order = Array.from(source.keys()).sort((i, j) => (source[i] as number) - (source[j] as number));
  const sortedRef = Float64Array.from(reference).sort();
  const out = new Float64Array(source.length);
  let start = 0;
  // Equal source values share one quantile (their group's middle), so ties map to one value.
  while (start < order.length) {
    let end = start;
    while (end + 1 < order.length && source[order[end + 1] as number] === source[order[start] as number]) end++;
    const q = (start + end) / 2 / Math.max(1, order.length - 1);
    const pos = q * (sortedRef.length - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(sortedRef.length - 1, lo + 1);
    const value = (sortedRef[lo] as number) + ((sortedRef[hi] as number) - (sortedRef[lo] as number)) * (pos - lo);
    for (let k = start; k <= end; k++) out[order[k] as number] = value;
    start = end + 1;
  }
  return out;
}

export function preserveColors(result: RgbImage, init: RgbImage): RgbImage {
  const [L, A, B] = rgbToLab(result);
  const [, refA, refB] = rgbToLab(init);
  return labToRgb([L, matchHistogram(A, refA), matchHistogram(B, refB)], result.width, result.height);
}
