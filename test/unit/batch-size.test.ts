import { test } from 'node:test';
import assert from 'node:assert/strict';
import { batchSizeFor, CPU_BATCH_SIZE, GPU_BATCH_SIZE, parseBatchSize } from '../../server/src/config/batch-size.js';
import { loadConfig } from '../../server/src/config/config.js';

test('the batch size is the execution provider’s default unless EASEL_BATCH_SIZE says otherwise', () => {
  assert.equal(batchSizeFor(['cpu']), CPU_BATCH_SIZE);
  assert.equal(batchSizeFor(['cuda', 'cpu']), GPU_BATCH_SIZE);
  assert.equal(batchSizeFor(['cpu'], parseBatchSize('3')), 3);
  assert.equal(batchSizeFor(['cuda', 'cpu'], parseBatchSize(' 1 ')), 1);
  assert.equal(parseBatchSize(undefined), undefined);
  assert.equal(parseBatchSize('auto'), undefined);
});

test('a GPU batches fewer images of larger pictures by default; an explicit size is taken as given', () => {
  const gpu = ['cuda', 'cpu'];
  assert.equal(batchSizeFor(gpu, undefined, { width: 512, height: 512 }), GPU_BATCH_SIZE);
  assert.equal(batchSizeFor(gpu, undefined, { width: 768, height: 768 }), 1, '768² holds 2.25 × the latents of 512²');
  assert.equal(batchSizeFor(gpu, undefined, { width: 512, height: 1024 }), 2);
  assert.equal(batchSizeFor(gpu, undefined, { width: 1024, height: 1024 }), 1);
  assert.equal(batchSizeFor(gpu, undefined, { width: 256, height: 256 }), GPU_BATCH_SIZE, 'never above the default');
  assert.equal(batchSizeFor(['cpu'], undefined, { width: 256, height: 256 }), CPU_BATCH_SIZE);
  assert.equal(batchSizeFor(gpu, 8, { width: 1024, height: 1024 }), 8, 'EASEL_BATCH_SIZE is the owner’s call');
});

test('a bad EASEL_BATCH_SIZE stops start-up with what is wrong', () => {
  assert.equal(loadConfig([], {}).batchSize, undefined);
  assert.equal(loadConfig([], { EASEL_BATCH_SIZE: '2' }).batchSize, 2);
  for (const bad of ['0', '17', '2.5', 'many']) {
    assert.throws(() => loadConfig([], { EASEL_BATCH_SIZE: bad }), /EASEL_BATCH_SIZE must be auto or a whole number from 1 to 16/);
  }
});
