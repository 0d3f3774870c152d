import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JobQueue } from '../../server/src/queue/job-queue.js';
import type { ResolvedJob } from '../../server/src/http/schemas.js';
import { FakeBackend } from '../helpers/fake-backend.js';

const request: ResolvedJob = {
  prompt: 'a cat',
  negativePrompt: '',
  model: 'm',
  sampler: 'euler',
  steps: 4,
  cfgScale: 7.5,
  width: 64,
  height: 64,
  seed: 1,
  count: 1,
  outputFormat: 'png',
  quality: 90,
};

function setup() {
  const backend = new FakeBackend();
  const queue = new JobQueue(backend, { outputsDir: '/tmp/none', inputsDir: '/tmp/none', version: 'test' });
  return { backend, queue };
}

test('the first job runs at once, later ones wait in order with 1-based positions', () => {
  const { backend, queue } = setup();
  const a = queue.submit(request, '/m');
  const b = queue.submit({ ...request, prompt: 'b' }, '/m');
  const c = queue.submit({ ...request, prompt: 'c' }, '/m');
  assert.equal(backend.runs.length, 1);
  assert.equal(backend.runs[0]?.id, a.id);
  assert.deepEqual(queue.snapshot().map((j) => [j.id, j.state, j.position]), [
    [a.id, 'running', 0],
    [b.id, 'queued', 1],
    [c.id, 'queued', 2],
  ]);
});

test('cancelling a queued job removes it; the others move up', () => {
  const { queue } = setup();
  queue.submit(request, '/m');
  const b = queue.submit(request, '/m');
  const c = queue.submit(request, '/m');
  assert.equal(queue.cancel(b.id)?.state, 'cancelled');
  assert.equal(queue.get(c.id)?.position, 1);
  assert.equal(queue.snapshot().length, 2);
  assert.equal(queue.recent()[0]?.id, b.id);
});

test('cancelling the running job asks the worker to stop and keeps finished images', () => {
  const { backend, queue } = setup();
  const a = queue.submit({ ...request, count: 2 }, '/m');
  const b = queue.submit(request, '/m');
  queue.cancel(a.id);
  assert.deepEqual(backend.cancels, [a.id]);
  assert.equal(queue.get(a.id)?.state, 'running', 'it stops at the next step, not now');
  backend.send({ type: 'image', jobId: a.id, image: { index: 0, imageId: `${a.id}-0`, file: '/x.png', seed: 1, width: 64, height: 64, partial: false } });
  backend.send({ type: 'finished', jobId: a.id, outcome: 'cancelled' });
  const done = queue.get(a.id);
  assert.equal(done?.state, 'cancelled');
  assert.equal(done?.images.length, 1);
  assert.equal(backend.runs.at(-1)?.id, b.id, 'the next job starts');
});

test('skipping asks the worker to end the running image only; a queued job has none, and nothing happens', () => {
  const { backend, queue } = setup();
  const a = queue.submit({ ...request, count: 3 }, '/m');
  const b = queue.submit(request, '/m');
  queue.skip(a.id);
  assert.deepEqual(backend.skips, [a.id]);
  assert.deepEqual(backend.cancels, [], 'a skip is not a cancel');
  assert.equal(queue.get(a.id)?.state, 'running');
  queue.skip(b.id);
  assert.equal(queue.get(b.id)?.state, 'queued', 'a waiting job is left alone');
  assert.deepEqual(backend.skips, [a.id], 'nothing is sent to the worker for a queued job');
});

test('progress gives steps, ETA and time per step; a failure is recorded and the queue goes on', () => {
  const { backend, queue } = setup();
  const events: string[] = [];
  queue.on('progress', (id, p) => events.push(`${id}:${p.step}/${p.totalSteps}`));
  const a = queue.submit(request, '/m');
  const b = queue.submit(request, '/m');
  backend.send({ type: 'started', jobId: a.id });
  backend.send({ type: 'progress', jobId: a.id, image: 0, step: 1, totalSteps: 4 });
  backend.send({ type: 'progress', jobId: a.id, image: 0, step: 2, totalSteps: 4 });
  const p = queue.get(a.id)?.progress;
  assert.equal(p?.step, 2);
  assert.ok((p?.etaMs ?? -1) >= 0);
  assert.deepEqual(events, [`${a.id}:1/4`, `${a.id}:2/4`]);
  backend.send({ type: 'failed', jobId: a.id, error: { code: 'EASEL_ERR_RENDER', message: 'boom' } });
  assert.equal(queue.get(a.id)?.state, 'failed');
  assert.equal(queue.get(a.id)?.error?.message, 'boom');
  assert.equal(queue.get(b.id)?.state, 'running');
});

test('messages about jobs that are not running are ignored', () => {
  const { backend, queue } = setup();
  const a = queue.submit(request, '/m');
  const b = queue.submit(request, '/m');
  backend.send({ type: 'finished', jobId: b.id, outcome: 'done' });
  assert.equal(queue.get(b.id)?.state, 'queued');
  assert.equal(queue.get(a.id)?.state, 'running');
});

test('pause lets the running job finish and starts nothing new until resumed', () => {
  const { backend, queue } = setup();
  const a = queue.submit(request, '/m');
  const b = queue.submit(request, '/m');
  queue.pause();
  backend.send({ type: 'finished', jobId: a.id, outcome: 'done' });
  assert.equal(queue.get(b.id)?.state, 'queued');
  assert.equal(backend.runs.length, 1);
  queue.resume();
  assert.equal(queue.get(b.id)?.state, 'running');
});

test('reorder puts the named queued jobs first; unknown or running ids change nothing', () => {
  const { queue } = setup();
  const a = queue.submit(request, '/m');
  const [b, c, d] = [queue.submit(request, '/m'), queue.submit(request, '/m'), queue.submit(request, '/m')];
  assert.deepEqual(queue.reorder([d.id, b.id]), []);
  assert.deepEqual(queue.snapshot().map((j) => j.id), [a.id, d.id, b.id, c.id]);
  assert.deepEqual(queue.reorder([a.id, 'nope']), [a.id, 'nope']);
  assert.deepEqual(queue.snapshot().map((j) => j.id), [a.id, d.id, b.id, c.id]);
});

test('cancel-all empties the queue and stops the running job', () => {
  const { backend, queue } = setup();
  const a = queue.submit(request, '/m');
  queue.submit(request, '/m');
  queue.submit(request, '/m');
  queue.cancelAll();
  assert.deepEqual(queue.snapshot().map((j) => j.state), ['running']);
  assert.deepEqual(backend.cancels, [a.id]);
  backend.send({ type: 'finished', jobId: a.id, outcome: 'cancelled' });
  assert.equal(queue.snapshot().length, 0);
  assert.equal(queue.recent().filter((j) => j.state === 'cancelled').length, 3);
});
