// The prompt box's expansion rules: lines, {a,b} sets and | matrices, and what the Make button counts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { countLabel, expandPrompts } from '../../ui/src/lib/prompt-expand.js';

const expand = (text: string, limit?: number) => expandPrompts(text, limit).prompts;

describe('prompt expansion', () => {
  it('makes one prompt per non-blank line, trimmed of nothing but blank lines', () => {
    assert.deepEqual(expand('a red fox\n\n  \r\na blue whale\n'), ['a red fox', 'a blue whale']);
  });

  it('expands a set into one prompt per choice, and multiplies sets', () => {
    assert.deepEqual(expand('a {red,blue} {fox,whale}'), ['a red fox', 'a red whale', 'a blue fox', 'a blue whale']);
  });

  it('expands nested sets and keeps empty choices', () => {
    assert.deepEqual(expand('{a,{b,c}} cat'), ['a cat', 'b cat', 'c cat']);
    assert.deepEqual(expand('cat{, sleeping}'), ['cat', 'cat sleeping']);
  });

  it('leaves braces that are not sets alone', () => {
    assert.deepEqual(expand('a {single} word'), ['a {single} word']);
    assert.deepEqual(expand('unclosed {a,b'), ['unclosed {a,b']);
    assert.deepEqual(expand('escaped \\{a,b\\}'), ['escaped {a,b}']);
  });

  it('keeps A1111 weights with commas inside one choice', () => {
    assert.deepEqual(expand('{(red, glossy:1.2),blue} car'), ['(red, glossy:1.2) car', 'blue car']);
  });

  it('expands a matrix in A1111 order: the base, then every combination of the parts', () => {
    assert.deepEqual(expand('a castle | at night | in snow'), [
      'a castle',
      'a castle, at night',
      'a castle, in snow',
      'a castle, at night, in snow',
    ]);
  });

  it('does not split A1111 alternation [a|b] or an escaped bar', () => {
    assert.deepEqual(expand('a [cat|dog] | smiling'), ['a [cat|dog]', 'a [cat|dog], smiling']);
    assert.deepEqual(expand('a \\| b'), ['a | b']);
  });

  it('applies sets before the matrix, line by line', () => {
    assert.deepEqual(expand('{a,b} | c\nd'), ['a', 'a, c', 'b', 'b, c', 'd']);
  });

  it('stops at the limit and says so', () => {
    const many = expandPrompts('{1,2,3,4,5,6,7,8,9,10}{1,2,3,4,5,6,7,8,9,10}{1,2,3,4,5,6,7,8,9,10}{1,2,3,4,5,6,7,8,9,10}{1,2,3,4,5,6,7,8,9,10}', 1000);
    assert.equal(many.prompts.length, 1000);
    assert.equal(many.truncated, true);
    const matrix = expandPrompts(`x ${'| y '.repeat(40)}`, 50);
    assert.equal(matrix.prompts.length, 50);
    assert.equal(matrix.truncated, true);
    assert.equal(expandPrompts('{a,b}', 2).truncated, false);
  });

  it('labels the Make button with prompts × images, and a plus past the limit', () => {
    assert.equal(countLabel(expandPrompts('{a,b,c}'), 4), '12');
    assert.equal(countLabel(expandPrompts(''), 4), '0');
    assert.equal(countLabel(expandPrompts('{a,b,c}', 2), 1), '2+');
  });
});
