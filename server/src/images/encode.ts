// The one place that turns decoded pixels into files (sharp). Metadata goes where other tools look for it:
// PNG text chunks, or EXIF UserComment for JPEG and WebP (as A1111 writes them).
import sharp from 'sharp';
import { buildExifUserComment, fitInfotext, JPEG_USER_COMMENT_CHARS } from './exif.js';
import { insertExif } from './exif-container.js';
import { addPngText } from './png-text.js';

export type OutputFormat = 'png' | 'jpeg' | 'webp';

export interface RgbImage {
  width: number;
  height: number;
  /** Interleaved RGB bytes, row-major. */
  pixels: Uint8Array;
}

export interface ImageMetadata {
  /** A1111 infotext. */
  parameters: string;
  /** The full request as JSON, for Easel's own "use these settings". */
  easel: string;
}

export async function encodeImage(
  image: RgbImage,
  format: OutputFormat,
  quality: number,
  metadata: ImageMetadata,
): Promise<Buffer> {
  const base = sharp(image.pixels, { raw: { width: image.width, height: image.height, channels: 3 } });
  if (format === 'png') {
    const png = await base.png({ compressionLevel: 6 }).toBuffer();
    return addPngText(png, { parameters: metadata.parameters, easel: metadata.easel });
  }
  // The EXIF block is built here, not by sharp: libvips writes UserComment as ASCII and loses every non-ASCII
  // character, where A1111 writes (and reads) "UNICODE\0" + UTF-16BE.
  const encoded = await (format === 'jpeg' ? base.jpeg({ quality }) : base.webp({ quality })).toBuffer();
  const text = format === 'jpeg' ? fitInfotext(metadata.parameters, JPEG_USER_COMMENT_CHARS) : metadata.parameters;
  return insertExif(encoded, format, buildExifUserComment(text));
}

/** A small JPEG for live previews, scaled up so the browser need not magnify a 64×64 picture. */
export async function encodePreview(image: RgbImage, maxSide: number): Promise<{ jpeg: Buffer; width: number; height: number }> {
  const scale = Math.max(1, Math.floor(maxSide / Math.max(image.width, image.height)));
  const width = image.width * scale;
  const height = image.height * scale;
  const jpeg = await sharp(image.pixels, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(width, height, { kernel: 'cubic' })
    .jpeg({ quality: 80 })
    .toBuffer();
  return { jpeg, width, height };
}

/** Decoder output in [-1, 1], NCHW, one image → 8-bit RGB, rounding as diffusers does. */
export function tensorToRgb(data: Float32Array, width: number, height: number, offset = 0): RgbImage {
  const plane = width * height;
  const pixels = new Uint8Array(plane * 3);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < plane; i++) {
      const v = (data[offset + c * plane + i] as number) / 2 + 0.5;
      pixels[i * 3 + c] = Math.round(Math.min(1, Math.max(0, v)) * 255);
    }
  }
  return { width, height, pixels };
}
