import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  expandPattern,
  MAX_FILE_BYTES,
  outputRelativePath,
  promptWords,
  sanitizeSegment,
  unknownTokens,
  type NameFields,
} from '../../server/src/images/file-names.js';
import { OutputStore } from '../../server/src/images/output-store.js';

const fields: NameFields = {
  date: new Date(2024, 2, 5, 7, 8, 9), // local time, as file names use
  prompt: 'a (majestic:1.3) lion, [golden] hour, 8k, by someone / somewhere',
  seed: 1234,
  model: 'sd15',
  sampler: 'Euler a',
  steps: 20,
  cfgScale: 7.5,
  width: 512,
  height: 768,
  jobId: '0b0e6d2c-0000-4000-8000-000000000001',
  index: 2,
  counter: 7,
};

test('tokens expand: date, datetime, seed, prompt words, counter, model and the rest', () => {
  assert.equal(expandPattern('[date]/[datetime]-[time]', fields), '2024-03-05/20240305070809-070809');
  assert.equal(expandPattern('[counter]-[seed]-[model]-[sampler]-[steps]-[cfg]-[width]x[height]-[index]', fields), '00007-1234-sd15-Euler a-20-7.5-512x768-2');
  assert.equal(promptWords(fields.prompt), 'a majestic lion golden hour 8k by someone');
  assert.equal(expandPattern('[prompt_words]', fields), 'a majestic lion golden hour 8k by someone');
  assert.equal(expandPattern('[job_id]', fields), fields.jobId);
  assert.equal(expandPattern('[nope] stays', fields), '[nope] stays');
  assert.deepEqual(unknownTokens('[date]/[nope]-[seed]-[Seed]'), ['nope']);
});

test('segments are safe on Windows, macOS and Linux', () => {
  assert.equal(sanitizeSegment('a<b>c:d"e/f\\g|h?i*j', 100), 'a_b_c_d_e_f_g_h_i_j');
  assert.equal(sanitizeSegment('tab\there\nnew\u0000line', 100), 'tab here new_line');
  assert.equal(sanitizeSegment('trailing dots... ', 100), 'trailing dots', 'Windows strips them, so two names would collide');
  for (const reserved of ['CON', 'con', 'Nul', 'aux.png', 'COM1', 'lpt9.tar.gz', 'PRN ']) {
    assert.ok(sanitizeSegment(reserved, 100).startsWith('_'), `${reserved} is a Windows device name`);
  }
  assert.equal(sanitizeSegment('CONSOLE', 100), 'CONSOLE');
  assert.equal(sanitizeSegment('..', 100), '_');
  assert.equal(sanitizeSegment('.hidden', 100), '_hidden');
  assert.equal(sanitizeSegment('', 100), '_');
  assert.equal(sanitizeSegment('   ', 100), '_');
  // Byte limit without splitting characters: 東 is 3 bytes, 😀 4.
  assert.equal(sanitizeSegment('東京東京', 7), '東京');
  assert.equal(sanitizeSegment('a😀b', 4), 'a');
  assert.equal(sanitizeSegment('e\u0301', 100), 'é', 'NFC, so macOS and Linux agree on the name');
});

test('a relative path: folder levels from the pattern, prompt slashes never make folders, nothing escapes', () => {
  assert.equal(outputRelativePath({ folder: '[date]/[model]', fileName: '[counter]-[seed]-[prompt_words]' }, fields), '2024-03-05/sd15/00007-1234-a majestic lion golden hour 8k by someone');
  assert.equal(outputRelativePath({ fileName: '[prompt]' }, fields), 'a (majestic_1.3) lion, [golden] hour, 8k, by someone _ somew', '[prompt] is cut at 60 characters');
  assert.equal(outputRelativePath({ folder: '../../etc', fileName: 'x' }, fields), '_/_/etc/x');
  assert.equal(outputRelativePath({ folder: '/abs//[date]/', fileName: 'x' }, fields), 'abs/2024-03-05/x');
  assert.equal(outputRelativePath({ folder: 'out' }, fields), `out/${fields.jobId}-2`, 'no file name pattern: Easel\'s own name');
  const long = outputRelativePath({ fileName: '[prompt_words]'.repeat(20) }, { ...fields, prompt: '東'.repeat(300) });
  assert.ok(Buffer.byteLength(long) <= MAX_FILE_BYTES);
});

