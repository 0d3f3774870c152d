// Pictures as A1111 clients send them: bare base64 or a `data:image/...;base64,` URL, with or without the right
// MIME type (clients label JPEGs as PNG). The bytes decide the format, and Easel's own inputs take a data URL.
import sharp from 'sharp';
import { invalid } from './a1111-errors.js';

export type ImageFormat = 'png' | 'jpeg' | 'webp';

function sniff(bytes: Uint8Array): ImageFormat | undefined {
  if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return 'png';
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return 'jpeg';
  const tag = (from: number) => String.fromCharCode(...bytes.subarray(from, from + 4));
  if (tag(0) === 'RIFF' && tag(8) === 'WEBP') return 'webp';
  return undefined;
}

/** The payload and format of an image string; 422 naming `field` when it is not a PNG, JPEG or WebP. */
export function decodeImage(value: string, field: string): { base64: string; bytes: Buffer; format: ImageFormat } {
  const text = value.trim();
  // A1111 may fetch URLs itself; a server on someone's LAN should not fetch what a request points it at.
  if (/^https?:\/\//i.test(text)) throw invalid(`${field}: Easel does not fetch images from URLs; send the image as base64`, field);
  const base64 = text.startsWith('data:') ? text.slice(text.indexOf(',') + 1) : text;
  const bytes = Buffer.from(base64, 'base64');
  const format = sniff(bytes);
  if (!format) throw invalid(`${field} must be a base64 PNG, JPEG or WebP image (bare, or as a data URL)`, field);
  return { base64: base64.replace(/\s+/g, ''), bytes, format };
}

export function toDataUrl(value: string, field: string): string {
  const { base64, format } = decodeImage(value, field);
  return `data:image/${format};base64,${base64}`;
}

/** A1111's `inpainting_mask_invert`: repaint what the mask keeps. Transparent counts as black, as in Easel. */
export async function invertMask(value: string, field: string): Promise<string> {
  const { bytes } = decodeImage(value, field);
  const png = await sharp(bytes)
    .flatten({ background: '#000000' })
    .greyscale()
    .negate({ alpha: false })
    .png()
    .toBuffer()
    .catch(() => {
      throw invalid(`${field} could not be read as an image`, field);
    });
  return `data:image/png;base64,${png.toString('base64')}`;
}
