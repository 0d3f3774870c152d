import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClipTokenizer } from '../../server/src/pipeline/tokenizer/clip-tokenizer.js';
import { cleanPromptText } from '../../server/src/pipeline/tokenizer/text-cleaner.js';
import { writeTinyTokenizer } from '../../server/src/pipeline/tokenizer/tiny-vocab.js';

const dataDir = fileURLToPath(new URL('../../../shared/data/', import.meta.url));
const referenceJson = join(dataDir, 'reference', 'tokenizer.json');
const sd1Dir = join(dataDir, 'tiny-sd1', 'onnx', 'tokenizer');
const sd2Dir = join(dataDir, 'tiny-sd2v', 'onnx', 'tokenizer');
const realVocabAbsent = !existsSync(join(sd1Dir, 'vocab.json')) || !existsSync(join(sd2Dir, 'vocab.json'));
const NO_VOCAB = 'shared data with the real CLIP vocabulary (../shared/data/tiny-sd*/onnx/tokenizer) is absent';

async function withTempDir<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'easel-tokenizer-'));
  try {
    return await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// ---- self-contained: a hand-written vocab and merges ----------------------------------------------------------

const HAND_VOCAB = [
  'l', 'o', 'w', 'e', 'r', 'n', 's', 't', 'i', 'd', 'w</w>', 'r</w>', 't</w>', 's</w>', 'e</w>', '!</w>',
  'lo', 'low', 'low</w>', 'er</w>', 'ne', 'new', 'es', 'est</w>', 'wi', 'wid', 'wide</w>', '<|startoftext|>', '<|endoftext|>',
];
const HAND_MERGES = ['l o', 'lo w</w>', 'e r</w>', 'lo w', 'n e', 'ne w', 'e s', 'es t</w>', 'w i', 'wi d', 'wid e</w>'];

async function handTokenizer(dir: string, maxLength = 10): Promise<ClipTokenizer> {
  await writeFile(join(dir, 'vocab.json'), JSON.stringify(Object.fromEntries(HAND_VOCAB.map((t, i) => [t, i]))));
  await writeFile(join(dir, 'merges.txt'), `#version: 0.2\n${HAND_MERGES.join('\n')}\n`);
  await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ model_max_length: maxLength, pad_token: '<|endoftext|>' }));
  return ClipTokenizer.fromDirectory(dir);
}

const id = (token: string): number => HAND_VOCAB.indexOf(token);

test('BPE merges by rank and marks the end of each word', async () => {
  await withTempDir(async (dir) => {
    const tokenizer = await handTokenizer(dir);
    // "lower": l o w e r</w> → lo w e r</w> → lo w er</w> → low er</w> ("lo w" ranks after "e r</w>").
    assert.deepEqual(tokenizer.encode('lower'), [id('low'), id('er</w>')]);
    assert.deepEqual(tokenizer.encode('low'), [id('low</w>')]);
    assert.deepEqual(tokenizer.encode('newest widest'), [id('new'), id('est</w>'), id('wid'), id('est</w>')]);
    // A word no merge reaches stays as byte symbols.
    assert.deepEqual(tokenizer.encode('tide'), [id('t'), id('i'), id('d'), id('e</w>')]);
  });
});

test('cleaning: case, whitespace and HTML entities do not change the ids', async () => {
  await withTempDir(async (dir) => {
    const tokenizer = await handTokenizer(dir);
    assert.deepEqual(tokenizer.encode('  LOWER\t\n wide '), tokenizer.encode('lower wide'));
    assert.deepEqual(tokenizer.encode('low&#33;'), [id('low</w>'), id('!</w>')]);
  });
});

test('tokenize pads to the max length and truncates, keeping bos and eos', async () => {
  await withTempDir(async (dir) => {
    const tokenizer = await handTokenizer(dir, 6);
    const bos = id('<|startoftext|>');
    const eos = id('<|endoftext|>');
    assert.deepEqual(tokenizer.tokenize('low'), { ids: [bos, id('low</w>'), eos, eos, eos, eos], count: 1, truncated: false });
    assert.deepEqual(tokenizer.tokenize(''), { ids: [bos, eos, eos, eos, eos, eos], count: 0, truncated: false });
    const long = tokenizer.tokenize('low low low low low');
    assert.deepEqual(long.ids, [bos, ...Array(4).fill(id('low</w>')), eos]);
    assert.equal(long.count, 5);
    assert.equal(long.truncated, true);
  });
});

test('cleanPromptText repairs what ftfy repairs in prompts', () => {
  assert.equal(cleanPromptText('doesnÃ¢â‚¬â„¢t'), "doesn't"); // double mojibake of a curly apostrophe
  assert.equal(cleanPromptText('cafÃ© naïve'), 'café naïve');
  assert.equal(cleanPromptText('“Quoted” ‘single’'), '"quoted" \'single\'');
  assert.equal(cleanPromptText('ﬁne ＡＢＣ'), 'fine abc');
  assert.equal(cleanPromptText('esc\x1b[0m &lt;tag&gt; &amp;amp;'), 'esc <tag> &');
  assert.equal(cleanPromptText('a\u00a0\u3000b'), 'a b');
});

// ---- the tiny generated tokenizer ------------------------------------------------------------------------------

