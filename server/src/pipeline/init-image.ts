// Turning the pictures a user gives (init image, inpainting mask) into the tensors the pipeline needs.
import type { RgbImage } from '../images/encode.js';

/** An 8-bit single-channel picture; 255 = white. */
export interface GrayImage {
  width: number;
  height: number;
  pixels: Uint8Array;
}

/** RGB bytes → [1, 3, H, W] in [-1, 1], as diffusers' image processor normalizes. */
export function rgbToTensor(image: RgbImage): Float32Array {
  const plane = image.width * image.height;
  const out = new Float32Array(plane * 3);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) out[c * plane + i] = ((image.pixels[i * 3 + c] as number) / 255) * 2 - 1;
  }
  return out;
}

/**
 * The mask at latent resolution (nearest neighbour, as diffusers interpolates it), binarized at 0.5:
 * 1 where the picture is repainted (white), 0 where it is kept.
 */
export function maskToLatent(mask: GrayImage, latentWidth: number, latentHeight: number): Float32Array {
  const out = new Float32Array(latentWidth * latentHeight);
  for (let y = 0; y < latentHeight; y++) {
    const sy = Math.min(mask.height - 1, Math.floor((y * mask.height) / latentHeight));
    for (let x = 0; x < latentWidth; x++) {
      const sx = Math.min(mask.width - 1, Math.floor((x * mask.width) / latentWidth));
      out[y * latentWidth + x] = (mask.pixels[sy * mask.width + sx] as number) / 255 >= 0.5 ? 1 : 0;
    }
  }
  return out;
}

/** The init image with the repainted area blanked (0 in [-1, 1] space), for 9-channel inpainting UNets. */
export function maskedImageTensor(image: Float32Array, mask: GrayImage): Float32Array {
  const plane = mask.width * mask.height;
  const out = new Float32Array(image.length);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < plane; i++) {
      const keep = (mask.pixels[i] as number) / 255 < 0.5;
      out[c * plane + i] = keep ? (image[c * plane + i] as number) : 0;
    }
  }
  return out;
}
