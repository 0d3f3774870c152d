// A1111 attention markup: "(word)", "[word]", "(word:1.3)", escapes and BREAK, parsed into weighted text segments.
// Behaviour follows stable-diffusion-webui's modules/prompt_parser.py parse_prompt_attention, so the same prompt
// gives the same weights (to the last bit: multipliers are applied in the same order, as float64 like Python).

export interface PromptSegment {
  text: string;
  /** Attention multiplier for every token of `text`; BREAK markers carry BREAK_WEIGHT instead. */
  weight: number;
}

/** A1111 marks a BREAK with the pair ["BREAK", -1]; kept so parsed output compares 1:1 with A1111's. */
export const BREAK_TEXT = 'BREAK';
export const BREAK_WEIGHT = -1;

export const ROUND_BRACKET_MULTIPLIER = 1.1;
// A1111 multiplies by 1/1.1 rather than dividing by 1.1; the two differ in the last bit for nested brackets.
export const SQUARE_BRACKET_MULTIPLIER = 1 / 1.1;

// A1111's BREAK regex is `\s*\bBREAK\b\s*`; Python's \b is Unicode-aware, JavaScript's is ASCII-only, so the word
// boundary is spelled out with Unicode letter/number classes.
const BREAK_PATTERN = /\s*(?<![\p{L}\p{N}_])BREAK(?![\p{L}\p{N}_])\s*/u;
// The explicit weight form, tried where a ':' appears: ":1.3)", ":-0.5)", ":.8)".
const EXPLICIT_WEIGHT = /:([+-]?[.\d]+)\)/y;
const ESCAPABLE = new Set(['(', ')', '[', ']', '\\']);
const SPECIAL = new Set(['(', ')', '[', ']', ':', '\\']);

export function isBreakSegment(segment: PromptSegment): boolean {
  return segment.weight === BREAK_WEIGHT && segment.text === BREAK_TEXT;
}

/**
 * Splits a prompt into runs of text with their attention weight.
 *
 * - `(a)` ×1.1, `[a]` ÷1.1, `(a:1.3)` ×1.3; nesting multiplies.
 * - `\(` `\)` `\[` `\]` `\\` are literal characters; a backslash before anything else is dropped (as in A1111).
 * - Brackets still open at the end apply to everything after them; stray closers are literal text.
 * - `BREAK` becomes its own segment `{ text: 'BREAK', weight: -1 }`.
 * - Neighbouring runs with equal weights are merged; an empty prompt gives `[{ text: '', weight: 1 }]`.
 */
export function parsePromptAttention(text: string): PromptSegment[] {
  const segments: PromptSegment[] = [];
  const openRound: number[] = [];
  const openSquare: number[] = [];

  // A bracket scales every segment emitted since it opened; BREAK markers keep their marker weight.
  const multiplyFrom = (start: number, multiplier: number): void => {
    for (let i = start; i < segments.length; i++) {
      if (!isBreakSegment(segments[i])) segments[i].weight *= multiplier;
    }
  };

  let position = 0;
  while (position < text.length) {
    const char = text[position];
    if (char === '\\') {
      const next = text[position + 1];
      const escaped = next !== undefined && ESCAPABLE.has(next);
      // A lone backslash leaves an empty segment, as in A1111, so parsed output stays comparable with its own.
      segments.push({ text: escaped ? next : '', weight: 1 });
      position += escaped ? 2 : 1;
    } else if (char === '(') {
      openRound.push(segments.length);
      position += 1;
    } else if (char === '[') {
      openSquare.push(segments.length);
      position += 1;
    } else if (char === ':') {
      position = parseColon(text, position, segments, openRound, multiplyFrom);
    } else if (char === ')' && openRound.length > 0) {
      multiplyFrom(openRound.pop()!, ROUND_BRACKET_MULTIPLIER);
      position += 1;
    } else if (char === ']' && openSquare.length > 0) {
      multiplyFrom(openSquare.pop()!, SQUARE_BRACKET_MULTIPLIER);
      position += 1;
    } else if (char === ')' || char === ']') {
      pushPlainText(segments, char);
      position += 1;
    } else {
      let end = position + 1;
      while (end < text.length && !SPECIAL.has(text[end])) end++;
      pushPlainText(segments, text.slice(position, end));
      position = end;
    }
  }

  // Unclosed brackets close at the end, outermost first, round before square: the order A1111 uses.
  for (const start of openRound) multiplyFrom(start, ROUND_BRACKET_MULTIPLIER);
  for (const start of openSquare) multiplyFrom(start, SQUARE_BRACKET_MULTIPLIER);

  if (segments.length === 0) return [{ text: '', weight: 1 }];
  return mergeEqualWeights(segments);
}

/** Handles a ':' at `position`; returns the position after what it consumed. */
function parseColon(
  text: string,
  position: number,
  segments: PromptSegment[],
  openRound: number[],
  multiplyFrom: (start: number, multiplier: number) => void,
): number {
  EXPLICIT_WEIGHT.lastIndex = position;
  const match = EXPLICIT_WEIGHT.exec(text);
  if (!match) {
    pushPlainText(segments, ':');
    return position + 1;
  }
  const weight = Number(match[1]);
  if (openRound.length > 0 && Number.isFinite(weight)) {
    multiplyFrom(openRound.pop()!, weight);
    return position + match[0].length;
  }
  if (openRound.length > 0) {
    // "(a:1.2.3)": Python's float() raises here and A1111 fails the job. Keep the number as text and let the
    // ')' close the bracket normally instead.
    pushPlainText(segments, match[0].slice(0, -1));
    return position + match[0].length - 1;
  }
  // With no '(' open, A1111 keeps the whole ":1.3)" as text.
  pushPlainText(segments, match[0]);
  return position + match[0].length;
}

/** Appends text, turning each BREAK keyword inside it into a marker segment. */
function pushPlainText(segments: PromptSegment[], text: string): void {
  text.split(BREAK_PATTERN).forEach((part, i) => {
    if (i > 0) segments.push({ text: BREAK_TEXT, weight: BREAK_WEIGHT });
    segments.push({ text: part, weight: 1 });
  });
}

function mergeEqualWeights(segments: PromptSegment[]): PromptSegment[] {
  const merged: PromptSegment[] = [{ ...segments[0] }];
  for (const segment of segments.slice(1)) {
    const last = merged[merged.length - 1];
    // Two markers never meet (an empty text run always sits between them), but keep BREAKs apart regardless.
    if (last.weight === segment.weight && !isBreakSegment(last) && !isBreakSegment(segment)) last.text += segment.text;
    else merged.push({ ...segment });
  }
  return merged;
}