test('writeTinyTokenizer writes a consistent folder that ClipTokenizer loads', async () => {
  await withTempDir(async (dir) => {
    await writeTinyTokenizer(dir);
    const vocab = JSON.parse(await readFile(join(dir, 'vocab.json'), 'utf8')) as Record<string, number>;
    const merges = (await readFile(join(dir, 'merges.txt'), 'utf8')).trim().split('\n');
    assert.equal(merges[0], '#version: 0.2');
    const mergeLines = merges.slice(1);
    assert.ok(mergeLines.length >= 200, `expected a few hundred merges, got ${mergeLines.length}`);
    for (const line of mergeLines) {
      const [left, right] = line.split(' ');
      assert.ok(left in vocab && right in vocab && left + right in vocab, `merge "${line}" uses or makes a symbol missing from the vocab`);
    }
    const size = Object.keys(vocab).length;
    assert.equal(size, 512 + mergeLines.length + 2);
    assert.deepEqual(new Set(Object.values(vocab)).size, size, 'ids are unique');
    assert.equal(vocab['<|startoftext|>'], size - 2);
    assert.equal(vocab['<|endoftext|>'], size - 1);
    assert.equal(vocab['!'], 0);
    assert.equal(vocab['a</w>'], 320);

    const tokenizer = await ClipTokenizer.fromDirectory(dir);
    assert.equal(tokenizer.maxLength, 77);
    assert.equal(tokenizer.bosId, size - 2);
    assert.equal(tokenizer.padId, size - 1);
    const prompt = 'a photo of a cat';
    const ids = tokenizer.encode(prompt);
    assert.ok(ids.length < prompt.length, `${ids.length} tokens for ${prompt.length} characters`);
    assert.deepEqual(tokenizer.encode(prompt), ids);
    const again = await ClipTokenizer.fromDirectory(dir);
    assert.deepEqual(again.tokenize(prompt), tokenizer.tokenize(prompt));
    // Any text still tokenizes: unknown words fall back to byte symbols.
    assert.ok(tokenizer.encode('zyxq 猫 ❤️').every((i) => i >= 0 && i < size));
  });
});

test('writeTinyTokenizer is deterministic', async () => {
  await withTempDir(async (dir) => {
    await writeTinyTokenizer(join(dir, 'a'));
    await writeTinyTokenizer(join(dir, 'b'));
    for (const file of ['vocab.json', 'merges.txt', 'special_tokens_map.json', 'tokenizer_config.json']) {
      assert.equal(await readFile(join(dir, 'a', file), 'utf8'), await readFile(join(dir, 'b', file), 'utf8'), file);
    }
  });
});

// ---- the real CLIP vocabulary from shared data -----------------------------------------------------------------

interface ReferencePrompt {
  text: string;
  sd1: number[];
  sd2: number[];
  n_content_tokens: number;
  truncated: boolean;
}

test('tokenizer.json: every prompt matches diffusers for SD 1.x and SD 2.x', { skip: realVocabAbsent || !existsSync(referenceJson) ? NO_VOCAB : false }, async () => {
  const reference = JSON.parse(readFileSync(referenceJson, 'utf8')) as { prompts: ReferencePrompt[] };
  const sd1 = await ClipTokenizer.fromDirectory(sd1Dir);
  const sd2 = await ClipTokenizer.fromDirectory(sd2Dir);
  assert.ok(reference.prompts.length > 0);
  for (const prompt of reference.prompts) {
    const label = JSON.stringify(prompt.text);
    const one = sd1.tokenize(prompt.text);
    assert.deepEqual(one.ids, prompt.sd1, `SD1 ids for ${label}`);
    assert.equal(one.count, prompt.n_content_tokens, `content tokens for ${label}`);
    assert.equal(one.truncated, prompt.truncated, `truncated for ${label}`);
    assert.deepEqual(sd2.tokenize(prompt.text).ids, prompt.sd2, `SD2 ids for ${label}`);
  }
});

test('reference ids from onnx-pipeline.md §4', { skip: realVocabAbsent ? NO_VOCAB : false }, async () => {
  const sd1 = await ClipTokenizer.fromDirectory(sd1Dir);
  const cases: Array<[string, number[]]> = [
    ['a photo of a cat', [49406, 320, 1125, 539, 320, 2368, 49407]],
    ['A painting of a squirrel eating a burger', [49406, 320, 3086, 539, 320, 14004, 4371, 320, 6548, 49407]],
    ['astronaut riding a horse on mars', [49406, 18376, 6765, 320, 4558, 525, 7496, 49407]],
    ['hello world!', [49406, 3306, 1002, 256, 49407]],
    ['open neural network exchange', [49406, 1488, 26388, 3304, 6616, 49407]],
    ['', [49406, 49407]],
    [
      "don't 1234 #tag, (masterpiece:1.2)",
      [49406, 847, 713, 272, 273, 274, 275, 258, 3640, 267, 263, 12066, 281, 272, 269, 273, 264, 49407],
    ],
  ];
  for (const [text, expected] of cases) {
    assert.deepEqual([sd1.bosId, ...sd1.encode(text), sd1.eosId], expected, JSON.stringify(text));
  }
  assert.equal(sd1.padId, 49407);
});

test('SD 2.x pads with "!" (id 0) and splits a literal "!" out as id 0', { skip: realVocabAbsent ? NO_VOCAB : false }, async () => {
  const sd2 = await ClipTokenizer.fromDirectory(sd2Dir);
  assert.equal(sd2.padId, 0);
  assert.deepEqual(sd2.encode('hello world!'), [3306, 1002, 0]);
  assert.deepEqual(sd2.tokenize('a photo of a cat').ids.slice(0, 9), [49406, 320, 1125, 539, 320, 2368, 49407, 0, 0]);
});
