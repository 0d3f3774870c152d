// The ViT NSFW classifier's preprocessing and flag rule, without a model: FaceFusion's letterbox geometry (sizes
// printed by Python running fit_frame's arithmetic), the normalisation, and NSFW − SFW > 0.25.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { letterbox, vitFlagged, vitInput } from '../../server/src/filters/nsfw-vit.js';

test('letterbox geometry is fit_frame’s: truncated sizes, centred, the odd pixel right and bottom', () => {
  const cases: [number, number, [number, number, number, number]][] = [
    [512, 512, [384, 384, 0, 0]],
    [768, 512, [384, 256, 0, 64]],
    [512, 768, [256, 384, 64, 0]],
    [517, 389, [384, 288, 0, 48]],
    [912, 512, [384, 215, 0, 84]],
    [385, 384, [384, 383, 0, 0]],
    [1000, 3, [384, 1, 0, 191]],
    [64, 64, [384, 384, 0, 0]],
  ];
  for (const [w, h, [width, height, left, top]] of cases) {
    assert.deepEqual(letterbox(w, h, 384), { width, height, left, top }, `${w}×${h}`);
  }
});

test('the input is RGB NCHW in [−1, 1], with black (−1) bars around the picture', async () => {
  // 40×20 pure red: scaled to 16×8 in a 16×16 input, rows 4–11 hold the picture.
  const pixels = new Uint8Array(40 * 20 * 3);
  for (let i = 0; i < 40 * 20; i++) pixels[i * 3] = 255;
  const input = await vitInput({ width: 40, height: 20, pixels }, 16);
  assert.equal(input.length, 3 * 16 * 16);
  const at = (c: number, y: number, x: number) => input[c * 256 + y * 16 + x];
  for (const y of [0, 3, 12, 15]) assert.deepEqual([at(0, y, 5), at(1, y, 5), at(2, y, 5)], [-1, -1, -1], `bar row ${y}`);
  for (const y of [4, 8, 11]) assert.deepEqual([at(0, y, 0), at(1, y, 0), at(2, y, 15)], [1, -1, -1], `picture row ${y}`);
});

test('flagged when NSFW − SFW is more than 0.25', () => {
  assert.equal(vitFlagged({ nsfw: 0.6, sfw: 0.3 }), true);
  assert.equal(vitFlagged({ nsfw: 0.75, sfw: 0.5 }), false, 'exactly 0.25 is not more');
  assert.equal(vitFlagged({ nsfw: 0.3, sfw: 0.6 }), false);
});
