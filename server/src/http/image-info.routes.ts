// What is inside a picture: its generation settings (POST /api/png-info, every format and the tools named in
// images/metadata-parse.ts) and its invisible watermark (POST /api/watermark/check). The picture is a data URL or an
// image id; nothing is stored.
import type { FastifyInstance } from 'fastify';
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { badRequest, notFound } from './errors.js';
import { ErrorBody, ImageProbeRequest, PngInfoResult, WatermarkCheckResult } from './schemas.js';
import { DEFAULT_WATERMARK_TEXT } from '../filters/available.js';
import { canWatermark, readWatermark, textToBits } from '../filters/watermark.js';
import type { ImageInputs } from '../images/image-inputs.js';
import { parseImageMetadata } from '../images/metadata-parse.js';

const DATA_URL = /^data:image\/(png|jpeg|jpg|webp);base64,([A-Za-z0-9+/=\s]+)$/;
const MAX_PIXELS = 4096 * 4096;
const DEFAULT_BITS = textToBits(DEFAULT_WATERMARK_TEXT);

async function imageBytes(value: string, images: ImageInputs): Promise<Buffer> {
  if (value.startsWith('data:')) {
    const match = DATA_URL.exec(value);
    if (!match) throw badRequest('EASEL_ERR_BAD_IMAGE', 'image must be a base64 data URL of a PNG, JPEG or WebP image, or an image id', 'image');
    return Buffer.from(match[2] as string, 'base64');
  }
  const found = await images.find(value);
  if (!found) throw notFound('EASEL_ERR_IMAGE_NOT_FOUND', `no image with id ${value.slice(0, 80)}`);
  return readFile(found.file);
}

export function registerImageInfoRoutes(app: FastifyInstance, deps: { images: ImageInputs }): void {
  app.post<{ Body: ImageProbeRequest }>(
    '/api/png-info',
    { schema: { body: ImageProbeRequest, response: { 200: PngInfoResult, 400: ErrorBody, 404: ErrorBody } } },
    async (request) => parseImageMetadata(await imageBytes(request.body.image, deps.images)),
  );

  app.post<{ Body: ImageProbeRequest }>(
    '/api/watermark/check',
    { schema: { body: ImageProbeRequest, response: { 200: WatermarkCheckResult, 400: ErrorBody, 404: ErrorBody } } },
    async (request) => {
      const bytes = await imageBytes(request.body.image, deps.images);
      const decoded = await sharp(bytes, { limitInputPixels: MAX_PIXELS })
        .flatten({ background: '#ffffff' })
        .removeAlpha()
        .raw()
        .toBuffer({ resolveWithObject: true })
        .catch(() => undefined);
      if (!decoded) throw badRequest('EASEL_ERR_BAD_IMAGE', 'image could not be read as a PNG, JPEG or WebP image', 'image');
      const image = { width: decoded.info.width, height: decoded.info.height, pixels: new Uint8Array(decoded.data) };
      if (!canWatermark(image)) {
        throw badRequest('EASEL_ERR_IMAGE_TOO_SMALL', `image is ${image.width}×${image.height}; the watermark needs at least 256×256 pixels`, 'image');
      }
      const { bits, text } = readWatermark(image, request.body.lengthBits ?? DEFAULT_BITS.length);
      const defaultBitsMatched = bits.length === DEFAULT_BITS.length ? bits.filter((b, i) => b === DEFAULT_BITS[i]).length : 0;
      return { text, bits, matchesDefault: defaultBitsMatched === DEFAULT_BITS.length, defaultBitsMatched };
    },
  );
}
