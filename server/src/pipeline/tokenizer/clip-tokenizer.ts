// CLIP byte-level BPE tokenizer, loaded from a diffusers `tokenizer/` folder (vocab.json, merges.txt,
// special_tokens_map.json, tokenizer_config.json). Reproduces transformers' CLIPTokenizer ids exactly.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { toByteSymbols } from './byte-unicode.js';
import { cleanPromptText } from './text-cleaner.js';

export interface TokenizedPrompt {
  /** Exactly `maxLength` ids: bos, up to maxLength − 2 content ids, eos, then padding. */
  ids: number[];
  /** Content tokens before truncation (without bos/eos). */
  count: number;
  /** Whether content tokens were cut to fit. */
  truncated: boolean;
}

export interface ClipTokenizerFiles {
  vocab: Record<string, number>;
  /** merges.txt lines after the `#version` header, each "left right". */
  merges: string[];
  bosToken: string;
  eosToken: string;
  padToken: string;
  unkToken: string;
  maxLength: number;
  /** Tokens that are split out of the raw text before cleaning (transformers' added / special tokens). */
  addedTokens: Map<string, number>;
}

const END_OF_WORD = '</w>';
const DEFAULT_MAX_LENGTH = 77;
// transformers reads only the merges that fit a 49,408-token vocab: 49152 − 256 − 2 + 1 lines after the header.
const MAX_MERGES = 48894;
const PRE_TOKEN = /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\p{White_Space}\p{L}\p{N}]+/giu;

export class ClipTokenizer {
  readonly maxLength: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  private readonly unkId: number;
  private readonly vocab: Map<string, number>;
  private readonly mergeRanks = new Map<string, number>();
  private readonly addedTokens: Map<string, number>;
  private readonly addedTokenPattern: RegExp | null;
  private readonly bpeCache = new Map<string, string[]>();

  constructor(files: ClipTokenizerFiles) {
    this.vocab = new Map(Object.entries(files.vocab));
    files.merges.slice(0, MAX_MERGES).forEach((line, rank) => this.mergeRanks.set(line, rank));
    this.addedTokens = files.addedTokens;
    this.maxLength = files.maxLength;
    if (this.maxLength < 2) throw new Error(`tokenizer max length must be at least 2, got ${this.maxLength}`);
    this.bosId = this.requireId(files.bosToken, 'bos');
    this.eosId = this.requireId(files.eosToken, 'eos');
    this.padId = this.requireId(files.padToken, 'pad');
    this.unkId = this.idOf(files.unkToken) ?? this.eosId;
    const added = [...this.addedTokens.keys()].sort((a, b) => b.length - a.length).map(escapeRegExp);
    this.addedTokenPattern = added.length > 0 ? new RegExp(`(${added.join('|')})`) : null;
  }

  static async fromDirectory(dir: string): Promise<ClipTokenizer> {
    return new ClipTokenizer(await readTokenizerFiles(dir));
  }

  /** Content ids only (no bos/eos, no truncation). */
  encode(text: string): number[] {
    const ids: number[] = [];
    // Added tokens are cut out of the raw text first, so in SD 2.x a literal "!" becomes its own id (0).
    const pieces = this.addedTokenPattern ? text.split(this.addedTokenPattern) : [text];
    pieces.forEach((piece, i) => {
      const addedId = i % 2 === 1 ? this.addedTokens.get(piece) : undefined;
      if (addedId !== undefined) ids.push(addedId);
      else if (piece.length > 0) this.encodePlain(piece, ids);
    });
    return ids;
  }

  /** The fixed-length sequence the text encoder takes. */
  tokenize(text: string): TokenizedPrompt {
    const content = this.encode(text);
    const room = this.maxLength - 2;
    const kept = content.slice(0, room);
    const ids = [this.bosId, ...kept, this.eosId];
    while (ids.length < this.maxLength) ids.push(this.padId);
    return { ids, count: content.length, truncated: content.length > room };
  }

  private encodePlain(text: string, out: number[]): void {
    for (const match of cleanPromptText(text).matchAll(PRE_TOKEN)) {
      const preToken = match[0];
      // "<|endoftext|>" typed in another case survives the raw split; after lowercasing it is still special.
      const special = this.addedTokens.get(preToken);
      if (special !== undefined) {
        out.push(special);
        continue;
      }
      for (const symbol of this.bpe(preToken)) out.push(this.idOf(symbol) ?? this.unkId);
    }
  }

