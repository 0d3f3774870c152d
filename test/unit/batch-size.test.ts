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

test('a bad EASEL_BATCH_SIZE stops start-up with what is wrong', () => {
  assert.equal(loadConfig([], {}).batchSize, undefined);
  assert.equal(loadConfig([], { EASEL_BATCH_SIZE: '2' }).batchSize, 2);
  for (const bad of ['0', '17', '2.5', 'many']) {
    assert.throws(() => loadConfig([], { EASEL_BATCH_SIZE: bad }), /EASEL_BATCH_SIZE must be auto or a whole number from 1 to 16/);
  }
});