test('the output store saves under a pattern and still finds, counts and deletes by image id', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'easel-names-'));
  try {
    const store = new OutputStore(dir);
    const name = (counter: number) => outputRelativePath({ folder: '[date]', fileName: '[counter]-[seed]' }, { ...fields, counter });
    const a = await store.saveNamed('job-0', 'png', Buffer.from('a'), name);
    const b = await store.saveNamed('job-1', 'png', Buffer.from('b'), name);
    assert.equal(a, join(dir, '2024-03-05', '00001-1234.png'));
    assert.equal(b, join(dir, '2024-03-05', '00002-1234.png'), 'the counter rises past the images already there');
    assert.deepEqual(await store.find('job-1'), { file: b, mime: 'image/png' });
    // A job re-run after a crash saves the same id again: same file, no new number.
    assert.equal(await store.saveNamed('job-1', 'png', Buffer.from('b2'), name), b);
    assert.equal(await readFile(b, 'utf8'), 'b2');
    // Without a counter, a clash gets -2.
    const fixed = () => 'same';
    assert.equal(await store.saveNamed('x-0', 'webp', Buffer.from('1'), fixed), join(dir, 'same.webp'));
    assert.equal(await store.saveNamed('x-1', 'webp', Buffer.from('2'), fixed), join(dir, 'same-2.webp'));
    await OutputStore.writeSidecar(a, 'txt', 'infotext');
    await OutputStore.writeSidecar(a, 'json', '{}');
    assert.deepEqual((await readdir(join(dir, '2024-03-05'))).sort(), ['00001-1234.json', '00001-1234.png', '00001-1234.txt', '00002-1234.png']);
    assert.equal(await store.remove('job-0'), true);
    assert.deepEqual((await readdir(join(dir, '2024-03-05'))).sort(), ['00002-1234.png'], 'sidecars go with the image');
    assert.equal(await store.find('job-0'), undefined);
    // Plain ids still use the plain layout.
    assert.equal(await store.save('plain-0', 'jpeg', Buffer.from('j')), join(dir, 'plain-0.jpg'));
    await assert.rejects(store.saveNamed('evil-0', 'png', Buffer.from('e'), () => '../outside'), /leaves the outputs folder/);
    await writeFile(join(dir, '.paths', 'forged-0'), '../../etc/passwd');
    assert.equal(await store.find('forged-0'), undefined, 'an index entry pointing outside is ignored');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a job with saveAs writes the image under its pattern with both sidecars; without it, the old layout', async () => {
  const { saveOutput } = await import('../../server/src/worker/save-output.js');
  const dir = await mkdtemp(join(tmpdir(), 'easel-save-'));
  try {
    const job = {
      id: 'job1', prompt: 'red fox, snow', negativePrompt: '', model: 'sd15', sampler: 'euler_a', steps: 4, cfgScale: 7, width: 64, height: 64,
      seed: 10, count: 1, outputFormat: 'png' as const, quality: 90, modelDir: '', outputsDir: dir, inputsDir: dir, version: 't',
    };
    const image = { imageId: 'job1-0', index: 0, seed: 10, width: 64, height: 64, bytes: Buffer.from('png'), parameters: 'red fox, snow\nSteps: 4', easel: '{"prompt":"red fox, snow"}' };
    const named = await saveOutput({ ...job, saveAs: { folder: '[model]/[sampler]', fileName: '[seed]-[prompt_words]', txt: true, json: true } }, image);
    assert.equal(named, join(dir, 'sd15', 'Euler a', '10-red fox snow.png'));
    assert.equal(await readFile(join(dir, 'sd15', 'Euler a', '10-red fox snow.txt'), 'utf8'), 'red fox, snow\nSteps: 4\n');
    assert.deepEqual(JSON.parse(await readFile(join(dir, 'sd15', 'Euler a', '10-red fox snow.json'), 'utf8')), { prompt: 'red fox, snow' });
    assert.equal((await new OutputStore(dir).find('job1-0'))?.file, named);
    assert.equal(await saveOutput(job, { ...image, imageId: 'job2-0' }), join(dir, 'job2-0.png'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
