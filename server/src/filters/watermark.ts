// The invisible watermark of the Stable Diffusion reference scripts: `invisible-watermark`'s "dwtDct" method
// (imwatermark/maxDct.py) with its defaults, scales [0, 36, 36] and 4×4 blocks. Despite the name it takes no DCT:
// - OpenCV YUV of the BGR image; only channel 1 (U) is touched, because the package loops `range(2)` and the
//   scale of channel 0 is 0;
// - a one-level Haar DWT of U cropped to multiples of 4; the LL band is cut into 4×4 blocks in raster order and
//   block k carries bit k mod n;
// - in each block the largest |value| among the 15 entries after [0,0] is moved to 9 (bit 0) or 27 (bit 1) above a
//   multiple of 36; the decoder reads that remainder (> 18 → 1) and takes the majority of each bit's blocks;
// - the inverse DWT is called with the horizontal and vertical bands swapped (the package's quirk, which
//   transposes every 2×2 pixel block of U) and truncated back to uint8.
// Every step copies the package's arithmetic so a file marked here decodes with `WatermarkDecoder('bytes', n)`.
// CompVis' txt2img.py embeds "StableDiffusionV1" (DEFAULT_WATERMARK_TEXT in available.ts): 17 bytes, 136 bits.
import type { RgbImage } from '../images/encode.js';
import { haarDwt2, haarIdwt2, type Plane } from './haar.js';
import { rgbToYuv, yuvToRgb } from './opencv-yuv.js';

const SCALE = 36;
const BLOCK = 4;
/** The package refuses images with fewer pixels than this (rows·cols < 256·256). */
export const MIN_WATERMARK_PIXELS = 256 * 256;

/** UTF-8 bytes → bits, most significant bit first (numpy.unpackbits). */
export function textToBits(text: string): number[] {
  const bits: number[] = [];
  for (const byte of new TextEncoder().encode(text)) for (let k = 7; k >= 0; k--) bits.push((byte >> k) & 1);
  return bits;
}

/** Bits → bytes (numpy.packbits, only whole bytes, as `reconstruct_bytes` does) → UTF-8, invalid sequences as U+FFFD. */
export function bitsToText(bits: readonly number[]): string {
  const bytes = new Uint8Array(Math.floor(bits.length / 8));
  for (let i = 0; i < bytes.length; i++) {
    let byte = 0;
    for (let k = 0; k < 8; k++) byte = (byte << 1) | ((bits[i * 8 + k] as number) & 1);
    bytes[i] = byte;
  }
  return new TextDecoder('utf-8').decode(bytes);
}

export function canWatermark(image: { width: number; height: number }): boolean {
  return image.width * image.height >= MIN_WATERMARK_PIXELS;
}

function assertSize(image: RgbImage): void {
  if (!canWatermark(image)) {
    throw new Error(`the invisible watermark needs at least 256×256 pixels in all; this image is ${image.width}×${image.height}`);
  }
}

/** Python's float floor division `a // b` (numpy's npy_divmod), which Math.floor(a / b) misses when a / b rounds up. */
function floorDiv(a: number, b: number): number {
  const mod = a % b;
  let div = (a - mod) / b;
  if (mod && b < 0 !== mod < 0) div -= 1;
  if (!div) return 0;
  const floored = Math.floor(div);
  return div - floored > 0.5 ? floored + 1 : floored;
}

/** Index (0–15) of the largest |value| among entries 1–15 of the 4×4 block at (row, col); first one wins ties (np.argmax). */
function maxEntry(ll: Plane, row: number, col: number): number {
  let best = 1;
  let bestValue = -1;
  for (let k = 1; k < BLOCK * BLOCK; k++) {
    const v = Math.abs(ll.data[(row + (k >> 2)) * ll.width + col + (k & 3)] as number);
    if (v > bestValue) {
      bestValue = v;
      best = k;
    }
  }
  return best;
}

