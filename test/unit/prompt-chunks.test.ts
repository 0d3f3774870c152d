import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClipTokenizer } from '../../server/src/pipeline/tokenizer/clip-tokenizer.js';
import { writeTinyTokenizer } from '../../server/src/pipeline/tokenizer/tiny-vocab.js';
import {
  chunkedTokenLimit,
  emptyChunk,
  padChunks,
  promptToChunks,
  segmentsToChunks,
} from '../../server/src/pipeline/prompt/chunks.js';
import type { PromptChunk } from '../../server/src/pipeline/prompt/chunks.js';

const sd1Dir = fileURLToPath(new URL('../../../shared/data/tiny-sd1/onnx/tokenizer/', import.meta.url));
const sd1Absent = !existsSync(join(sd1Dir, 'vocab.json'));
const NO_SD1 = 'shared data with the real SD1 tokenizer (../shared/data/tiny-sd1/onnx/tokenizer) is absent';

async function withTinyTokenizer(body: (tokenizer: ClipTokenizer, dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'easel-prompt-'));
  try {
    await writeTinyTokenizer(dir);
    await body(await ClipTokenizer.fromDirectory(dir), dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `count` copies of `word`; the test asserts each is one token so counts are exact. */
function words(tokenizer: ClipTokenizer, word: string, count: number): string {
  assert.equal(tokenizer.encode(word).length, 1, `"${word}" must be a single token`);
  return Array.from({ length: count }, () => word).join(' ');
}

function content(tokenizer: ClipTokenizer, chunk: PromptChunk): number[] {
  const end = chunk.ids.indexOf(tokenizer.eosId, 1);
  return chunk.ids.slice(1, end);
}

function assertWellFormed(tokenizer: ClipTokenizer, chunk: PromptChunk): void {
  assert.equal(chunk.ids.length, 77);
  assert.equal(chunk.weights.length, 77);
  assert.equal(chunk.ids[0], tokenizer.bosId);
  assert.equal(chunk.weights[0], 1);
  const eosAt = 1 + content(tokenizer, chunk).length;
  assert.equal(chunk.ids[eosAt], tokenizer.eosId);
  for (let i = eosAt; i < 77; i++) assert.equal(chunk.weights[i], 1, `weight at ${i}`);
  for (let i = eosAt + 1; i < 77; i++) assert.equal(chunk.ids[i], tokenizer.padId, `pad at ${i}`);
}

test('a short prompt is one 77-id chunk: bos, tokens, eos, padding', async () => {
  await withTinyTokenizer(async (tokenizer) => {
    const ids = tokenizer.encode('a photo of a cat');
    const { chunks, tokenCount } = promptToChunks(tokenizer, 'a photo of a cat');
    assert.equal(chunks.length, 1);
    assertWellFormed(tokenizer, chunks[0]);
    assert.deepEqual(chunks[0].ids, tokenizer.tokenize('a photo of a cat').ids);
    assert.deepEqual(content(tokenizer, chunks[0]), ids);
    assert.ok(chunks[0].weights.every((w) => w === 1));
    assert.equal(tokenCount, ids.length);
    assert.equal(chunkedTokenLimit(tokenCount), 75);
  });
});

test('an empty prompt is one chunk of bos, eos and padding, counting 0 tokens', async () => {
  await withTinyTokenizer(async (tokenizer) => {
    const { chunks, tokenCount } = promptToChunks(tokenizer, '');
    assert.equal(chunks.length, 1);
    assert.deepEqual(chunks[0], emptyChunk(tokenizer));
    assert.deepEqual(chunks[0].ids, [tokenizer.bosId, tokenizer.eosId, ...new Array(75).fill(tokenizer.padId)]);
    assert.equal(tokenCount, 0);
    assert.equal(chunkedTokenLimit(0), 75);
  });
});

test('a 100-token prompt gives two chunks of 75 + 25 tokens', async () => {
  await withTinyTokenizer(async (tokenizer) => {
    const cat = tokenizer.encode('cat')[0];
    const { chunks, tokenCount } = promptToChunks(tokenizer, words(tokenizer, 'cat', 100));
    assert.equal(chunks.length, 2);
    chunks.forEach((chunk) => assertWellFormed(tokenizer, chunk));
    assert.deepEqual(chunks[0].ids, [tokenizer.bosId, ...new Array(75).fill(cat), tokenizer.eosId]);
    assert.deepEqual(content(tokenizer, chunks[1]), new Array(25).fill(cat));
    assert.equal(tokenCount, 100);
    assert.equal(chunkedTokenLimit(tokenCount), 150);
  });
});

test('exactly 75 tokens stay one chunk; the 76th opens a second', async () => {
  await withTinyTokenizer(async (tokenizer) => {
    assert.equal(promptToChunks(tokenizer, words(tokenizer, 'cat', 75)).chunks.length, 1);
    const { chunks, tokenCount } = promptToChunks(tokenizer, words(tokenizer, 'cat', 76));
    assert.equal(chunks.length, 2);
    assert.equal(content(tokenizer, chunks[1]).length, 1);
    assert.equal(tokenCount, 76);
  });
});

test('BREAK starts a new chunk and the early-closed chunk counts as 75', async () => {
  await withTinyTokenizer(async (tokenizer) => {
    const [cat, dog] = [tokenizer.encode('cat')[0], tokenizer.encode('dog')[0]];
    const split = promptToChunks(tokenizer, 'cat BREAK dog');
    assert.equal(split.chunks.length, 2);
    split.chunks.forEach((chunk) => assertWellFormed(tokenizer, chunk));
    assert.deepEqual(content(tokenizer, split.chunks[0]), [cat]);
    assert.deepEqual(content(tokenizer, split.chunks[1]), [dog]);
    assert.equal(split.tokenCount, 76);

    // A trailing BREAK adds no empty chunk; a lone BREAK is one empty chunk (A1111 counts it as 75).
    assert.equal(promptToChunks(tokenizer, 'cat BREAK').chunks.length, 1);
    const lone = promptToChunks(tokenizer, 'BREAK');
    assert.deepEqual(lone.chunks, [emptyChunk(tokenizer)]);
    assert.equal(lone.tokenCount, 75);
    // "break" in lower case is an ordinary word.
    assert.equal(promptToChunks(tokenizer, 'cat break dog').chunks.length, 1);
  });
});

test('weights follow the markup, token by token, across chunk boundaries', async () => {
  await withTinyTokenizer(async (tokenizer) => {
    const { chunks } = promptToChunks(tokenizer, 'cat (dog) [cat] (dog:1.5)');
    assert.deepEqual(chunks[0].weights.slice(0, 7), [1, 1, 1.1, 1 / 1.1, 1.5, 1, 1]);

    const long = promptToChunks(tokenizer, `${words(tokenizer, 'cat', 74)} (dog dog dog:0.5)`);
    assert.equal(long.chunks.length, 2);
    assert.deepEqual(long.chunks[0].weights.slice(74, 77), [1, 0.5, 1]);
    assert.deepEqual(long.chunks[1].weights.slice(0, 4), [1, 0.5, 0.5, 1]);
  });
});

test('each segment is tokenized on its own, as A1111 does', async () => {
  await withTinyTokenizer(async (tokenizer) => {
    const segments = [
      { text: 'photo', weight: 1 },
      { text: 'graph', weight: 2 },
    ];
    const expected = [...tokenizer.encode('photo'), ...tokenizer.encode('graph')];
    assert.notDeepEqual(expected, tokenizer.encode('photograph'));
    assert.deepEqual(content(tokenizer, segmentsToChunks(tokenizer, segments).chunks[0]), expected);
  });
});

test('comma backtrack: a full chunk moves the words after a recent comma to the next chunk', async () => {
  await withTinyTokenizer(async (tokenizer) => {
    const [cat, dog, comma] = [tokenizer.encode('cat')[0], tokenizer.encode('dog')[0], tokenizer.encode(',')[0]];
    // 70 cats, a comma (index 70), 10 dogs: at the 76th token the comma is 5 back, so the chunk ends after it.
    const prompt = `${words(tokenizer, 'cat', 70)}, ${words(tokenizer, 'dog', 10)}`;
    const { chunks, tokenCount } = promptToChunks(tokenizer, prompt);
    assert.equal(chunks.length, 2);
    chunks.forEach((chunk) => assertWellFormed(tokenizer, chunk));
    assert.deepEqual(content(tokenizer, chunks[0]), [...new Array(70).fill(cat), comma]);
    assert.deepEqual(content(tokenizer, chunks[1]), new Array(10).fill(dog));
    assert.equal(tokenCount, 85);

    // Disabled: a plain cut at 75.
    const plain = promptToChunks(tokenizer, prompt, { commaBacktrack: 0 });
    assert.equal(content(tokenizer, plain.chunks[0]).length, 75);
    assert.equal(plain.tokenCount, 81);
  });
});

test('comma backtrack reaches exactly 20 tokens back', async () => {
  await withTinyTokenizer(async (tokenizer) => {
    // Comma at index n: the chunk is cut when 75 − n ≤ 20.
    const firstChunkLength = (catsBeforeComma: number): number => {
      const prompt = `${words(tokenizer, 'cat', catsBeforeComma)}, ${words(tokenizer, 'dog', 40)}`;
      return content(tokenizer, promptToChunks(tokenizer, prompt).chunks[0]).length;
    };
    assert.equal(firstChunkLength(55), 56);
    assert.equal(firstChunkLength(54), 75);
    // A comma in the last slot leaves nothing to move.
    assert.equal(firstChunkLength(74), 75);
  });
});

test('padChunks appends empty chunks to the shorter prompt only', async () => {
  await withTinyTokenizer(async (tokenizer) => {
    const long = promptToChunks(tokenizer, words(tokenizer, 'cat', 160));
    const short = promptToChunks(tokenizer, 'dog');
    assert.equal(long.chunks.length, 3);
    const [a, b] = padChunks(tokenizer, long, short);
    assert.equal(a.chunks.length, 3);
    assert.equal(b.chunks.length, 3);
    assert.deepEqual(a, long);
    assert.deepEqual(b.chunks[0], short.chunks[0]);
    assert.deepEqual(b.chunks.slice(1), [emptyChunk(tokenizer), emptyChunk(tokenizer)]);
    assert.equal(b.tokenCount, short.tokenCount);
    assert.equal(short.chunks.length, 1, 'inputs are not modified');

    const [c, d] = padChunks(tokenizer, short, long);
    assert.equal(c.chunks.length, 3);
    assert.equal(d.chunks.length, 3);
  });
});

test('SD 2.x-style tokenizers pad with their own pad id (0) after the eos', async () => {
  await withTinyTokenizer(async (_tiny, dir) => {
    const mapPath = join(dir, 'special_tokens_map.json');
    const map = JSON.parse(await readFile(mapPath, 'utf8')) as Record<string, unknown>;
    await writeFile(mapPath, JSON.stringify({ ...map, pad_token: '!' }));
    const tokenizer = await ClipTokenizer.fromDirectory(dir);
    assert.equal(tokenizer.padId, 0);
    assert.notEqual(tokenizer.eosId, 0);

    const { chunks } = promptToChunks(tokenizer, 'a cat');
    const ids = tokenizer.encode('a cat');
    assert.deepEqual(chunks[0].ids, [tokenizer.bosId, ...ids, tokenizer.eosId, ...new Array(75 - ids.length).fill(0)]);
    assert.deepEqual(chunks[0].ids, tokenizer.tokenize('a cat').ids);
    assert.deepEqual(emptyChunk(tokenizer).ids, [tokenizer.bosId, tokenizer.eosId, ...new Array(75).fill(0)]);
    // A full chunk has no room for padding: it ends in eos.
    const full = promptToChunks(tokenizer, words(tokenizer, 'cat', 80)).chunks[0];
    assert.equal(full.ids[76], tokenizer.eosId);
  });
});

test('real SD1 tokenizer: ids match transformers, long prompts chunk like A1111', { skip: sd1Absent && NO_SD1 }, async () => {
  const tokenizer = await ClipTokenizer.fromDirectory(sd1Dir);
  const { chunks, tokenCount } = promptToChunks(tokenizer, 'a (photo:1.2) of a [cat]');
  assert.deepEqual(chunks[0].ids.slice(0, 8), [49406, 320, 1125, 539, 320, 2368, 49407, 49407]);
  assert.deepEqual(chunks[0].weights.slice(0, 8), [1, 1, 1.2, 1, 1, 1 / 1.1, 1, 1]);
  assert.equal(tokenCount, 5);

  // 9 tokens per tag group ("a photo of a cat, best quality,"), so 75 falls mid-phrase: the chunk ends at a comma.
  const tags = Array.from({ length: 20 }, () => 'a photo of a cat, best quality').join(', ');
  const long = promptToChunks(tokenizer, tags);
  long.chunks.forEach((chunk) => assertWellFormed(tokenizer, chunk));
  assert.deepEqual(content(tokenizer, long.chunks[0]).length, 72);
  for (const chunk of long.chunks.slice(0, -1)) assert.equal(content(tokenizer, chunk).at(-1), 267);
  // No token is lost or repeated by the move.
  assert.deepEqual(long.chunks.flatMap((chunk) => content(tokenizer, chunk)), tokenizer.encode(tags));
  assert.equal(long.chunks.length, Math.ceil(long.tokenCount / 75));
});
