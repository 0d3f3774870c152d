// The catalog's ViT NSFW classifier, `nsfw-marqo-384`: Marqo/nsfw-image-detection-384 as FaceFusion exports it
// (nsfw_2.onnx), run the way FaceFusion's content analyser runs it. The picture is letterboxed into the model's
// square input (scaled to fit, centred, black bars), RGB, (x/255 − 0.5)/0.5, NCHW; the first output holds two
// scores, NSFW then SFW, and a picture is flagged when NSFW − SFW > 0.25.
import { existsSync } from 'node:fs';
import sharp from 'sharp';
import type { RgbImage } from '../images/encode.js';
import { catalogModelPath, VIT_NSFW_CLASSIFIER } from './available.js';
import type { FilterContext } from './filter.js';
import { filterModel } from './model-cache.js';

/** The export's input side, used when the model does not declare a fixed one. */
export const VIT_SIDE = 384;
/** FaceFusion's rule for this model: flagged when NSFW − SFW exceeds it. */
export const VIT_MARGIN = 0.25;

export interface VitScores {
  nsfw: number;
  sfw: number;
}

/** Where the scaled picture sits inside the square input. */
export interface Letterbox {
  width: number;
  height: number;
  left: number;
  top: number;
}

/**
 * FaceFusion's fit_frame geometry: scale = min(side / height, side / width), both sizes truncated to whole pixels,
 * and the bars split evenly with the odd pixel going right and bottom.
 */
export function letterbox(width: number, height: number, side: number): Letterbox {
  const scale = Math.min(side / height, side / width);
  const w = Math.max(1, Math.trunc(width * scale));
  const h = Math.max(1, Math.trunc(height * scale));
  return { width: w, height: h, left: Math.floor((side - w) / 2), top: Math.floor((side - h) / 2) };
}

/** The model's input: NCHW float32, (x/255 − 0.5)/0.5, so the black bars are −1. */
export async function vitInput(image: RgbImage, side = VIT_SIDE): Promise<Float32Array> {
  const box = letterbox(image.width, image.height, side);
  const scaled = await sharp(image.pixels, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(box.width, box.height, { fit: 'fill', kernel: 'linear' })
    .raw()
    .toBuffer();
  const plane = side * side;
  const out = new Float32Array(3 * plane).fill(-1);
  for (let y = 0; y < box.height; y++) {
    for (let x = 0; x < box.width; x++) {
      const from = (y * box.width + x) * 3;
      const to = (box.top + y) * side + box.left + x;
      for (let c = 0; c < 3; c++) out[c * plane + to] = (scaled[from + c] as number) / 127.5 - 1;
    }
  }
  return out;
}

export function vitFlagged(scores: VitScores, margin = VIT_MARGIN): boolean {
  return scores.nsfw - scores.sfw > margin;
}

/** Runs the installed ViT; input and output names and the input side are read from the model. */
export async function classifyVit(image: RgbImage, ctx: FilterContext): Promise<VitScores> {
  const path = catalogModelPath(ctx.modelsDir, 'nsfw', VIT_NSFW_CLASSIFIER);
  if (!existsSync(path)) throw new Error(`the NSFW classifier "${VIT_NSFW_CLASSIFIER}" is not installed (${path}); download it from the model catalog`);
  const model = await filterModel(path);
  const input = model.inputs[0];
  if (!input) throw new Error(`${path} has no inputs`);
  const declared = input.shape[2];
  const side = typeof declared === 'number' && declared > 0 ? declared : VIT_SIDE;
  const outputs = await model.run({ [input.name]: { kind: 'float', dims: [1, 3, side, side], data: await vitInput(image, side) } });
  const out = outputs[model.outputs[0]?.name ?? ''] ?? Object.values(outputs)[0];
  if (!out || out.data.length !== 2) throw new Error(`${path}: expected two scores (NSFW, SFW), got ${out?.data.length ?? 0}`);
  return { nsfw: out.data[0] as number, sfw: out.data[1] as number };
}
