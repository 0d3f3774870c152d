// The cheap live preview: a fixed linear map from the 4 latent channels to RGB (A1111's "Approx cheap" factors
// for SD 1.x/2.x), applied to the predicted clean latents of one image. 12 multiply-adds a pixel.
import type { RgbImage } from '../../images/encode.js';

// rows: latent channels 0..3; columns: R, G, B.
const SD_FACTORS = [
  [0.298, 0.207, 0.208],
  [0.187, 0.286, 0.173],
  [-0.158, 0.189, 0.264],
  [-0.184, -0.271, -0.473],
] as const;

/** `latents` holds one image's [4, h, w] UNet-space latents starting at `offset`. */
export function latentsToRgb(latents: Float32Array, width: number, height: number, offset = 0): RgbImage {
  const plane = width * height;
  const pixels = new Uint8Array(plane * 3);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      let v = 0;
      for (let k = 0; k < 4; k++) v += (latents[offset + k * plane + i] as number) * (SD_FACTORS[k] as readonly number[])[c]!;
      pixels[i * 3 + c] = Math.round(Math.min(1, Math.max(0, (v + 1) / 2)) * 255);
    }
  }
  return { width, height, pixels };
}
