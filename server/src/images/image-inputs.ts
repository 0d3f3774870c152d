// Pictures given to a job (init images, masks): a data URL is checked, stored once under `<data>/inputs/`
// by content hash, and referred to by id from then on; an id names an image made here or stored before.
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { badRequest } from '../http/errors.js';
import { OutputStore } from './output-store.js';

const DATA_URL = /^data:image\/(png|jpeg|jpg|webp);base64,([A-Za-z0-9+/=\s]+)$/;
const MAX_PIXELS = 4096 * 4096;

export class ImageInputs {
  constructor(
    private readonly outputs: OutputStore,
    private readonly inputs: OutputStore,
  ) {}

  /** The file behind an image id, made here or uploaded. */
  async find(id: string): Promise<{ file: string; mime: string } | undefined> {
    return (await this.outputs.find(id)) ?? (await this.inputs.find(id));
  }

  /** Deletes an image made here (uploads are shared by content and stay). */
  removeOutput(id: string): Promise<boolean> {
    return this.outputs.remove(id);
  }

  /** Stores or looks up a picture named in a request; 400s name `field`. Returns its id. */
  async resolve(value: string, field: string): Promise<string> {
    if (!value.startsWith('data:')) {
      if (!(await this.find(value))) throw badRequest('EASEL_ERR_IMAGE_NOT_FOUND', `${field}: no image with id "${value.slice(0, 80)}"`, field);
      return value;
    }
    const match = DATA_URL.exec(value);
    if (!match) throw badRequest('EASEL_ERR_BAD_IMAGE', `${field} must be a base64 data URL of a PNG, JPEG or WebP image, or an image id`, field);
    const bytes = Buffer.from(match[2] as string, 'base64');
    const meta = await sharp(bytes, { limitInputPixels: MAX_PIXELS })
      .metadata()
      .catch(() => undefined);
    if (!meta?.width || !meta.height || !['png', 'jpeg', 'webp'].includes(meta.format ?? '')) {
      throw badRequest('EASEL_ERR_BAD_IMAGE', `${field} could not be read as a PNG, JPEG or WebP image`, field);
    }
    const id = `in-${createHash('sha256').update(bytes).digest('hex').slice(0, 24)}`;
    if (!(await this.inputs.find(id))) await this.inputs.save(id, meta.format === 'jpeg' ? 'jpeg' : meta.format === 'webp' ? 'webp' : 'png', bytes);
    return id;
  }
}
