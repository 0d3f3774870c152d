// Runs an image-to-image model tile by tile so big pictures fit in modest memory. Each tile is inferred with
// `pad` pixels of real context around it (cropped away afterwards, as Real-ESRGAN does), and neighbouring tiles
// overlap by `overlap` pixels where their outputs are cross-faded with linear weights (as A1111's combine_grid
// does), so no seam shows even for models whose receptive field is wider than the context.
import type { RgbImage } from '../images/encode.js';
import { FilterStopped, type FilterContext } from './filter.js';

export interface TileOptions {
  /** Tile side in input pixels, context excluded. */
  tile: number;
  /** Pixels neighbouring tiles share and blend over. */
  overlap: number;
  /** Context pixels fed around each tile and cropped from its output. */
  pad: number;
}

/** The model on one tile: NCHW float RGB in [0, 1] → NCHW float RGB in [0, 1], `scale` times larger. */
export type TileRunner = (input: Float32Array, width: number, height: number) => Promise<{ data: Float32Array; scale: number }>;

/** Tile starts along one axis: every `tile - overlap`, the last one flush with the far edge. */
export function tileStarts(size: number, tile: number, overlap: number): number[] {
  if (size <= tile) return [0];
  const step = Math.max(1, tile - overlap);
  const starts: number[] = [];
  for (let s = 0; ; s += step) {
    if (s + tile >= size) {
      starts.push(size - tile);
      break;
    }
    starts.push(s);
  }
  return starts;
}

/** The weight of output pixel `i` (of `length`) in a tile: ramps up over `ramp` pixels from each inner edge. */
function featherWeight(i: number, length: number, ramp: number, rampStart: boolean, rampEnd: boolean): number {
  let w = 1;
  if (rampStart) w = Math.min(w, (i + 0.5) / ramp);
  if (rampEnd) w = Math.min(w, (length - i - 0.5) / ramp);
  return Math.min(1, w);
}

export async function runTiled(image: RgbImage, run: TileRunner, opts: TileOptions, ctx: FilterContext = { modelsDir: '' }): Promise<{ image: RgbImage; scale: number }> {
  const { width: W, height: H } = image;
  const xs = tileStarts(W, opts.tile, opts.overlap);
  const ys = tileStarts(H, opts.tile, opts.overlap);
  const total = xs.length * ys.length;
  let scale = 0;
  let sum: Float32Array | undefined;
  let weights: Float32Array | undefined;
  let done = 0;
  for (const y0 of ys) {
    for (const x0 of xs) {
      if (ctx.shouldStop?.()) throw new FilterStopped();
      const tw = Math.min(opts.tile, W - x0);
      const th = Math.min(opts.tile, H - y0);
      // The tile plus its context, clamped to the picture.
      const cx0 = Math.max(0, x0 - opts.pad);
      const cy0 = Math.max(0, y0 - opts.pad);
      const cw = Math.min(W, x0 + tw + opts.pad) - cx0;
      const ch = Math.min(H, y0 + th + opts.pad) - cy0;
      const out = await run(cropToPlanes(image, cx0, cy0, cw, ch), cw, ch);
      if (!sum || !weights) {
        scale = out.scale;
        sum = new Float32Array(W * scale * H * scale * 3);
        weights = new Float32Array(W * scale * H * scale);
      } else if (out.scale !== scale) {
        throw new Error(`the model scaled one tile ${out.scale}× and another ${scale}×`);
      }
      const ow = cw * scale;
      const oh = ch * scale;
      const ramp = Math.max(1, opts.overlap * scale);
      const plane = ow * oh;
      const outW = W * scale;
      for (let y = 0; y < th * scale; y++) {
        const wy = featherWeight(y, th * scale, ramp, y0 > 0, y0 + th < H);
        const srcRow = (y + (y0 - cy0) * scale) * ow + (x0 - cx0) * scale;
        const dstRow = (y0 * scale + y) * outW + x0 * scale;
        for (let x = 0; x < tw * scale; x++) {
          const w = wy * featherWeight(x, tw * scale, ramp, x0 > 0, x0 + tw < W);
          const src = srcRow + x;
          const dst = dstRow + x;
          weights[dst] = (weights[dst] as number) + w;
          for (let c = 0; c < 3; c++) sum[dst * 3 + c] = (sum[dst * 3 + c] as number) + w * (out.data[c * plane + src] as number);
        }
      }
      ctx.onProgress?.(++done, total);
    }
  }
  if (!sum || !weights) throw new Error('the image has no pixels');
  const pixels = new Uint8Array(sum.length);
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i] as number;
    for (let c = 0; c < 3; c++) pixels[i * 3 + c] = Math.round(Math.min(1, Math.max(0, (sum[i * 3 + c] as number) / w)) * 255);
  }
  return { image: { width: W * scale, height: H * scale, pixels }, scale };
}

/** An RGB region as NCHW float planes in [0, 1]. */
export function cropToPlanes(image: RgbImage, x0: number, y0: number, w: number, h: number): Float32Array {
  const out = new Float32Array(3 * w * h);
  const plane = w * h;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const src = ((y0 + y) * image.width + x0 + x) * 3;
      const dst = y * w + x;
      out[dst] = (image.pixels[src] as number) / 255;
      out[plane + dst] = (image.pixels[src + 1] as number) / 255;
      out[2 * plane + dst] = (image.pixels[src + 2] as number) / 255;
    }
  }
  return out;
}
