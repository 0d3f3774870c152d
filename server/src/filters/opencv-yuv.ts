// OpenCV's 8-bit BGR ⇄ YUV conversion (COLOR_BGR2YUV / COLOR_YUV2BGR), fixed point as OpenCV computes it, so the
// watermark sees the same U plane as the `invisible-watermark` package. This is "YUV" (U = .492(B−Y), V = .877(R−Y)),
// not YCrCb. Constants are OpenCV's Q14 coefficients; CV_DESCALE is (x + 2^13) >> 14 with an arithmetic shift.
import type { RgbImage } from '../images/encode.js';

const SHIFT = 14;
const HALF = 1 << (SHIFT - 1);
const R2Y = 4899;
const G2Y = 9617;
const B2Y = 1868;
const B2U = 8061;
const R2V = 14369;
const U2B = 33292;
const U2G = -6472;
const V2G = -9519;
const V2R = 18678;
const DELTA = 128 << SHIFT;

const saturate = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : v);

export interface YuvPlanes {
  width: number;
  height: number;
  y: Uint8Array;
  u: Uint8Array;
  v: Uint8Array;
}

export function rgbToYuv(image: RgbImage): YuvPlanes {
  const n = image.width * image.height;
  const y = new Uint8Array(n);
  const u = new Uint8Array(n);
  const v = new Uint8Array(n);
  const p = image.pixels;
  for (let i = 0; i < n; i++) {
    const r = p[i * 3] as number;
    const g = p[i * 3 + 1] as number;
    const b = p[i * 3 + 2] as number;
    const luma = (b * B2Y + g * G2Y + r * R2Y + HALF) >> SHIFT;
    y[i] = saturate(luma);
    v[i] = saturate(((r - luma) * R2V + DELTA + HALF) >> SHIFT);
    u[i] = saturate(((b - luma) * B2U + DELTA + HALF) >> SHIFT);
  }
  return { width: image.width, height: image.height, y, u, v };
}

export function yuvToRgb(planes: YuvPlanes): RgbImage {
  const n = planes.width * planes.height;
  const pixels = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const luma = planes.y[i] as number;
    const u = (planes.u[i] as number) - 128;
    const v = (planes.v[i] as number) - 128;
    pixels[i * 3] = saturate(luma + ((v * V2R + HALF) >> SHIFT));
    pixels[i * 3 + 1] = saturate(luma + ((u * U2G + v * V2G + HALF) >> SHIFT));
    pixels[i * 3 + 2] = saturate(luma + ((u * U2B + HALF) >> SHIFT));
  }
  return { width: planes.width, height: planes.height, pixels };
}
