// Sharing one GPU fairly: owners take turns, so one person's long batch cannot starve someone else's one job.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fairOrder } from '../../server/src/queue/fair-order.js';
import { JobQueue } from '../../server/src/queue/job-queue.js';
import type { ResolvedJob } from '../../server/src/http/schemas.js';
import { FakeBackend } from '../helpers/fake-backend.js';

const jobs = (spec: string) => spec.split(' ').map((s) => ({ name: s, owner: s[0] === 'L' ? null : s[0]! }));
const names = (list: { name: string }[]) => list.map((j) => j.name).join(' ');

test('one owner (or none recorded): first in, first out', () => {
  assert.equal(names(fairOrder(jobs('A1 A2 A3'), new Map())), 'A1 A2 A3');
  assert.equal(names(fairOrder(jobs('L1 L2'), new Map([['local', 4]]))), 'L1 L2');
});

test('owners alternate, each keeping their own order; first come breaks the first tie', () => {
  assert.equal(names(fairOrder(jobs('A1 A2 A3 A4 B1 C1 B2'), new Map())), 'A1 B1 C1 A2 B2 A3 A4');
});

test('whoever had a turn most recently goes last', () => {
  // A just ran (turn 7); B ran long ago (turn 2); C never did.
  const last = new Map([['A', 7], ['B', 2]]);
  assert.equal(names(fairOrder(jobs('A1 A2 B1 C1'), last)), 'C1 B1 A1 A2');
});

test('jobs without an owner count as this machine ("local")', () => {
  const order = fairOrder([...jobs('L1 L2'), { name: 'X', owner: 'local' }, ...jobs('P1')], new Map([['local', 3]]));
  assert.equal(names(order), 'P1 L1 L2 X');
});

const request: ResolvedJob = {
  prompt: 'p', negativePrompt: '', model: 'm', sampler: 'euler', steps: 4, cfgScale: 7, width: 64, height: 64, seed: 1, count: 1, outputFormat: 'png', quality: 90,
};

test('the queue: a phone’s one job runs right after the current job of a long batch, and positions say so', () => {
  const backend = new FakeBackend();
  const queue = new JobQueue(backend, { outputsDir: '/tmp/none', inputsDir: '/tmp/none', version: 'test' });
  const batch = Array.from({ length: 5 }, (_, i) => queue.submit({ ...request, prompt: `batch ${i}` }, '/m', 'local'));
  const phone = queue.submit({ ...request, prompt: 'phone' }, '/m', 'phone');
  assert.equal(backend.runs[0]?.id, batch[0]!.id);
  assert.equal(queue.get(phone.id)?.position, 1, 'next in line, though submitted last');
  assert.deepEqual(queue.snapshot().map((j) => j.request.prompt), ['batch 0', 'phone', 'batch 1', 'batch 2', 'batch 3', 'batch 4']);
  assert.deepEqual(queue.snapshot().map((j) => j.position), [0, 1, 2, 3, 4, 5]);

  backend.send({ type: 'finished', jobId: batch[0]!.id, outcome: 'done' });
  assert.equal(backend.runs[1]?.id, phone.id);
  // The phone asks again while its first job runs: it waits one turn, not the whole batch.
  const again = queue.submit({ ...request, prompt: 'phone again' }, '/m', 'phone');
  assert.equal(queue.get(again.id)?.position, 2);
  backend.send({ type: 'finished', jobId: phone.id, outcome: 'done' });
  backend.send({ type: 'finished', jobId: batch[1]!.id, outcome: 'done' });
  assert.equal(backend.runs[3]?.id, again.id);
  assert.equal(queue.ownerOf(again.id), 'phone');
  assert.equal(queue.ownerOf('nope'), undefined);
});
