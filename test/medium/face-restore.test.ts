// Face restoration on real onnxruntime sessions: tiny models with the tensor contracts of YuNet, GFPGAN 1.4 and
// CodeFormer, written by the graph builder, and a synthetic face whose landmarks are known.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apply, estimateSimilarity, FFHQ_TEMPLATE_512, type Similarity } from '../../server/src/filters/face-align.js';
import { detectFaces } from '../../server/src/filters/face-detect.js';
import { installedRestorers, restoreFaces } from '../../server/src/filters/face-restore.js';
import { filterModel, releaseFilterModels } from '../../server/src/filters/model-cache.js';
import { writeTinyDetector, writeTinyRestorer } from '../helpers/face-models.js';
import { drawDots } from '../helpers/synthetic-face.js';

const WIDTH = 320;
const HEIGHT = 240;
const DETECTOR_SIDE = 160; // the picture goes in at half size
const toPicture: Similarity = { a: 0.3 * Math.cos(-0.2), b: 0.3 * Math.sin(-0.2), tx: 95, ty: 40 };
const landmarks = FFHQ_TEMPLATE_512.map((p) => apply(toPicture, p));
const picture = drawDots(WIDTH, HEIGHT, landmarks, 3);
let modelsDir: string;

before(async () => {
  modelsDir = await mkdtemp(join(tmpdir(), 'easel-faces-'));
  const half = landmarks.map((p) => ({ x: p.x / 2, y: p.y / 2 }));
  const xs = half.map((p) => p.x);
  const ys = half.map((p) => p.y);
  const box = { x: Math.min(...xs) - 10, y: Math.min(...ys) - 15, width: Math.max(...xs) - Math.min(...xs) + 20, height: Math.max(...ys) - Math.min(...ys) + 25 };
  await writeTinyDetector(join(modelsDir, 'face-restore', 'yunet', 'model.onnx'), DETECTOR_SIDE, { landmarks: half, box });
  await writeTinyRestorer(join(modelsDir, 'face-restore', 'gfpgan-1.4', 'model.onnx'));
  await writeTinyRestorer(join(modelsDir, 'face-restore', 'codeformer', 'model.onnx'), { fidelityInput: true, seed: 6 });
});
after(async () => {
  await releaseFilterModels();
  await rm(modelsDir, { recursive: true, force: true });
});

test('the detector finds the face and its landmarks in picture pixels', async () => {
  const detector = await filterModel(join(modelsDir, 'face-restore', 'yunet', 'model.onnx'));
  const faces = await detectFaces(detector, picture);
  assert.equal(faces.length, 1);
  assert.ok(Math.abs(faces[0]!.score - 0.95) < 0.01);
  faces[0]!.landmarks.forEach((p, i) => assert.ok(Math.hypot(p.x - landmarks[i]!.x, p.y - landmarks[i]!.y) < 0.5, `landmark ${i}`));
});

test('installed restorers exclude the detector and prefer GFPGAN 1.4', async () => {
  assert.deepEqual(await installedRestorers(modelsDir), ['gfpgan-1.4', 'codeformer']);
});

/** Picture pixels whose position in the face crop is well outside it. */
function farFromFace(x: number, y: number): boolean {
  const q = apply(estimateSimilarity(landmarks, FFHQ_TEMPLATE_512), { x, y });
  return q.x < -2 || q.y < -2 || q.x > 514 || q.y > 514;
}

for (const model of ['gfpgan-1.4', 'codeformer']) {
  test(`${model}: the face changes, the rest of the picture does not, progress counts the faces`, async () => {
    const progress: [number, number][] = [];
    const out = await restoreFaces(picture, { model, strength: 1 }, { modelsDir, onProgress: (d, t) => void progress.push([d, t]) });
    assert.deepEqual([out.width, out.height], [WIDTH, HEIGHT]);
    let far = 0;
    let changed = 0;
    for (let y = 0; y < HEIGHT; y++) {
      for (let x = 0; x < WIDTH; x++) {
        const i = (y * WIDTH + x) * 3;
        const same = out.pixels[i] === picture.pixels[i] && out.pixels[i + 1] === picture.pixels[i + 1] && out.pixels[i + 2] === picture.pixels[i + 2];
        if (farFromFace(x, y)) {
          far++;
          assert.ok(same, `pixel ${x},${y} is far from the face and must not change`);
        } else if (!same) changed++;
      }
    }
    assert.ok(far > 10_000 && changed > 2_000, `far ${far}, changed ${changed}`);
    assert.deepEqual(progress, [[1, 2], [2, 2]]);
  });
}

test('strength 0 returns the input; strength 0.5 lands between', async () => {
  assert.equal(await restoreFaces(picture, { model: 'gfpgan-1.4', strength: 0 }, { modelsDir }), picture);
  const full = await restoreFaces(picture, { model: 'gfpgan-1.4', strength: 1 }, { modelsDir });
  const half = await restoreFaces(picture, { model: 'gfpgan-1.4', strength: 0.5 }, { modelsDir });
  const at = (y: number, x: number) => (y * WIDTH + x) * 3;
  const nose = landmarks[2]!;
  const i = at(Math.round(nose.y) - 8, Math.round(nose.x));
  const mid = (picture.pixels[i]! + full.pixels[i]!) / 2;
  assert.ok(Math.abs(half.pixels[i]! - mid) <= 1, `${picture.pixels[i]} → ${half.pixels[i]} → ${full.pixels[i]}`);
});

test("CodeFormer's fidelity weight reaches the model: w = 1 keeps its input, w = 0 does not", async () => {
  const keep = await restoreFaces(picture, { model: 'codeformer', fidelity: 1 }, { modelsDir });
  const change = await restoreFaces(picture, { model: 'codeformer', fidelity: 0 }, { modelsDir });
  assert.notDeepEqual(keep.pixels, change.pixels);
});

test('a missing model or detector is a sentence naming it', async () => {
  await assert.rejects(restoreFaces(picture, { model: 'restoreformer' }, { modelsDir }), /face restoration model "restoreformer" is not installed/);
  const empty = await mkdtemp(join(tmpdir(), 'easel-nofaces-'));
  try {
    await writeTinyRestorer(join(empty, 'face-restore', 'gfpgan-1.4', 'model.onnx'));
    await assert.rejects(restoreFaces(picture, {}, { modelsDir: empty }), /face detector "yunet" is not installed/);
  } finally {
    await rm(empty, { recursive: true, force: true });
  }
});
