// Small deterministic pictures for filter tests, built with integer arithmetic only so they are the same
// everywhere (golden hashes depend on every byte).
import type { RgbImage } from '../../server/src/images/encode.js';

/** Colour bands with a diagonal chroma texture; with k = 1 at 512×512 the invisible watermark reads back whole. */
export function bandedPicture(width: number, height: number, k: number): RgbImage {
  const pixels = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const t = ((x * k + y * 3) % 23) * 4;
      pixels[i] = 40 + ((x * 160) / width | 0) + (t >> 2);
      pixels[i + 1] = 60 + ((y * 120) / height | 0);
      pixels[i + 2] = 50 + t + (((x + y) * 40) / (width + height) | 0);
    }
  }
  return { width, height, pixels };
}
