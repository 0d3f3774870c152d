// Turning the prompt box into the list of prompts one click queues, as Easy Diffusion users expect:
//   - every non-blank line is its own prompt;
//   - `{a,b}` is a set: one prompt per choice (sets multiply, and may nest);
//   - `base | x | y` is a matrix: the base alone, then the base with every combination of the other parts.
// A1111 syntax passes through untouched: `|` inside `[...]` is A1111's alternation, and commas inside `(...)`
// or `[...]` within a set belong to the choice. A backslash keeps the next character literal (`\{`, `\|`).
// Pure functions: no DOM, no Svelte, so the unit tests import them directly.

export interface Expansion {
  prompts: string[];
  /** True when there were more prompts than `limit`; `prompts` then holds the first `limit`. */
  truncated: boolean;
}

export const DEFAULT_EXPANSION_LIMIT = 10_000;
// 2^30 combinations is already far past any limit; more parts would overflow the bit mask.
const MAX_MATRIX_PARTS = 30;

type Piece = string | Piece[][]; // text, or a set: a list of choices, each a sequence of pieces

/** Every prompt the text makes, in order: line by line, sets before the matrix. */
export function expandPrompts(text: string, limit = DEFAULT_EXPANSION_LIMIT): Expansion {
  const prompts: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (!line.trim()) continue;
    for (const chosen of expandSets(parseSets(line), limit - prompts.length + 1)) {
      for (const prompt of expandMatrix(chosen)) {
        if (!prompt) continue;
        if (prompts.length === limit) return { prompts, truncated: true };
        prompts.push(prompt);
      }
    }
  }
  return { prompts, truncated: false };
}

/** The Make button's count: "12", or "10000+" past the limit. */
export function countLabel(expansion: Expansion, imagesPerPrompt: number): string {
  const total = expansion.prompts.length * Math.max(1, imagesPerPrompt);
  return expansion.truncated ? `${total}+` : String(total);
}

// ---- sets -------------------------------------------------------------------------------------------------

function parseSets(line: string): Piece[] {
  const { pieces } = parseSequence(line, 0, false);
  return pieces;
}

/** Reads pieces until the end, or (inside a set) until the `,` or `}` that ends this choice. */
function parseSequence(text: string, start: number, inSet: boolean): { pieces: Piece[]; end: number } {
  const pieces: Piece[] = [];
  let literal = '';
  let depth = 0; // ( and [ nesting, where a comma is A1111 syntax, not a choice separator
  let i = start;
  while (i < text.length) {
    const c = text[i] as string;
    if (c === '\\' && i + 1 < text.length) {
      literal += c + text[i + 1];
      i += 2;
      continue;
    }
    if (inSet && depth === 0 && (c === ',' || c === '}')) break;
    if (c === '(' || c === '[') depth++;
    if ((c === ')' || c === ']') && depth > 0) depth--;
    if (c === '{') {
      const set = parseSet(text, i);
      if (set) {
        if (literal) pieces.push(literal);
        literal = '';
        pieces.push(set.choices);
        i = set.end;
        continue;
      }
    }
    literal += c;
    i++;
  }
  if (literal) pieces.push(literal);
  return { pieces, end: i };
}

/** A set starting at `{`, or null when it is not one (unclosed, or no comma: `{x}` stays literal). */
function parseSet(text: string, open: number): { choices: Piece[][]; end: number } | null {
  const choices: Piece[][] = [];
  let i = open + 1;
  for (;;) {
    const choice = parseSequence(text, i, true);
    choices.push(choice.pieces);
    if (choice.end >= text.length) return null;
    i = choice.end + 1;
    if (text[choice.end] === '}') break;
  }
  return choices.length > 1 ? { choices, end: i } : null;
}

/** Every string the pieces make, stopping after `limit` of them. */
function expandSets(pieces: Piece[], limit: number): string[] {
  let results = [''];
  for (const piece of pieces) {
    const options = typeof piece === 'string' ? [piece] : piece.flatMap((choice) => expandSets(choice, limit));
    const next: string[] = [];
    outer: for (const head of results) {
      for (const option of options) {
        next.push(head + option);
        if (next.length >= limit) break outer;
      }
    }
    results = next;
  }
  return results;
}

// ---- matrix -----------------------------------------------------------------------------------------------

/** `base | a | b` → "base", "base, a", "base, b", "base, a, b" (A1111's prompt-matrix order), lazily. */
function* expandMatrix(prompt: string): Generator<string> {
  const [base = '', ...options] = splitTopLevelBars(prompt).map((part) => unescape(part.trim()));
  const extras = options.filter(Boolean).slice(0, MAX_MATRIX_PARTS);
  for (let mask = 0; mask < 2 ** extras.length; mask++) {
    const chosen = extras.filter((_, bit) => mask & (1 << bit));
    yield [base, ...chosen].filter(Boolean).join(', ');
  }
}

function splitTopLevelBars(prompt: string): string[] {
  const parts: string[] = [];
  let current = '';
  let square = 0;
  for (let i = 0; i < prompt.length; i++) {
    const c = prompt[i] as string;
    if (c === '\\' && i + 1 < prompt.length) {
      current += c + prompt[++i];
      continue;
    }
    if (c === '[') square++;
    if (c === ']' && square > 0) square--;
    if (c === '|' && square === 0) {
      parts.push(current);
      current = '';
      continue;
    }
    current += c;
  }
  parts.push(current);
  return parts;
}

/** Drops the backslash before the characters this syntax uses; A1111's own escapes (`\(`) stay. */
function unescape(text: string): string {
  return text.replace(/\\([{}|,])/g, '$1');
}
