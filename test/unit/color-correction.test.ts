import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labToRgb, matchHistogram, preserveColors, rgbToLab } from '../../server/src/images/color-correction.js';

function image(width: number, height: number, pixel: (x: number, y: number) => [number, number, number]) {
  const pixels = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) pixels.set(pixel(x, y), (y * width + x) * 3);
  return { width, height, pixels };
}

test('sRGB → Lab → sRGB is lossless to within a level, and known colours land where CIELAB puts them', () => {
  const img = image(16, 16, (x, y) => [x * 16, y * 16, (x * y) % 256]);
  const back = labToRgb(rgbToLab(img), 16, 16);
  img.pixels.forEach((v, i) => assert.ok(Math.abs(v - (back.pixels[i] as number)) <= 1));
  const [L, A, B] = rgbToLab(image(1, 1, () => [255, 0, 0]));
  assert.ok(Math.abs((L[0] as number) - 53.24) < 0.05 && Math.abs((A[0] as number) - 80.09) < 0.05 && Math.abs((B[0] as number) - 67.2) < 0.05);
});

test('histogram matching gives the reference distribution and keeps the source order', () => {
  const out = matchHistogram(Float64Array.of(3, 1, 2, 1), Float64Array.of(10, 20, 30, 40));
  assert.ok((out[1] as number) === out[3], 'ties map together');
  assert.ok((out[1] as number) < (out[2] as number) && (out[2] as number) < (out[0] as number));
  assert.equal(out[0], 40);
});

test("preserving colours pulls a drifted result back to the init image's colours and keeps its lightness", () => {
  const init = image(8, 8, (x) => [200, 60 + x * 4, 40]); // warm
  const drifted = image(8, 8, (x) => [60, 80 + x * 4, 190]); // cold, same layout
  const fixed = preserveColors(drifted, init);
  const mean = (img: { pixels: Uint8Array }, c: number) => {
    let s = 0;
    for (let i = c; i < img.pixels.length; i += 3) s += img.pixels[i] as number;
    return s / (img.pixels.length / 3);
  };
  assert.ok(mean(fixed, 0) > mean(fixed, 2), 'red dominates blue again');
  const [Ld] = rgbToLab(drifted);
  const [Lf] = rgbToLab(fixed);
  Ld.forEach((v, i) => assert.ok(Math.abs(v - (Lf[i] as number)) < 6, `lightness kept (${v} vs ${Lf[i]})`));
});
