// /extra-single-image and /extra-batch-images until Easel has model upscalers: A1111's built-in "None",
// "Lanczos" and "Nearest" are plain resizes, which sharp does; a model upscaler name or face restoration is refused
// or reported as not applied, never silently pretended.
import sharp from 'sharp';
import { readImageText } from '../../images/metadata-parse.js';
import { addPngText } from '../../images/png-text.js';
import { invalid } from './a1111-errors.js';
import { decodeImage } from './a1111-images.js';
import type { ExtrasSingleBody } from './a1111-schemas.js';

export const UPSCALERS = [
  { name: 'None', scale: 1, kernel: undefined },
  { name: 'Lanczos', scale: 4, kernel: 'lanczos3' },
  { name: 'Nearest', scale: 4, kernel: 'nearest' },
] as const;

const MAX_SIDE = 8192;

function upscalerNamed(name: string | null | undefined, field: string): (typeof UPSCALERS)[number] {
  const found = UPSCALERS.find((u) => u.name.toLowerCase() === (name ?? 'None').toLowerCase());
  if (!found) throw invalid(`${field}: upscaler "${name}" is not available; Easel has ${UPSCALERS.map((u) => u.name).join(', ')}`, field);
  return found;
}

/** Runs the extras on one image (bare base64 or data URL) and returns a bare base64 PNG and A1111's html_info. */
export async function runExtras(image: string, body: Omit<ExtrasSingleBody, 'image'>, field: string): Promise<{ image: string; html_info: string }> {
  const { bytes } = decodeImage(image, field);
  const upscaler = upscalerNamed(body.upscaler_1, 'upscaler_1');
  const notes: string[] = [];
  let pipeline = sharp(bytes, { limitInputPixels: MAX_SIDE * MAX_SIDE });
  if (upscaler.kernel) {
    const meta = await pipeline.metadata().catch(() => {
      throw invalid(`${field} could not be read as an image`, field);
    });
    const byTarget = body.resize_mode === 1;
    const factor = body.upscaling_resize ?? 2;
    const width = byTarget ? (body.upscaling_resize_w ?? 512) : Math.round((meta.width ?? 0) * factor);
    const height = byTarget ? (body.upscaling_resize_h ?? 512) : Math.round((meta.height ?? 0) * factor);
    if (!(width >= 1 && height >= 1 && width <= MAX_SIDE && height <= MAX_SIDE)) {
      throw invalid(`the upscaled size ${width}x${height} must be between 1 and ${MAX_SIDE} pixels a side`, byTarget ? 'upscaling_resize_w' : 'upscaling_resize');
    }
    const fit = byTarget && body.upscaling_crop !== false ? 'cover' : 'fill';
    pipeline = pipeline.resize(width, height, { kernel: upscaler.kernel, fit });
    notes.push(byTarget ? `Postprocess upscale to: ${width}x${height}` : `Postprocess upscale by: ${factor}`, `Postprocess upscaler: ${upscaler.name}`);
  }
  if ((body.upscaler_2 ?? 'None') !== 'None' && (body.extras_upscaler_2_visibility ?? 0) > 0) notes.push(`upscaler_2 ${body.upscaler_2} not applied: Easel blends no second upscaler yet`);
  if ((body.gfpgan_visibility ?? 0) > 0 || (body.codeformer_visibility ?? 0) > 0) notes.push('face restoration not applied: Easel has none yet');
  const png = await pipeline
    .png()
    .toBuffer()
    .catch(() => {
      throw invalid(`${field} could not be read as an image`, field);
    });
  // The picture keeps its generation parameters, and the extras go in a "postprocessing" chunk, as A1111 writes.
  const text = readImageText(bytes);
  const chunks = {
    ...(text.parameters ? { parameters: text.parameters } : {}),
    ...(notes.length ? { postprocessing: notes.join(', ') } : {}),
  };
  const out = Object.keys(chunks).length ? addPngText(png, chunks) : png;
  return { image: out.toString('base64'), html_info: notes.join(', ') };
}
