// Long prompts as A1111 encodes them (modules/sd_hijack_clip.py tokenize_line): the weighted segments are tokenized
// one by one and laid out in 75-token chunks, each wrapped as [bos] + tokens + [eos] + padding = 77 ids. Every
// chunk goes through the text encoder on its own and the outputs are concatenated, so nothing is truncated.
import type { ClipTokenizer } from '../tokenizer/clip-tokenizer.js';
import { isBreakSegment, parsePromptAttention } from './attention.js';
import type { PromptSegment } from './attention.js';

export interface PromptChunk {
  /** `tokenizer.maxLength` ids (77): bos, up to 75 content ids, eos, then pad ids. */
  ids: number[];
  /** One attention multiplier per id; 1.0 at bos, eos and padding. */
  weights: number[];
}

export interface PromptChunks {
  chunks: PromptChunk[];
  /**
   * A1111's token count, the number its UI shows as "23/75": content tokens, except that a chunk closed early by
   * BREAK or by comma backtracking counts as a full 75. `chunkedTokenLimit(tokenCount)` gives the "/75" part.
   */
  tokenCount: number;
}

/** What chunking needs from a tokenizer; `ClipTokenizer` fits. */
export type ChunkTokenizer = Pick<ClipTokenizer, 'encode' | 'bosId' | 'eosId' | 'padId' | 'maxLength'>;

export interface ChunkOptions {
  /**
   * A1111's `comma_padding_backtrack` (default 20): when a chunk is full and its last comma is at most this many
   * tokens back, the words after that comma move to the next chunk so a phrase is not cut in half. 0 disables it.
   */
  commaBacktrack?: number;
}

export const DEFAULT_COMMA_BACKTRACK = 20;

/** Parses attention markup and lays the prompt out in chunks. */
export function promptToChunks(tokenizer: ChunkTokenizer, text: string, options: ChunkOptions = {}): PromptChunks {
  return segmentsToChunks(tokenizer, parsePromptAttention(text), options);
}

/** Lays already-parsed segments out in chunks (e.g. `[{ text, weight: 1 }]` to ignore markup). */
export function segmentsToChunks(
  tokenizer: ChunkTokenizer,
  segments: readonly PromptSegment[],
  options: ChunkOptions = {},
): PromptChunks {
  const chunkLength = contentLength(tokenizer);
  const backtrack = options.commaBacktrack ?? DEFAULT_COMMA_BACKTRACK;
  const commaId = singleTokenId(tokenizer, ',');
  const chunks: PromptChunk[] = [];
  let ids: number[] = [];
  let weights: number[] = [];
  let tokenCount = 0;
  // Index in `ids` of the newest comma in the open chunk, or -1.
  let lastComma = -1;

  const closeChunk = (isLast: boolean): void => {
    // Only the last chunk counts its real length: earlier ones count as full, as in A1111's counter.
    tokenCount += isLast ? ids.length : chunkLength;
    chunks.push(wrapChunk(tokenizer, ids, weights));
    ids = [];
    weights = [];
    lastComma = -1;
  };

  for (const segment of segments) {
    if (isBreakSegment(segment)) {
      closeChunk(false);
      continue;
    }
    for (const token of tokenizer.encode(segment.text)) {
      if (token === commaId) {
        lastComma = ids.length;
      } else if (backtrack > 0 && ids.length === chunkLength && lastComma !== -1 && ids.length - lastComma <= backtrack) {
        // The chunk is full and a comma is close: end the chunk just after it and carry the tail over.
        const tailIds = ids.splice(lastComma + 1);
        const tailWeights = weights.splice(lastComma + 1);
        closeChunk(false);
        ids = tailIds;
        weights = tailWeights;
      }
      // A full chunk closes only when another token arrives, so a prompt of exactly 75 tokens stays one chunk.
      if (ids.length === chunkLength) closeChunk(false);
      ids.push(token);
      weights.push(segment.weight);
    }
  }
  if (ids.length > 0 || chunks.length === 0) closeChunk(true);
  return { chunks, tokenCount };
}

/** The chunk of an empty prompt: bos, eos, padding; all weights 1. */
export function emptyChunk(tokenizer: ChunkTokenizer): PromptChunk {
  return wrapChunk(tokenizer, [], []);
}

/**
 * Gives the prompt and the negative prompt the same number of chunks by appending empty chunks to the shorter,
 * because classifier-free guidance batches both through the UNet and their token axes must match. Appending the
 * encoding of an empty prompt is what A1111 does with "pad prompt/negative prompt" on. Token counts are unchanged.
 */
export function padChunks(tokenizer: ChunkTokenizer, a: PromptChunks, b: PromptChunks): [PromptChunks, PromptChunks] {
  const count = Math.max(a.chunks.length, b.chunks.length);
  const padded = (prompt: PromptChunks): PromptChunks => {
    const chunks = [...prompt.chunks];
    while (chunks.length < count) chunks.push(emptyChunk(tokenizer));
    return { chunks, tokenCount: prompt.tokenCount };
  };
  return [padded(a), padded(b)];
}

/** The token counter's limit: the next multiple of 75 at or above the count (75 for an empty prompt). */
export function chunkedTokenLimit(tokenCount: number, chunkLength = 75): number {
  return Math.ceil(Math.max(tokenCount, 1) / chunkLength) * chunkLength;
}

/** Content tokens per chunk: the encoder's sequence length less bos and eos (77 − 2 = 75 for every SD model). */
function contentLength(tokenizer: ChunkTokenizer): number {
  const length = tokenizer.maxLength - 2;
  if (length < 1) throw new Error(`tokenizer max length ${tokenizer.maxLength} leaves no room for prompt tokens`);
  return length;
}

/**
 * [bos] + ids + [eos] + pad. The eos comes straight after the content and padding after it, which is what both
 * A1111 and transformers feed the encoder; for SD 2.x the pad id (0, "!") differs from eos.
 */
function wrapChunk(tokenizer: ChunkTokenizer, ids: number[], weights: number[]): PromptChunk {
  const padCount = contentLength(tokenizer) - ids.length;
  return {
    ids: [tokenizer.bosId, ...ids, tokenizer.eosId, ...new Array<number>(padCount).fill(tokenizer.padId)],
    weights: [1, ...weights, 1, ...new Array<number>(padCount).fill(1)],
  };
}

/** The id `text` encodes to when it is a single token (",</w>" for a comma), else undefined. */
function singleTokenId(tokenizer: ChunkTokenizer, text: string): number | undefined {
  const ids = tokenizer.encode(text);
  return ids.length === 1 ? ids[0] : undefined;
}
