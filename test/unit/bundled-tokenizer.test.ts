// The CLIP vocabulary shipped in models/tokenizers/clip and the tokenizer folder the importer writes from it for
// each family: the same files and the same ids as the reference SD 1.x and SD 2.x tokenizer folders.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hasBundledTokenizer, writeBundledTokenizer } from '../../server/src/convert/bundled-tokenizer.js';
import { ClipTokenizer } from '../../server/src/pipeline/tokenizer/clip-tokenizer.js';

const DATA = fileURLToPath(new URL('../../../shared/data/', import.meta.url));
const REFERENCE = { sd1: join(DATA, 'tiny-sd1', 'onnx', 'tokenizer'), sd2: join(DATA, 'tiny-sd2v', 'onnx', 'tokenizer') } as const;
const HAVE_REFERENCE = existsSync(join(REFERENCE.sd2, 'vocab.json')) && existsSync(join(DATA, 'reference', 'tokenizer.json'));

async function written(family: 'sd1' | 'sd2'): Promise<{ dir: string; tokenizer: ClipTokenizer; done(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `easel-bundled-${family}-`));
  await writeBundledTokenizer(family, join(dir, 'tokenizer'));
  return { dir: join(dir, 'tokenizer'), tokenizer: await ClipTokenizer.fromDirectory(join(dir, 'tokenizer')), done: () => rm(dir, { recursive: true, force: true }) };
}

test('the vocabulary ships with Easel, and each family gets its own pad token', async () => {
  assert.ok(hasBundledTokenizer(), 'models/tokenizers/clip/vocab.json and merges.txt are in the repository');
  const sd1 = await written('sd1');
  const sd2 = await written('sd2');
  try {
    assert.deepEqual([sd1.tokenizer.bosId, sd1.tokenizer.eosId, sd1.tokenizer.padId], [49406, 49407, 49407]);
    assert.equal(sd2.tokenizer.padId, 0);
    assert.deepEqual(sd1.tokenizer.tokenize('a photo of a cat').ids.slice(0, 8), [49406, 320, 1125, 539, 320, 2368, 49407, 49407]);
    assert.deepEqual(sd2.tokenizer.tokenize('a photo of a cat!').ids.slice(0, 9), [49406, 320, 1125, 539, 320, 2368, 0, 49407, 0]);
  } finally {
    await Promise.all([sd1.done(), sd2.done()]);
  }
});

test('the written folders equal the reference tokenizer folders and reproduce their ids', { skip: !HAVE_REFERENCE && 'shared reference data absent' }, async () => {
  const prompts = (JSON.parse(readFileSync(join(DATA, 'reference', 'tokenizer.json'), 'utf8')) as { prompts: { text: string }[] }).prompts;
  for (const family of ['sd1', 'sd2'] as const) {
    const ours = await written(family);
    try {
      for (const file of ['vocab.json', 'merges.txt']) {
        assert.ok((await readFile(join(ours.dir, file))).equals(await readFile(join(REFERENCE[family], file))), `${family} ${file}`);
      }
      for (const file of ['special_tokens_map.json', 'tokenizer_config.json']) {
        assert.deepEqual(JSON.parse(await readFile(join(ours.dir, file), 'utf8')), JSON.parse(await readFile(join(REFERENCE[family], file), 'utf8')), `${family} ${file}`);
      }
      const reference = await ClipTokenizer.fromDirectory(REFERENCE[family]);
      for (const { text } of prompts) assert.deepEqual(ours.tokenizer.tokenize(text).ids, reference.tokenize(text).ids, `${family}: ${JSON.stringify(text)}`);
    } finally {
      await ours.done();
    }
  }
});
