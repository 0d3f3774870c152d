import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import type { RgbImage } from '../../server/src/images/encode.js';
import { bandedPicture as picture } from '../helpers/test-pictures.js';
import { haarDwt2, haarIdwt2 } from '../../server/src/filters/haar.js';
import { rgbToYuv, yuvToRgb } from '../../server/src/filters/opencv-yuv.js';
import { DEFAULT_WATERMARK_TEXT } from '../../server/src/filters/available.js';
import {
  bitsToText,
  embedWatermark,
  readWatermark,
  textToBits,
} from '../../server/src/filters/watermark.js';

// Golden values below were produced once by the reference stack itself: OpenCV 4.6 (cv2.cvtColor), PyWavelets 1.1.1,
// and `invisible-watermark`'s imwatermark/maxDct.py run unchanged on the same input pictures.

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

async function viaFile(image: RgbImage, format: 'png' | 'jpeg', quality = 90): Promise<RgbImage> {
  const raw = sharp(Buffer.from(image.pixels), { raw: { width: image.width, height: image.height, channels: 3 } });
  const file = format === 'png' ? await raw.png().toBuffer() : await raw.jpeg({ quality }).toBuffer();
  const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, pixels: new Uint8Array(data) };
}

test('"StableDiffusionV1" is 136 bits, most significant bit first, and reads back', () => {
  const bits = textToBits(DEFAULT_WATERMARK_TEXT);
  assert.equal(bits.length, 136);
  assert.deepEqual(bits.slice(0, 8), [0, 1, 0, 1, 0, 0, 1, 1], "'S' is 0x53");
  assert.equal(bitsToText(bits), DEFAULT_WATERMARK_TEXT);
});

test('YUV conversion matches OpenCV 8-bit COLOR_BGR2YUV / COLOR_YUV2BGR', () => {
  // [R, G, B] inputs (OpenCV was given the same pixels as BGR).
  const rgb = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255], [0, 0, 0], [99, 200, 37], [128, 128, 128], [240, 10, 250]];
  const planes = rgbToYuv({ width: rgb.length, height: 1, pixels: Uint8Array.from(rgb.flat()) });
  const yuv = Array.from(planes.y, (y, i) => [y, planes.u[i], planes.v[i]]);
  assert.deepEqual(yuv, [[76, 91, 255], [150, 54, 0], [29, 239, 103], [255, 128, 128], [0, 128, 128], [151, 72, 82], [128, 128, 128], [106, 199, 246]]);
  const back = yuvToRgb({
    width: 6,
    height: 1,
    y: Uint8Array.of(76, 150, 29, 200, 10, 128),
    u: Uint8Array.of(91, 54, 239, 10, 250, 128),
    v: Uint8Array.of(255, 21, 107, 250, 5, 128),
  });
  // OpenCV's BGR answers, written here as RGB.
  assert.deepEqual(Array.from(back.pixels), [221, 17, 1, 28, 241, 0, 5, 0, 255, 255, 176, 0, 0, 33, 255, 128, 128, 128]);
});

test('the Haar transform reproduces pywt.dwt2 / idwt2 to the last bit, including the swapped-band inverse', () => {
  const x = [1, 2, 3, 4, 5, 6, 7, 9, 11, 13, 17, 19, 23, 29, 31, 37];
  const bands = haarDwt2({ width: 4, height: 4, data: Float64Array.from(x) });
  assert.deepEqual(Array.from(bands.aa.data), [7.000000000000002, 11.500000000000004, 38.00000000000001, 52.00000000000001]);
  assert.deepEqual(Array.from(bands.da.data), [-4.000000000000001, -4.5, -14.000000000000002, -16.000000000000004]);
  assert.deepEqual(Array.from(bands.ad.data), [-1.0000000000000004, -1.5000000000000009, -4, -4]);
  assert.deepEqual(Array.from(bands.dd.data), [0, 0.5000000000000004, 2.0000000000000018, 2]);
  const swapped = haarIdwt2({ aa: bands.aa, da: bands.ad, ad: bands.da, dd: bands.dd });
  assert.deepEqual(Array.from(swapped.data), [
    1.0000000000000004, 5.000000000000002, 3.0000000000000018, 7.000000000000003, 2.0000000000000013, 6.000000000000002,
    4.000000000000003, 9.000000000000004, 11.000000000000005, 23.00000000000001, 17.000000000000004, 31.000000000000007,
    13.000000000000005, 29.00000000000001, 19.000000000000004, 37.00000000000001,
  ]);
});

test('embedding gives the same pixels as the invisible-watermark package, at any size', () => {
  // sha256 of the package's output (converted back to RGB) for these two pictures.
  assert.equal(sha256(embedWatermark(picture(512, 512, 1), DEFAULT_WATERMARK_TEXT).pixels), '3a797f125382ed9d44df0fa428c27be63598ed05881145a68b0c4f39af6da9d1');
  assert.equal(sha256(embedWatermark(picture(258, 259, 11), DEFAULT_WATERMARK_TEXT).pixels), '7b5446467624b98e6f2fcdf4a4dfaca0c8e0a3204e4a0156f1dc94f80d51f95d');
});

test('embed → PNG → decode recovers the text; an unmarked picture does not carry it', async () => {
  const image = picture(512, 512, 1);
  const marked = await viaFile(embedWatermark(image, DEFAULT_WATERMARK_TEXT), 'png');
  assert.equal(readWatermark(marked, 136).text, DEFAULT_WATERMARK_TEXT);
  assert.notEqual(readWatermark(image, 136).text, DEFAULT_WATERMARK_TEXT);
  const custom = await viaFile(embedWatermark(image, 'Easel'), 'png');
  assert.equal(readWatermark(custom, 40).text, 'Easel');
});

test('pictures under 256×256 pixels are refused, as the package refuses them', () => {
  assert.throws(() => embedWatermark(picture(255, 256, 1), DEFAULT_WATERMARK_TEXT), /256×256/);
  assert.throws(() => readWatermark(picture(64, 64, 1), 136), /256×256/);
});
