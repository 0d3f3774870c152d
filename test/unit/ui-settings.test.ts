// The form's values outside the page: what survives a reload or a paste, the requests one click makes, repeating a
// finished job, and how style modifiers join a prompt.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { JobView } from '../../server/src/http/schemas.js';
import { DEFAULT_VALUES, buildRequests, fitSize, repeatRequest, sanitizeValues, valuesFromRequest, valuesToJson, type FormValues } from '../../ui/src/lib/settings.js';
import { applyModifiers, clampWeight, modifierText, moveItem, parseChosen } from '../../ui/src/lib/modifiers.js';

const values = (changes: Partial<FormValues> = {}): FormValues => ({ ...DEFAULT_VALUES, modifiers: [], ...changes });

const finished: JobView['request'] = {
  prompt: 'a fox',
  negativePrompt: 'blurry',
  model: 'tiny-test',
  sampler: 'euler_a',
  steps: 12,
  cfgScale: 6,
  width: 256,
  height: 192,
  seed: 77,
  count: 2,
  outputFormat: 'webp',
  quality: 80,
  initImage: 'in-abc',
  strength: 0.5,
  mask: 'in-def',
  preserveColors: true,
};

describe('form values from outside the page', () => {
  it('round-trips through the JSON that Copy settings writes', () => {
    const original = values({ prompt: 'x', steps: 30, width: null, outputFormat: 'jpeg', modifiers: [{ text: 'sepia', weight: 1.2, enabled: false }] });
    assert.deepEqual(sanitizeValues(JSON.parse(valuesToJson(original))), original);
  });

  it('keeps only well-formed values from pasted or stored data', () => {
    const pasted = { steps: 500, cfgScale: 7, width: 513, height: 768, seed: -5, count: 3, outputFormat: 'gif', strength: 0, quality: 101, randomSeed: 'yes', extra: 1, modifiers: [{ text: ' ink ', weight: 9 }, { weight: 1 }] };
    assert.deepEqual(sanitizeValues(pasted), { cfgScale: 7, height: 768, count: 3, modifiers: [{ text: 'ink', weight: 2, enabled: true }] });
    assert.deepEqual(sanitizeValues('not an object'), {});
    assert.deepEqual(sanitizeValues([1, 2]), {});
  });

  it('reproduces a finished job with its seed fixed', () => {
    const restored = valuesFromRequest(finished);
    assert.equal(restored.seed, 77);
    assert.equal(restored.randomSeed, false);
    assert.equal(restored.sampler, 'euler_a');
    assert.equal(restored.strength, 0.5);
    assert.equal(restored.preserveColors, true);
  });
});

