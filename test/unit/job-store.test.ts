// The queue over a real SQLite file: what one process leaves, the next picks up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobQueue } from '../../server/src/queue/job-queue.js';
import { JobStore } from '../../server/src/queue/job-store.js';
import type { ResolvedJob } from '../../server/src/http/schemas.js';
import { FakeBackend } from '../helpers/fake-backend.js';

const request: ResolvedJob = {
  prompt: 'a cat', negativePrompt: '', model: 'm', sampler: 'euler', steps: 4, cfgScale: 7.5,
  width: 64, height: 64, seed: 1, count: 1, outputFormat: 'png', quality: 90,
};
const ctx = { outputsDir: '/tmp/o', inputsDir: '/tmp/i', version: 't' };

async function withDb(fn: (file: string) => void | Promise<void>) {
  const dir = await mkdtemp(join(tmpdir(), 'easel-db-'));
  try {
    await fn(join(dir, 'easel.db'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function start(file: string) {
  const backend = new FakeBackend();
  const store = new JobStore(file);
  const queue = new JobQueue(backend, ctx, store);
  queue.restore();
  return { backend, store, queue };
}

test('queued jobs survive a restart in order; the interrupted one runs again first; finished ones are remembered', () =>
  withDb((file) => {
    const first = start(file);
    const a = first.queue.submit({ ...request, prompt: 'a' }, '/m');
    first.backend.send({ type: 'image', jobId: a.id, image: { index: 0, imageId: `${a.id}-0`, file: 'x', seed: 1, width: 64, height: 64, partial: false } });
    first.backend.send({ type: 'finished', jobId: a.id, outcome: 'done' });
    const b = first.queue.submit({ ...request, prompt: 'b' }, '/m'); // starts running
    const c = first.queue.submit({ ...request, prompt: 'c' }, '/m');
    const d = first.queue.submit({ ...request, prompt: 'd' }, '/m');
    first.store.close(); // the process dies here, b mid-run

    const second = start(file);
    assert.deepEqual(second.queue.snapshot().map((j) => [j.id, j.state]), [
      [b.id, 'running'],
      [c.id, 'queued'],
      [d.id, 'queued'],
    ]);
    assert.equal(second.backend.runs[0]?.id, b.id, 'the interrupted job is re-run');
    assert.equal(second.queue.get(a.id)?.state, 'done');
    assert.equal(second.queue.get(a.id)?.images[0]?.id, `${a.id}-0`);
    assert.equal(second.queue.recent()[0]?.id, a.id);
    second.store.close(); // and dies again with b running

    const third = start(file);
    const failed = third.queue.get(b.id);
    assert.equal(failed?.state, 'failed', 'a job that died twice is not tried a third time');
    assert.match(failed?.error?.message ?? '', /stopped while this job ran, 2 times/);
    assert.equal(third.backend.runs[0]?.id, c.id);
    third.store.close();
  }));

test('the gallery pages newest first, searches prompts literally and filters by model', () =>
  withDb((file) => {
    const { backend, store, queue } = start(file);
    const prompts = ['red fox', 'blue whale', '100% cotton_shirt', 'red panda', 'green fox'];
    for (const [i, prompt] of prompts.entries()) {
      const job = queue.submit({ ...request, prompt, model: i % 2 ? 'm2' : 'm1' }, '/m');
      backend.send({ type: 'image', jobId: job.id, image: { index: 0, imageId: `${job.id}-0`, file: 'x', seed: i, width: 64, height: 64, partial: false } });
      backend.send({ type: 'finished', jobId: job.id, outcome: 'done' });
    }
    const page1 = store.gallery({ limit: 2 });
    assert.deepEqual(page1.images.map((i) => i.prompt), ['green fox', 'red panda']);
    const page2 = store.gallery({ limit: 2, cursor: page1.nextCursor! });
    assert.deepEqual(page2.images.map((i) => i.prompt), ['100% cotton_shirt', 'blue whale']);
    const page3 = store.gallery({ limit: 2, cursor: page2.nextCursor! });
    assert.deepEqual(page3.images.map((i) => i.prompt), ['red fox']);
    assert.equal(page3.nextCursor, null);
    assert.deepEqual(store.gallery({ limit: 10, q: 'fox' }).images.map((i) => i.prompt), ['green fox', 'red fox']);
    assert.deepEqual(store.gallery({ limit: 10, q: '0% c' }).images.map((i) => i.prompt), ['100% cotton_shirt']);
    assert.deepEqual(store.gallery({ limit: 10, q: '_' }).images.map((i) => i.prompt), ['100% cotton_shirt'], '_ is literal');
    assert.deepEqual(store.gallery({ limit: 10, model: 'm2' }).images.map((i) => i.prompt), ['red panda', 'blue whale']);
    assert.equal(store.gallery({ limit: 10 }).images[0]?.request.seed, 4);
    store.close();
  }));
