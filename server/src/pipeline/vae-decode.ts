// Latents → pixels through the VAE decoder, whole or in overlapping tiles. The decoder's activations grow with
// the image (128 channels at full resolution, and its mid-block attention is quadratic in the latent area), so a
// large image is decoded tile by tile and the tiles are cross-faded where they overlap, as diffusers'
// enable_vae_tiling does. Tiles see only their own neighbourhood (GroupNorm statistics and attention are per tile),
// so tiled output differs slightly from whole decoding, and overlaps cost time: images up to `maxUntiled` are
// decoded whole.
import type { OnnxModel } from './onnx/onnx-session.js';

export interface VaeTiling {
  /** Tile side in latent pixels (64 → 512 image pixels: the size SD's VAE was trained at). */
  tile: number;
  /** Overlap between neighbouring tiles, in latent pixels. */
  overlap: number;
  /** Latents up to this many pixels (width × height) are decoded whole. */
  maxUntiled: number;
}

/**
 * Whole up to 1024²: measured on SD 1.5's decoder at 1024², whole decoding peaks at 4.8 GiB in 61 s, tiled at
 * 2.3 GiB in 127 s (docs/BENCHMARKS.md); whole decoding's memory grows with the area (≈ 18 GiB at 2048²), tiled
 * decoding's does not.
 */
export const DEFAULT_TILING: VaeTiling = { tile: 64, overlap: 16, maxUntiled: 128 * 128 };

/** Decodes [1, 4, h, w] latents (already divided by the scaling factor) to [1, 3, 8h, 8w] float pixels. */
export async function decodeLatents(
  decoder: OnnxModel,
  latents: Float32Array,
  width: number,
  height: number,
  tiling: VaeTiling = DEFAULT_TILING,
): Promise<Float32Array> {
  if (width * height <= tiling.maxUntiled) return decodeTile(decoder, latents, width, height);
  return decodeTiled(decoder, latents, width, height, tiling);
}

async function decodeTile(decoder: OnnxModel, latents: Float32Array, width: number, height: number): Promise<Float32Array> {
  const outputs = await decoder.run({ latent_sample: { kind: 'float', dims: [1, 4, height, width], data: latents } });
  const first = Object.values(outputs)[0];
  if (!first) throw new Error('the VAE decoder returned no output');
  return first.data;
}

/** Tile starts along one axis: every `tile − overlap`, the last one flush with the far edge. */
export function tileStarts(size: number, tile: number, overlap: number): number[] {
  if (size <= tile) return [0];
  const stride = tile - overlap;
  const starts: number[] = [];
  for (let s = 0; s + tile < size; s += stride) starts.push(s);
  starts.push(size - tile);
  return starts;
}

async function decodeTiled(decoder: OnnxModel, latents: Float32Array, width: number, height: number, t: VaeTiling): Promise<Float32Array> {
  const outW = width * 8;
  const outH = height * 8;
  const plane = outW * outH;
  const sum = new Float32Array(3 * plane);
  const weightSum = new Float32Array(plane);
  const xs = tileStarts(width, t.tile, t.overlap);
  const ys = tileStarts(height, t.tile, t.overlap);
  const ramp = t.overlap * 8;
  for (const y0 of ys) {
    for (const x0 of xs) {
      const tw = Math.min(t.tile, width);
      const th = Math.min(t.tile, height);
      const tile = new Float32Array(4 * tw * th);
      for (let c = 0; c < 4; c++) {
        for (let y = 0; y < th; y++) {
          const from = c * width * height + (y0 + y) * width + x0;
          tile.set(latents.subarray(from, from + tw), c * tw * th + y * tw);
        }
      }
      const pixels = await decodeTile(decoder, tile, tw, th);
      const pw = tw * 8;
      const ph = th * 8;
      // Weights fall linearly to zero towards an edge that another tile overlaps; image borders keep full weight.
      const wx = edgeRamp(pw, ramp, x0 > 0, x0 + tw < width);
      const wy = edgeRamp(ph, ramp, y0 > 0, y0 + th < height);
      for (let y = 0; y < ph; y++) {
        const row = (y0 * 8 + y) * outW + x0 * 8;
        for (let x = 0; x < pw; x++) {
          const w = (wy[y] as number) * (wx[x] as number);
          weightSum[row + x] += w;
          for (let c = 0; c < 3; c++) sum[c * plane + row + x] += w * (pixels[c * pw * ph + y * pw + x] as number);
        }
      }
    }
  }
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < plane; i++) sum[c * plane + i] /= weightSum[i] as number;
  }
  return sum;
}

function edgeRamp(size: number, ramp: number, fadeStart: boolean, fadeEnd: boolean): Float32Array {
  const w = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    const fromStart = fadeStart ? (i + 0.5) / ramp : 1;
    const fromEnd = fadeEnd ? (size - i - 0.5) / ramp : 1;
    w[i] = Math.min(1, fromStart, fromEnd);
  }
  return w;
}