describe('the requests one click makes', () => {
  it('makes one request per prompt with the modifiers appended and a random seed', () => {
    const requests = buildRequests(values({ model: 'm', sampler: 's', modifiers: [{ text: 'ink', weight: 1.3, enabled: true }] }), ['a', 'b'], null, null);
    assert.equal(requests.length, 2);
    assert.deepEqual(requests[0], { prompt: 'a, (ink:1.3)', model: 'm', sampler: 's', steps: 20, cfgScale: 7.5, width: 512, height: 512, seed: -1, count: 1, outputFormat: 'png' });
    assert.equal(requests[1]?.prompt, 'b, (ink:1.3)');
  });

  it('leaves emptied numbers to the server, fixes the seed when asked, and sends quality only where it matters', () => {
    const [request] = buildRequests(values({ steps: null, randomSeed: false, seed: 9, outputFormat: 'jpeg', quality: 70 }), ['a'], null, null);
    assert.equal(request?.steps, undefined);
    assert.equal(request?.seed, 9);
    assert.equal(request?.quality, 70);
  });

  it('sends strength, mask and colour preservation only with an initial image', () => {
    const picture = { ref: 'data:image/png;base64,AAAA', url: 'data:image/png;base64,AAAA', width: 64, height: 64 };
    const mask = { ...picture, ref: 'data:image/png;base64,BBBB' };
    const without = buildRequests(values({ preserveColors: true }), ['a'], null, mask)[0];
    assert.equal(without?.strength, undefined);
    assert.equal(without?.mask, undefined);
    assert.equal(without?.preserveColors, undefined);
    const withInit = buildRequests(values({ preserveColors: true, strength: 0.4 }), ['a'], picture, mask)[0];
    assert.equal(withInit?.initImage, picture.ref);
    assert.equal(withInit?.mask, mask.ref);
    assert.equal(withInit?.strength, 0.4);
    assert.equal(withInit?.preserveColors, true);
  });

  it('repeats a finished job as a valid request, with changes such as a new seed', () => {
    assert.deepEqual(repeatRequest(finished, { seed: -1 }), { ...finished, seed: -1 });
    const plain: JobView['request'] = { ...finished, outputFormat: 'png' };
    delete plain.initImage;
    const again = repeatRequest(plain);
    assert.equal(again.mask, undefined, 'a mask without an initial image would be refused');
    assert.equal(again.strength, undefined);
    assert.equal(again.preserveColors, undefined);
  });

  it('fits a picture’s size to what the server accepts, keeping its shape', () => {
    assert.deepEqual(fitSize(512, 512), { width: 512, height: 512 });
    assert.deepEqual(fitSize(1000, 750), { width: 1000, height: 752 });
    assert.deepEqual(fitSize(4000, 3000), { width: 1024, height: 768 });
    assert.deepEqual(fitSize(30, 10), { width: 64, height: 64 });
  });
});

describe('style modifiers', () => {
  it('joins enabled modifiers to the prompt, weighted ones in A1111 emphasis', () => {
    const chosen = [
      { text: 'watercolor', weight: 1, enabled: true },
      { text: 'golden hour', weight: 0.8, enabled: true },
      { text: 'sepia', weight: 1, enabled: false },
    ];
    assert.equal(applyModifiers('a fox ', chosen), 'a fox, watercolor, (golden hour:0.8)');
    assert.equal(applyModifiers('', chosen), 'watercolor, (golden hour:0.8)');
  });

  it('escapes brackets in a weighted modifier and keeps weights in range', () => {
    assert.equal(modifierText({ text: 'f(x)', weight: 1.5, enabled: true }), '(f\\(x\\):1.5)');
    assert.equal(clampWeight(7), 2);
    assert.equal(clampWeight(0), 0.1);
    assert.equal(clampWeight(1.25), 1.3);
  });

  it('reorders without losing or duplicating', () => {
    assert.deepEqual(moveItem(['a', 'b', 'c'], 0, 2), ['b', 'c', 'a']);
    assert.deepEqual(moveItem(['a', 'b', 'c'], 2, 0), ['c', 'a', 'b']);
    assert.deepEqual(moveItem(['a', 'b'], 0, 5), ['a', 'b']);
  });

  it('reads stored modifiers, dropping broken entries', () => {
    assert.deepEqual(parseChosen([{ text: 'ink', weight: 1.2, enabled: false }, 'x', null, { text: '' }]), [{ text: 'ink', weight: 1.2, enabled: false }]);
    assert.deepEqual(parseChosen({}), []);
  });
});

it('filters chosen in the form travel with every request, and back from a job', () => {
  const [request] = buildRequests(values({ upscaleFactor: 4, fixFaces: true, nsfwFilter: true, watermark: true }), ['a cat'], null, null);
  assert.deepEqual(request?.upscale, { factor: 4 });
  assert.deepEqual(request?.faceRestore, {});
  assert.equal(request?.nsfwFilter, true);
  assert.equal(request?.watermark, true);
  const [plain] = buildRequests(values(), ['a cat'], null, null);
  assert.ok(!('upscale' in plain!) && !('faceRestore' in plain!) && !('nsfwFilter' in plain!) && !('watermark' in plain!));
  assert.deepEqual(sanitizeValues({ upscaleFactor: 5, fixFaces: 'yes' }), {}, 'bad values are dropped');
});
