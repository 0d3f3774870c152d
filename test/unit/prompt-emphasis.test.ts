import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyEmphasis } from '../../server/src/pipeline/prompt/emphasis.js';

const mean = (values: ArrayLike<number>): number => Array.from(values).reduce((a, b) => a + b, 0) / values.length;

function assertClose(actual: ArrayLike<number>, expected: number[], tolerance = 1e-6): void {
  assert.equal(actual.length, expected.length);
  expected.forEach((value, i) => assert.ok(Math.abs(actual[i] - value) <= tolerance, `[${i}] ${actual[i]} ≠ ${value}`));
}

test('hand-computed: scale each token, then restore the original mean', () => {
  // Two tokens of two channels. Original mean (1+2+3+4)/4 = 2.5. Weighted: [2, 4, 3, 4], mean 3.25.
  // Restoring multiplies everything by 2.5 / 3.25 = 10/13.
  const hidden = new Float32Array([1, 2, 3, 4]);
  const result = applyEmphasis(hidden, [1, 2, 2], [2, 1]);
  assertClose(result, [20 / 13, 40 / 13, 30 / 13, 40 / 13]);
  assert.deepEqual(Array.from(hidden), [1, 2, 3, 4], 'input untouched');
});

test('the mean of a full 77-token chunk is restored', () => {
  const channels = 16;
  const hidden = Float32Array.from({ length: 77 * channels }, (_, i) => Math.sin(i * 0.37) + 0.2);
  const weights = Array.from({ length: 77 }, (_, t) => (t >= 3 && t < 6 ? 1.4641 : t === 10 ? 0.5 : 1));
  const result = applyEmphasis(hidden, [1, 77, channels], weights);
  assert.ok(Math.abs(mean(result) - mean(hidden)) < 1e-6);
  // Relative to an unweighted token, an emphasized one is scaled by its weight.
  const ratio = (token: number) => result[token * channels] / hidden[token * channels];
  assert.ok(Math.abs(ratio(4) / ratio(0) - 1.4641) < 1e-5);
  assert.ok(Math.abs(ratio(10) / ratio(0) - 0.5) < 1e-5);
});

test('all weights 1 returns the values unchanged', () => {
  const hidden = Float32Array.from({ length: 77 * 4 }, (_, i) => i / 7 - 3);
  const result = applyEmphasis(hidden, [1, 77, 4], new Array(77).fill(1));
  assert.deepEqual(Array.from(result), Array.from(hidden));
});

test('batched rows share one mean, as A1111 takes it over the whole tensor', () => {
  // Rows [1, 1] and [3, 3] (one channel each, two tokens): mean 2; weights 2 on row one's first token only.
  const hidden = new Float32Array([1, 1, 3, 3]);
  const result = applyEmphasis(hidden, [2, 2, 1], [2, 1, 1, 1]);
  // Weighted [2, 1, 3, 3], mean 2.25: scale 8/9.
  assertClose(result, [16 / 9, 8 / 9, 24 / 9, 24 / 9]);
  // One row of weights applies to every batch row.
  assertClose(applyEmphasis(hidden, [2, 2, 1], [2, 1]), Array.from(applyEmphasis(hidden, [2, 2, 1], [2, 1, 2, 1])));
});

test('a zero weighted mean skips the restore instead of producing NaN', () => {
  const result = applyEmphasis(new Float32Array([1, 2]), [1, 2, 1], [0, 0]);
  assert.deepEqual(Array.from(result), [0, 0]);
});

test('mismatched shapes are rejected', () => {
  assert.throws(() => applyEmphasis(new Float32Array(6), [1, 2, 2], [1, 1]), /dims/);
  assert.throws(() => applyEmphasis(new Float32Array(4), [1, 2, 2], [1, 1, 1]), /weights/);
});
