import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { addPngText, readPngText } from '../../server/src/images/png-text.js';
import { formatInfotext } from '../../server/src/images/infotext.js';

const fields = {
  prompt: 'a cat, (masterpiece:1.2)',
  negativePrompt: 'blurry',
  steps: 20,
  sampler: 'Euler',
  cfgScale: 7,
  seed: 42,
  width: 512,
  height: 768,
  model: 'v1-5',
  version: '0.1.0',
};

test('infotext follows A1111: prompt, negative line, then the parameter line', () => {
  assert.equal(
    formatInfotext(fields),
    'a cat, (masterpiece:1.2)\nNegative prompt: blurry\nSteps: 20, Sampler: Euler, CFG scale: 7, Seed: 42, Size: 512x768, Model: v1-5, RNG: CPU, Version: Easel 0.1.0',
  );
  const noNegative = formatInfotext({ ...fields, negativePrompt: '', model: 'odd, name' });
  assert.ok(!noNegative.includes('Negative prompt'));
  assert.match(noNegative, /Model: "odd, name"/, 'values with commas are JSON-quoted');
});

test('text chunks survive a round trip and the PNG still decodes', async () => {
  const png = await sharp({ create: { width: 4, height: 3, channels: 3, background: '#336699' } }).png().toBuffer();
  const tagged = addPngText(png, { parameters: 'latin-1 text: café', easel: '{"prompt":"東京の猫"}' });
  assert.deepEqual(readPngText(tagged), { parameters: 'latin-1 text: café', easel: '{"prompt":"東京の猫"}' });
  const meta = await sharp(tagged).metadata();
  assert.deepEqual([meta.width, meta.height], [4, 3]);
  assert.throws(() => addPngText(Buffer.from('nope'), {}), /not a PNG/);
});
