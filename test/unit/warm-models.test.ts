// The render worker keeps used models warm and releases the least recently used ones only while free memory is
// below the next model's size × 1.5.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { modeFits } from '../../server/src/pipeline/memory-mode.js';
import { loadedWeightBytes, WarmModels } from '../../server/src/worker/warm-models.js';

const GB = 1e9;

/** A machine with `total` bytes free before anything loads; a loaded model takes its size. */
function machine(total: number, sizes: Record<string, number>) {
  const loaded = new Set<string>();
  const events: string[] = [];
  const models = new WarmModels<string>({
    load: async (_id, dir) => {
      loaded.add(dir);
      events.push(`load ${dir}`);
      return dir;
    },
    release: async (dir) => {
      loaded.delete(dir);
      events.push(`release ${dir}`);
    },
    freeMemory: () => total - [...loaded].reduce((n, d) => n + sizes[d]!, 0),
    sizeOf: async (dir) => sizes[dir]!,
  });
  return { models, events };
}

test('with room to spare, models stay warm and coming back to one loads nothing', async () => {
  const { models, events } = machine(20 * GB, { a: 4 * GB, b: 4 * GB });
  await models.get('a', 'a');
  await models.get('b', 'b');
  await models.get('a', 'a');
  assert.deepEqual(events, ['load a', 'load b']);
  assert.deepEqual(models.loaded(), ['b', 'a'], 'most recently used last');
});

test('short of memory, the least recently used models are released before the next one loads', async () => {
  const { models, events } = machine(12 * GB, { a: 4 * GB, b: 4 * GB, c: 4 * GB });
  await models.get('a', 'a');
  await models.get('b', 'b'); // 8 GB free ≥ 6 GB needed: a stays
  await models.get('a', 'a'); // a is now the most recent
  await models.get('c', 'c'); // 4 GB free < 6 GB: b goes first, then 8 GB free is enough
  assert.deepEqual(events, ['load a', 'load b', 'release b', 'load c']);
  assert.deepEqual(models.loaded(), ['a', 'c']);
  await models.releaseAll();
  assert.deepEqual(events.slice(-2), ['release a', 'release c']);
});

test('a model that never fits still loads, alone', async () => {
  const { models, events } = machine(8 * GB, { a: 2 * GB, big: 7 * GB });
  await models.get('a', 'a');
  await models.get('big', 'big');
  assert.deepEqual(events, ['load a', 'release a', 'load big']);
});

test('a warm model in the other low-memory mode is released and loaded again; auto keeps what is warm', async () => {
  // The worker's rule (render-worker.ts): a model is warm with the mode it loaded in.
  let setting: 'auto' | 'on' | 'off' = 'off';
  const events: string[] = [];
  const models = new WarmModels<{ dir: string; lowMemory: boolean }>({
    load: async (_id, dir) => (events.push(`load ${dir} ${setting}`), { dir, lowMemory: setting === 'on' }),
    release: async (m) => void events.push(`release ${m.dir}`),
    freeMemory: () => 100 * GB,
    sizeOf: async () => GB,
  });
  const get = () => models.get('a', 'a', (m) => modeFits(setting, m.lowMemory));
  await get();
  await get();
  setting = 'on';
  assert.equal((await get()).lowMemory, true);
  setting = 'auto';
  await get();
  setting = 'off';
  assert.equal((await get()).lowMemory, false);
  assert.deepEqual(events, ['load a off', 'release a', 'load a on', 'release a', 'load a off']);
  assert.deepEqual(models.loaded(), ['a']);
});

test('an fp16 model counts double on the CPU, where onnxruntime widens its weights to float32 as it loads', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'easel-warm-'));
  try {
    await writeFile(join(dir, 'weights.pb'), new Uint8Array(1000));
    const indexFile = join(dir, 'model_index.json');
    await writeFile(indexFile, JSON.stringify({ _easel_precision: 'fp16' }));
    const fileBytes = 1000 + (await stat(indexFile)).size;
    assert.equal(await loadedWeightBytes(dir, true), fileBytes * 2);
    assert.equal(await loadedWeightBytes(dir, false), fileBytes, 'a GPU keeps the float16 weights');
    await writeFile(indexFile, JSON.stringify({ _easel_precision: 'fp32' }));
    assert.equal(await loadedWeightBytes(dir, true), 1000 + (await stat(indexFile)).size);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
