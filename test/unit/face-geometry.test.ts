import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apply, estimateSimilarity, FFHQ_TEMPLATE_512, pasteBack, warpToCrop, type Point, type Similarity } from '../../server/src/filters/face-align.js';
import { decodeYunet, suppress, type DetectedFace } from '../../server/src/filters/face-detect.js';
import { dotCentre, drawDots } from '../helpers/synthetic-face.js';

/** Template → picture: a face turned 20°, at 40% of the template's size, placed at (150, 90). */
const toPicture: Similarity = { a: 0.4 * Math.cos(0.35), b: 0.4 * Math.sin(0.35), tx: 150, ty: 90 };
const landmarks = FFHQ_TEMPLATE_512.map((p) => apply(toPicture, p));

test('alignment maps known landmarks onto the 512×512 template', () => {
  const toCrop = estimateSimilarity(landmarks, FFHQ_TEMPLATE_512);
  for (const [i, p] of landmarks.entries()) {
    const q = apply(toCrop, p);
    assert.ok(Math.hypot(q.x - FFHQ_TEMPLATE_512[i]!.x, q.y - FFHQ_TEMPLATE_512[i]!.y) < 1e-9);
  }
  // And the warped picture puts each drawn dot there, within a pixel.
  const picture = drawDots(420, 380, landmarks, 5);
  const crop = warpToCrop(picture, toCrop);
  assert.deepEqual([crop.width, crop.height], [512, 512]);
  for (let k = 0; k < 5; k++) {
    const c = dotCentre(crop, k);
    const t = FFHQ_TEMPLATE_512[k]!;
    assert.ok(Math.hypot(c.x - t.x, c.y - t.y) < 1, `landmark ${k}: dot at (${c.x.toFixed(2)}, ${c.y.toFixed(2)}), template (${t.x}, ${t.y})`);
  }
});

test('with inexact landmarks the transform is the least-squares one', () => {
  const noisy = landmarks.map((p, i) => ({ x: p.x + [1.5, -2, 0.7, -0.4, 2.2][i]!, y: p.y + [-1, 0.8, 1.9, -2.5, 0.3][i]! }));
  const best = estimateSimilarity(noisy, FFHQ_TEMPLATE_512);
  const cost = (m: Similarity) => noisy.reduce((s, p, i) => s + (apply(m, p).x - FFHQ_TEMPLATE_512[i]!.x) ** 2 + (apply(m, p).y - FFHQ_TEMPLATE_512[i]!.y) ** 2, 0);
  const base = cost(best);
  for (const key of ['a', 'b', 'tx', 'ty'] as const) {
    for (const step of [1e-3, -1e-3]) {
      assert.ok(cost({ ...best, [key]: best[key] + step * (key.startsWith('t') ? 100 : 1) }) > base, `nudging ${key} does not lower the error`);
    }
  }
});

test('paste-back changes the face area only; strength 0 changes nothing', () => {
  const picture = drawDots(420, 380, landmarks, 5);
  const toCrop = estimateSimilarity(landmarks, FFHQ_TEMPLATE_512);
  const face = { width: 512, height: 512, pixels: new Uint8Array(512 * 512 * 3).fill(250) };
  const pasted = pasteBack(picture, face, toCrop, 1);
  const back = (x: number, y: number): Point => apply(toCrop, { x, y });
  let changedInside = 0;
  for (let y = 0; y < 380; y++) {
    for (let x = 0; x < 420; x++) {
      const q = back(x, y);
      const i = (y * 420 + x) * 3;
      const outside = q.x < -1 || q.y < -1 || q.x > 512 || q.y > 512;
      if (outside) assert.equal(pasted.pixels[i], picture.pixels[i], `pixel ${x},${y} is far from the face`);
      else if (q.x > 100 && q.x < 412 && q.y > 100 && q.y < 412 && pasted.pixels[i] === 250) changedInside++;
    }
  }
  assert.ok(changedInside > 1000, 'the middle of the face takes the restored pixels');
  assert.deepEqual(pasteBack(picture, face, toCrop, 0).pixels, picture.pixels);
});

test("YuNet outputs decode as OpenCV's FaceDetectorYN does, then overlapping boxes are suppressed", () => {
  const side = 64;
  const outputs: Record<string, { data: Float32Array }> = {};
  for (const s of [8, 16, 32]) {
    const n = (side / s) ** 2;
    outputs[`cls_${s}`] = { data: new Float32Array(n) };
    outputs[`obj_${s}`] = { data: new Float32Array(n) };
    outputs[`bbox_${s}`] = { data: new Float32Array(n * 4) };
    outputs[`kps_${s}`] = { data: new Float32Array(n * 10) };
  }
  // Anchor (row 2, col 3) at stride 8; cls above 1 is clamped, so the score is √(1 · 0.81) = 0.9.
  const i = 2 * 8 + 3;
  outputs.cls_8!.data[i] = 1.4;
  outputs.obj_8!.data[i] = 0.81;
  outputs.bbox_8!.data.set([0.5, 0.25, Math.log(2), 0], i * 4);
  outputs.kps_8!.data.set([0, 0, 1, 0, 0.5, 0.5, 0, 1, 1, 1], i * 10);
  // A weaker face overlapping it at stride 16 (row 1, col 1).
  outputs.cls_16!.data[5] = 0.7;
  outputs.obj_16!.data[5] = 0.7;
  outputs.bbox_16!.data.set([0.7, 0.3, 0, 0], 5 * 4);
  const faces = decodeYunet(outputs, side, side, 0.6);
  assert.equal(faces.length, 2);
  const best = faces[0]!;
  assert.ok(Math.abs(best.score - 0.9) < 1e-6);
  const box = best.box;
  assert.deepEqual([box.x, box.y, box.width, box.height].map((v) => +v.toFixed(4)), [(3 + 0.5) * 8 - 8, (2 + 0.25) * 8 - 4, 16, 8]);
  assert.deepEqual(best.landmarks.map((p) => [p.x, p.y]), [[24, 16], [32, 16], [28, 20], [24, 24], [32, 24]]);
  const kept = suppress(faces, 0.3);
  assert.deepEqual(kept.map((f: DetectedFace) => f.score.toFixed(2)), ['0.90']);
  assert.throws(() => decodeYunet({ ...outputs, kps_32: { data: new Float32Array(3) } }, side, side, 0.6), /kps_32 has 3 values, 40 expected/);
});
