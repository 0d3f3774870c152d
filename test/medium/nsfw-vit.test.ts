// The catalog ViT NSFW classifier on real onnxruntime, with a tiny model of its tensor contract placed where the
// catalog installs it (test/helpers/nsfw-model.ts: NSFW = mean red, SFW = mean blue): classification with the
// letterbox bars counted, I/O names read from the session, and the filter chain blurring a flagged picture.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { availableFilters, nsfwClassifierFor } from '../../server/src/filters/available.js';
import { applyFilterChain } from '../../server/src/filters/filter-chain.js';
import { releaseFilterModels } from '../../server/src/filters/model-cache.js';
import { checkNsfw, previewGuard } from '../../server/src/filters/nsfw.js';
import { classifyVit } from '../../server/src/filters/nsfw-vit.js';
import type { RgbImage } from '../../server/src/images/encode.js';
import { installTinyNsfwVit } from '../helpers/nsfw-model.js';

let modelsDir: string;
before(async () => {
  modelsDir = await mkdtemp(join(tmpdir(), 'easel-nsfw-vit-'));
  await installTinyNsfwVit(modelsDir);
});
after(async () => {
  await releaseFilterModels();
  await rm(modelsDir, { recursive: true, force: true });
});

/** Stripes of two shades of one colour channel (0 red, 2 blue): detail a blur must remove. */
function stripes(width: number, height: number, channel: 0 | 2): RgbImage {
  const pixels = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) pixels[(y * width + x) * 3 + channel] = (x >> 2) % 2 ? 255 : 120;
  }
  return { width, height, pixels };
}

/** Mean absolute difference between horizontal neighbours. */
function detail(image: RgbImage): number {
  let sum = 0;
  for (let i = 3; i < image.pixels.length; i++) sum += Math.abs((image.pixels[i] as number) - (image.pixels[i - 3] as number));
  return sum / image.pixels.length;
}

const solid = (width: number, height: number, rgb: [number, number, number]): RgbImage => {
  const pixels = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) pixels.set(rgb, i * 3);
  return { width, height, pixels };
};

test('the tiny ViT runs through onnxruntime; the letterbox bars reach the model as black (−1)', async () => {
  const square = await classifyVit(solid(64, 64, [255, 0, 0]), { modelsDir });
  assert.ok(Math.abs(square.nsfw - 1) < 1e-3 && Math.abs(square.sfw + 1) < 1e-3, JSON.stringify(square));
  // 300×150 fills half of the 384² input; the other half is bars, so the red mean is (1 − 1) / 2.
  const wide = await classifyVit(solid(300, 150, [255, 0, 0]), { modelsDir });
  assert.ok(Math.abs(wide.nsfw) < 1e-3, `red mean with bars ${wide.nsfw}`);
  const blue = await classifyVit(solid(300, 150, [0, 0, 255]), { modelsDir });
  assert.ok(blue.sfw > blue.nsfw + 0.9, JSON.stringify(blue));
});

test('input and output names come from the session, not from the code', async () => {
  const other = await mkdtemp(join(tmpdir(), 'easel-nsfw-vit-names-'));
  try {
    await installTinyNsfwVit(other, { outputName: 'logits' });
    const scores = await classifyVit(solid(32, 32, [255, 0, 0]), { modelsDir: other });
    assert.ok(scores.nsfw > 0.99, JSON.stringify(scores));
  } finally {
    await releaseFilterModels();
    await rm(other, { recursive: true, force: true });
  }
});

test('through the filter chain: a flagged picture comes out blurred, and the result names the classifier', async () => {
  const red = stripes(96, 64, 0);
  const hooks = { modelsDir, shouldStop: () => false };
  const flagged = await applyFilterChain(red, { nsfwFilter: true, nsfwClassifier: 'nsfw-marqo-384' }, hooks);
  assert.equal(flagged.nsfw?.classifier, 'nsfw-marqo-384');
  assert.equal(flagged.nsfw?.flagged, true);
  assert.ok(detail(flagged.image) < detail(red) / 4, `detail ${detail(flagged.image)} vs ${detail(red)}`);
  assert.deepEqual(flagged.params, [['NSFW filter', 'nsfw-marqo-384'], ['NSFW result', 'blurred']]);

  const blue = stripes(96, 64, 2);
  const passed = await applyFilterChain(blue, { nsfwFilter: true, nsfwClassifier: 'nsfw-marqo-384' }, hooks);
  assert.equal(passed.nsfw?.flagged, false);
  assert.deepEqual(passed.image.pixels, blue.pixels, 'a picture that passes is not touched');
  assert.deepEqual(passed.params, [['NSFW filter', 'nsfw-marqo-384'], ['NSFW result', 'passed']]);
});

test('live previews use the same classifier: a flagged one is blurred', async () => {
  const guard = previewGuard({ modelsDir }, 'nsfw-marqo-384');
  const red = stripes(64, 64, 0);
  assert.ok(detail(await guard(red)) < detail(red) / 4);
});

test('installed in the model store: listed as a classifier, and "auto" picks it', async () => {
  assert.deepEqual((await availableFilters(modelsDir)).nsfw.map((m) => m.id), ['nsfwjs', 'nsfw-marqo-384']);
  assert.equal(nsfwClassifierFor('auto', modelsDir), 'nsfw-marqo-384');
  assert.equal(nsfwClassifierFor('nsfwjs', modelsDir), 'nsfwjs');
  const empty = await mkdtemp(join(tmpdir(), 'easel-nsfw-none-'));
  try {
    assert.deepEqual((await availableFilters(empty)).nsfw.map((m) => m.id), ['nsfwjs']);
    assert.equal(nsfwClassifierFor('auto', empty), 'nsfwjs');
    assert.equal(nsfwClassifierFor('nsfw-marqo-384', empty), 'nsfwjs', 'removed since it was chosen: the built-in checks instead');
    const verdict = await checkNsfw(solid(32, 32, [255, 0, 0]), 'nsfw-marqo-384', { modelsDir: empty });
    assert.equal(verdict.classifier, 'nsfwjs', 'a job queued with the ViT, which is gone by the time it runs, is still checked');
    assert.deepEqual(Object.keys(verdict.scores).sort(), ['drawing', 'hentai', 'neutral', 'porn', 'sexy']);
  } finally {
    await rm(empty, { recursive: true, force: true });
  }
});