  /** Byte-level BPE of one pre-token: always merge the adjacent pair with the lowest rank. */
  private bpe(preToken: string): string[] {
    const cached = this.bpeCache.get(preToken);
    if (cached) return cached;
    const word = toByteSymbols(preToken);
    word[word.length - 1] += END_OF_WORD;
    while (word.length > 1) {
      let bestRank = Infinity;
      let bestAt = -1;
      for (let i = 0; i + 1 < word.length; i++) {
        const rank = this.mergeRanks.get(`${word[i]} ${word[i + 1]}`);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          bestAt = i;
        }
      }
      if (bestAt < 0) break;
      mergeSymbolPair(word, word[bestAt], word[bestAt + 1]);
    }
    this.bpeCache.set(preToken, word);
    return word;
  }

  private idOf(token: string): number | undefined {
    return this.addedTokens.get(token) ?? this.vocab.get(token);
  }

  private requireId(token: string, role: string): number {
    const id = this.idOf(token);
    if (id === undefined) throw new Error(`tokenizer ${role} token ${JSON.stringify(token)} is not in the vocabulary`);
    return id;
  }
}

/** Merges every non-overlapping occurrence of the pair `left right`, scanning left to right, in place. */
export function mergeSymbolPair(word: string[], left: string, right: string): void {
  let write = 0;
  for (let read = 0; read < word.length; read++) {
    if (read + 1 < word.length && word[read] === left && word[read + 1] === right) {
      word[write++] = left + right;
      read++;
    } else {
      word[write++] = word[read];
    }
  }
  word.length = write;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// ---- loading ----------------------------------------------------------------------------------------------------

type TokenField = string | { content?: unknown } | null | undefined;

function tokenText(field: TokenField): string | undefined {
  if (typeof field === 'string') return field;
  if (field && typeof field === 'object' && typeof field.content === 'string') return field.content;
  return undefined;
}

async function readJsonIfPresent(path: string): Promise<Record<string, unknown>> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new Error(`cannot read ${path}: ${(error as Error).message}`);
  }
}

async function readRequired(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new Error(`tokenizer file ${path} is missing or unreadable: ${(error as Error).message}`);
  }
}

/** Reads a diffusers tokenizer folder; special tokens come from the files (SD 1.x pads with eos, SD 2.x with "!"). */
export async function readTokenizerFiles(dir: string): Promise<ClipTokenizerFiles> {
  const vocab = JSON.parse(await readRequired(join(dir, 'vocab.json'))) as Record<string, number>;
  const merges = (await readRequired(join(dir, 'merges.txt')))
    .split('\n')
    .map((line) => line.replace(/\r$/, ''))
    .filter((line, i) => line.length > 0 && !(i === 0 && line.startsWith('#version')));
  const specialMap = await readJsonIfPresent(join(dir, 'special_tokens_map.json'));
  const config = await readJsonIfPresent(join(dir, 'tokenizer_config.json'));

  // special_tokens_map.json wins over tokenizer_config.json, as in transformers.
  const special = (key: string): string | undefined =>
    tokenText(specialMap[key] as TokenField) ?? tokenText(config[key] as TokenField);
  const bosToken = special('bos_token') ?? '<|startoftext|>';
  const eosToken = special('eos_token') ?? '<|endoftext|>';
  const padToken = special('pad_token') ?? eosToken;
  const unkToken = special('unk_token') ?? eosToken;

  const addedTokens = new Map<string, number>();
  const decoder = config.added_tokens_decoder;
  if (decoder && typeof decoder === 'object') {
    for (const [id, entry] of Object.entries(decoder as Record<string, TokenField>)) {
      const content = tokenText(entry);
      if (content !== undefined) addedTokens.set(content, Number(id));
    }
  }
  for (const token of [bosToken, eosToken, padToken, unkToken]) {
    const id = addedTokens.get(token) ?? vocab[token];
    if (id !== undefined) addedTokens.set(token, id);
  }

  const configured = config.model_max_length;
  // Unset model_max_length is written as a huge sentinel (1e30) by transformers: fall back to CLIP's 77.
  const maxLength =
    typeof configured === 'number' && Number.isInteger(configured) && configured >= 2 && configured <= 1_000_000
      ? configured
      : DEFAULT_MAX_LENGTH;

  return { vocab, merges, bosToken, eosToken, padToken, unkToken, maxLength, addedTokens };
}
