// Reads a job's init image and mask (by image id) at the job's size, for the worker.
import sharp from 'sharp';
import type { RgbImage } from '../images/encode.js';
import { OutputStore } from '../images/output-store.js';
import type { GrayImage } from '../pipeline/init-image.js';
import type { RenderJob } from './protocol.js';

async function fileOf(job: RenderJob, id: string): Promise<string> {
  const found = (await new OutputStore(job.outputsDir).find(id)) ?? (await new OutputStore(job.inputsDir).find(id));
  if (!found) throw new Error(`image ${id} is gone from the outputs and inputs folders`);
  return found.file;
}

/** The init image stretched to the job's size (A1111's "just resize"), or undefined for txt2img. */
export async function loadInit(job: RenderJob): Promise<{ image: RgbImage; strength: number; mask?: GrayImage } | undefined> {
  if (!job.initImage) return undefined;
  const { data, info } = await sharp(await fileOf(job, job.initImage))
    .flatten({ background: '#ffffff' })
    .resize(job.width, job.height, { fit: 'fill', kernel: 'lanczos3' })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const image: RgbImage = { width: info.width, height: info.height, pixels: new Uint8Array(data) };
  const strength = job.strength ?? 0.75;
  if (!job.mask) return { image, strength };
  // Transparent areas count as black (kept): a canvas with white brush strokes is a valid mask.
  const mask = await sharp(await fileOf(job, job.mask))
    .flatten({ background: '#000000' })
    .resize(job.width, job.height, { fit: 'fill', kernel: 'nearest' })
    .greyscale()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { image, strength, mask: { width: mask.info.width, height: mask.info.height, pixels: new Uint8Array(mask.data.buffer, mask.data.byteOffset, mask.info.width * mask.info.height) } };
}
