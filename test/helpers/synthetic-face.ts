// A synthetic "face" for geometry tests: five coloured dots at known landmark positions on a grey picture.
import type { RgbImage } from '../../server/src/images/encode.js';
import type { Point } from '../../server/src/filters/face-align.js';

export const DOT_COLOURS = [
  [255, 0, 0],
  [0, 255, 0],
  [0, 0, 255],
  [255, 255, 0],
  [255, 0, 255],
] as const;

export function drawDots(width: number, height: number, points: readonly Point[], radius: number): RgbImage {
  const pixels = new Uint8Array(width * height * 3).fill(128);
  points.forEach((p, k) => {
    for (let y = Math.floor(p.y - radius); y <= Math.ceil(p.y + radius); y++) {
      for (let x = Math.floor(p.x - radius); x <= Math.ceil(p.x + radius); x++) {
        if (x < 0 || y < 0 || x >= width || y >= height || (x - p.x) ** 2 + (y - p.y) ** 2 > radius * radius) continue;
        pixels.set(DOT_COLOURS[k] as readonly number[], (y * width + x) * 3);
      }
    }
  });
  return { width, height, pixels };
}

/** Centroid of the pixels close to dot k's colour. */
export function dotCentre(image: RgbImage, k: number): Point {
  const [r, g, b] = DOT_COLOURS[k] as readonly [number, number, number];
  let sx = 0;
  let sy = 0;
  let n = 0;
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      const i = (y * image.width + x) * 3;
      const d = Math.abs((image.pixels[i] as number) - r) + Math.abs((image.pixels[i + 1] as number) - g) + Math.abs((image.pixels[i + 2] as number) - b);
      if (d < 60) {
        sx += x;
        sy += y;
        n++;
      }
    }
  }
  return { x: sx / n, y: sy / n };
}
