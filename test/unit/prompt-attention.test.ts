import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BREAK_WEIGHT, isBreakSegment, parsePromptAttention } from '../../server/src/pipeline/prompt/attention.js';

/** Parsed output as A1111 prints it: [text, weight] pairs. */
const pairs = (text: string): Array<[string, number]> => parsePromptAttention(text).map((s) => [s.text, s.weight]);

test("A1111's parse_prompt_attention docstring examples, weights bit for bit", () => {
  assert.deepEqual(pairs('normal text'), [['normal text', 1.0]]);
  assert.deepEqual(pairs('an (important) word'), [['an ', 1.0], ['important', 1.1], [' word', 1.0]]);
  assert.deepEqual(pairs('(unbalanced'), [['unbalanced', 1.1]]);
  assert.deepEqual(pairs('\\(literal\\]'), [['(literal]', 1.0]]);
  assert.deepEqual(pairs('(unnecessary)(parens)'), [['unnecessaryparens', 1.1]]);
  assert.deepEqual(pairs('a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).'), [
    ['a ', 1.0],
    ['house', 1.5730000000000004],
    [' ', 1.1],
    ['on', 1.0],
    [' a ', 1.1],
    ['hill', 0.55],
    [', sun, ', 1.1],
    ['sky', 1.4641000000000006],
    ['.', 1.1],
  ]);
});

// Expected values below were produced by A1111's own parser (Python floats), not re-derived here.
test('nesting, square brackets and explicit weights multiply like A1111', () => {
  assert.deepEqual(pairs('((a))'), [['a', 1.2100000000000002]]);
  assert.deepEqual(pairs('[[a]]'), [['a', 0.8264462809917354]]);
  assert.deepEqual(pairs('((a:2) b)'), [['a', 2.2], [' b', 1.1]]);
  assert.deepEqual(pairs('[(a:1.5)]'), [['a', 1.3636363636363635]]);
  assert.deepEqual(pairs('(a:0.5) (b:-1) (c:+.5)'), [['a', 0.5], [' ', 1.0], ['b', -1.0], [' ', 1.0], ['c', 0.5]]);
  assert.deepEqual(pairs('(a, b:1.2), [c]'), [['a, b', 1.2], [', ', 1.0], ['c', 0.9090909090909091]]);
  // Brackets close in the order they appear, even when they cross.
  assert.deepEqual(pairs('[a (b] c)'), [['a ', 0.9090909090909091], ['b', 1.0], [' c', 1.1]]);
});

test('unbalanced and stray brackets', () => {
  assert.deepEqual(pairs('[a'), [['a', 0.9090909090909091]]);
  assert.deepEqual(pairs('a) b]'), [['a) b]', 1.0]]);
  // A weight with no '(' open is plain text.
  assert.deepEqual(pairs('x:1.3) y'), [['x:1.3) y', 1.0]]);
});

test('escapes give literal characters; a lone backslash disappears', () => {
  assert.deepEqual(pairs('a \\\\ b'), [['a \\ b', 1.0]]);
  assert.deepEqual(pairs('a\\b'), [['ab', 1.0]]);
  assert.deepEqual(pairs('\\(a\\) \\[b\\]'), [['(a) [b]', 1.0]]);
  assert.deepEqual(pairs('(\\(x\\))'), [['(x)', 1.1]]);
});

test('BREAK is its own segment, only as a whole upper-case word', () => {
  assert.deepEqual(pairs('a BREAK b'), [['a', 1.0], ['BREAK', -1], ['b', 1.0]]);
  assert.deepEqual(pairs('BREAK a'), [['', 1.0], ['BREAK', -1], ['a', 1.0]]);
  assert.deepEqual(pairs('a BREAK'), [['a', 1.0], ['BREAK', -1], ['', 1.0]]);
  assert.deepEqual(pairs('a\nBREAK\nb'), [['a', 1.0], ['BREAK', -1], ['b', 1.0]]);
  assert.deepEqual(pairs('aBREAK b'), [['aBREAK b', 1.0]]);
  assert.deepEqual(pairs('break a'), [['break a', 1.0]]);
  // Python's \b is Unicode-aware: a letter like "é" glued to BREAK keeps it a word.
  assert.deepEqual(pairs('éBREAK'), [['éBREAK', 1.0]]);
  const segments = parsePromptAttention('x BREAK y');
  assert.equal(segments.filter(isBreakSegment).length, 1);
  assert.equal(segments[1].weight, BREAK_WEIGHT);
});

test('BREAK inside brackets stays a break (A1111 would scale the marker and encode the word "break")', () => {
  assert.deepEqual(pairs('(a BREAK b)'), [['a', 1.1], ['BREAK', -1], ['b', 1.1]]);
  assert.deepEqual(pairs('[a BREAK b'), [['a', 0.9090909090909091], ['BREAK', -1], ['b', 0.9090909090909091]]);
});

test('a malformed weight is text instead of an error, and the bracket still closes', () => {
  assert.deepEqual(pairs('(a:1.2.3)'), [['a:1.2.3', 1.1]]);
  assert.deepEqual(pairs('(a:.) b'), [['a:.', 1.1], [' b', 1.0]]);
});

test('empty prompts give one empty segment of weight 1', () => {
  assert.deepEqual(pairs(''), [['', 1.0]]);
  assert.deepEqual(pairs('()'), [['', 1.0]]);
  assert.deepEqual(pairs('[]'), [['', 1.0]]);
});

test('segments with equal weights are merged; the input is not mutated', () => {
  assert.deepEqual(pairs('(a)(b) c [d][e]'), [['ab', 1.1], [' c ', 1.0], ['de', 0.9090909090909091]]);
  const first = parsePromptAttention('(a)');
  first[0].text = 'changed';
  assert.deepEqual(pairs('(a)'), [['a', 1.1]]);
});
