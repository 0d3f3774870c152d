// The NSFW filter: a classifier scores a picture, and a flagged picture is blurred beyond recognition before it is
// saved or previewed. The classifier is the built-in nsfwjs MobileNetV2 (converted from the npm package, five
// classes) or the catalog's ViT (nsfw-vit.ts), as the owner's setting chose when the job was resolved.
import { existsSync } from 'node:fs';
import sharp from 'sharp';
import type { RgbImage } from '../images/encode.js';
import { catalogModelPath, VIT_NSFW_CLASSIFIER, type NsfwClassifier } from './available.js';
import type { FilterContext } from './filter.js';
import { builtinModelPath } from './keras/builtin-models.js';
import { filterModel } from './model-cache.js';
import { classifyVit, vitFlagged } from './nsfw-vit.js';

/** nsfwjs's classes, in its output order. */
export const NSFW_CLASSES = ['drawing', 'hentai', 'neutral', 'porn', 'sexy'] as const;
export type NsfwScores = Record<(typeof NSFW_CLASSES)[number], number>;

const INPUT_SIDE = 224;

/**
 * The flag rule: a picture is flagged when the two explicit classes together are more likely than not
 * (porn + hentai ≥ 0.5). "Sexy" is left out on purpose: nsfwjs uses it for clothed, suggestive pictures
 * (swimwear, lingerie), which a blur-before-save filter should not hide.
 */
export const NSFW_THRESHOLD = 0.5;

export function isFlagged(scores: NsfwScores, threshold = NSFW_THRESHOLD): boolean {
  return scores.porn + scores.hentai >= threshold;
}

export async function classifyNsfw(image: RgbImage, ctx: FilterContext): Promise<NsfwScores> {
  const model = await filterModel(await builtinModelPath('nsfwjs-mobilenet-v2', ctx.modelsDir));
  const input = nsfwInput(image);
  const out = Object.values(await model.run({ [model.inputs[0]?.name ?? 'input']: { kind: 'float', dims: [1, 3, INPUT_SIDE, INPUT_SIDE], data: input } }))[0];
  if (!out || out.data.length !== NSFW_CLASSES.length) throw new Error('the NSFW classifier gave no class scores');
  return Object.fromEntries(NSFW_CLASSES.map((name, i) => [name, out.data[i] as number])) as NsfwScores;
}

/**
 * nsfwjs's preprocessing: pixels / 255, then tf.image.resizeBilinear to 224×224 with alignCorners = true (corner
 * pixels map to corner pixels), computed as tfjs's CPU kernel does. Returned NCHW for the converted model.
 */
export function nsfwInput(image: RgbImage, side = INPUT_SIDE): Float32Array {
  const { width: W, height: H, pixels } = image;
  const out = new Float32Array(3 * side * side);
  const plane = side * side;
  const ry = side > 1 ? (H - 1) / (side - 1) : 0;
  const rx = side > 1 ? (W - 1) / (side - 1) : 0;
  const at = (y: number, x: number, c: number) => Math.fround((pixels[(y * W + x) * 3 + c] as number) / 255);
  for (let r = 0; r < side; r++) {
    const fy = ry * r;
    const y0 = Math.max(0, Math.floor(fy));
    const y1 = Math.min(H - 1, Math.ceil(fy));
    const dy = fy - y0;
    for (let q = 0; q < side; q++) {
      const fx = rx * q;
      const x0 = Math.max(0, Math.floor(fx));
      const x1 = Math.min(W - 1, Math.ceil(fx));
      const dx = fx - x0;
      for (let c = 0; c < 3; c++) {
        const top = at(y0, x0, c) + (at(y0, x1, c) - at(y0, x0, c)) * dx;
        const bottom = at(y1, x0, c) + (at(y1, x1, c) - at(y1, x0, c)) * dx;
        out[c * plane + r * side + q] = top + (bottom - top) * dy;
      }
    }
  }
  return out;
}

/** Shrinks to 8 pixels across and back, then softens: only colour blobs survive, at any size, quickly. */
export async function blurImage(image: RgbImage): Promise<RgbImage> {
  const { width, height } = image;
  const shrink = Math.max(1, Math.max(width, height) / 8);
  const small = await sharp(image.pixels, { raw: { width, height, channels: 3 } })
    .resize(Math.max(1, Math.round(width / shrink)), Math.max(1, Math.round(height / shrink)), { fit: 'fill', kernel: 'cubic' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const data = await sharp(small.data, { raw: { width: small.info.width, height: small.info.height, channels: 3 } })
    .resize(width, height, { fit: 'fill', kernel: 'cubic' })
    .blur(Math.max(1, shrink / 2))
    .raw()
    .toBuffer();
  return { width, height, pixels: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}

/** What one classifier said about a picture: its own scores (nsfwjs: five classes; the ViT: nsfw, sfw). */
export interface NsfwVerdict {
  classifier: NsfwClassifier;
  scores: Record<string, number>;
  flagged: boolean;
}

/**
 * Runs `classifier`; the ViT chosen when the job was queued but deleted since falls back to the built-in nsfwjs
 * (the verdict names the one that ran), so the check still happens.
 */
export async function checkNsfw(image: RgbImage, classifier: NsfwClassifier, ctx: FilterContext): Promise<NsfwVerdict> {
  if (classifier === VIT_NSFW_CLASSIFIER && existsSync(catalogModelPath(ctx.modelsDir, 'nsfw', VIT_NSFW_CLASSIFIER))) {
    const scores = await classifyVit(image, ctx);
    return { classifier, scores: { ...scores }, flagged: vitFlagged(scores) };
  }
  const scores = await classifyNsfw(image, ctx);
  return { classifier: 'nsfwjs', scores, flagged: isFlagged(scores) };
}

export interface NsfwResult extends NsfwVerdict {
  image: RgbImage;
}

/** Classifies, and blurs the picture when it is flagged. */
export async function nsfwFilter(image: RgbImage, ctx: FilterContext, classifier: NsfwClassifier = 'nsfwjs'): Promise<NsfwResult> {
  const verdict = await checkNsfw(image, classifier, ctx);
  const result = { ...verdict, image: verdict.flagged ? await blurImage(image) : image };
  ctx.onProgress?.(1, 1);
  return result;
}

/**
 * Live previews of a job with the NSFW filter on: each preview is classified, and once one is flagged every later
 * preview of that image is blurred too (a picture does not become safe as it sharpens).
 */
export function previewGuard(ctx: FilterContext, classifier: NsfwClassifier = 'nsfwjs'): (preview: RgbImage) => Promise<RgbImage> {
  let flagged = false;
  return async (preview) => {
    if (!flagged) flagged = (await checkNsfw(preview, classifier, ctx)).flagged;
    return flagged ? blurImage(preview) : preview;
  };
}