/** The U plane's top-left area with sides rounded down to multiples of 4, as float64. */
function cropU(u: Uint8Array, width: number, height: number): Plane {
  const w = Math.floor(width / 4) * 4;
  const h = Math.floor(height / 4) * 4;
  const data = new Float64Array(w * h);
  for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) data[r * w + c] = u[r * width + c] as number;
  return { width: w, height: h, data };
}

/** Calls `visit(blockIndex, row, col)` for each whole 4×4 block of the LL band in raster order. */
function forEachBlock(ll: Plane, visit: (index: number, row: number, col: number) => void): void {
  let index = 0;
  for (let i = 0; i < Math.floor(ll.height / BLOCK); i++) {
    for (let j = 0; j < Math.floor(ll.width / BLOCK); j++) visit(index++, i * BLOCK, j * BLOCK);
  }
}

/** Embeds `bits` (each 0 or 1, repeated over the picture) as the package's encoder does. */
export function embedWatermarkBits(image: RgbImage, bits: readonly number[]): RgbImage {
  assertSize(image);
  if (bits.length === 0) throw new Error('the watermark has no bits');
  const yuv = rgbToYuv(image);
  const bands = haarDwt2(cropU(yuv.u, image.width, image.height));
  const ll = bands.aa;
  forEachBlock(ll, (index, row, col) => {
    const k = maxEntry(ll, row, col);
    const at = (row + (k >> 2)) * ll.width + col + (k & 3);
    const value = ll.data[at] as number;
    const bit = bits[index % bits.length] as number;
    const magnitude = (floorDiv(Math.abs(value), SCALE) + 0.25 + 0.5 * bit) * SCALE;
    ll.data[at] = value >= 0 ? magnitude : -1 * magnitude;
  });
  // The package passes (cA, (cV, cH, cD)) to idwt2, i.e. the two detail bands swapped.
  const restored = haarIdwt2({ aa: ll, da: bands.ad, ad: bands.da, dd: bands.dd });
  for (let r = 0; r < restored.height; r++) {
    for (let c = 0; c < restored.width; c++) {
      // numpy's float64 → uint8 assignment truncates toward zero (and wraps, which U's range never reaches).
      yuv.u[r * image.width + c] = Math.trunc(restored.data[r * restored.width + c] as number) & 0xff;
    }
  }
  return yuvToRgb(yuv);
}

export function embedWatermark(image: RgbImage, text: string): RgbImage {
  return embedWatermarkBits(image, textToBits(text));
}

/** The package's decoder: per bit, the share of its blocks whose remainder is above 18, then `share·255 > 127`. */
export function readWatermarkBits(image: RgbImage, lengthBits: number): number[] {
  assertSize(image);
  if (!Number.isInteger(lengthBits) || lengthBits < 1) throw new Error('lengthBits must be a positive whole number');
  const ll = haarDwt2(cropU(rgbToYuv(image).u, image.width, image.height)).aa;
  const ones = new Array<number>(lengthBits).fill(0);
  const counts = new Array<number>(lengthBits).fill(0);
  forEachBlock(ll, (index, row, col) => {
    const k = maxEntry(ll, row, col);
    const value = Math.abs(ll.data[(row + (k >> 2)) * ll.width + col + (k & 3)] as number);
    const bit = index % lengthBits;
    counts[bit] = (counts[bit] as number) + 1;
    if (value % SCALE > 0.5 * SCALE) ones[bit] = (ones[bit] as number) + 1;
  });
  // A bit no block carried averages an empty list in numpy (NaN), which compares false: 0.
  return ones.map((n, i) => (counts[i] ? (n / (counts[i] as number)) * 255 > 127 : false) ? 1 : 0);
}

export function readWatermark(image: RgbImage, lengthBits: number): { bits: number[]; text: string } {
  const bits = readWatermarkBits(image, lengthBits);
  return { bits, text: bitsToText(bits) };
}
