// A small, valid CLIP-style tokenizer folder for the tiny test model, so a clone without the shared data still has
// a working tokenizer. Same layout as SD 1.5's: 512 byte symbols, learned merges, then bos and eos as the last ids.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { byteSymbolsInVocabOrder, toByteSymbols } from './byte-unicode.js';
import { mergeSymbolPair } from './clip-tokenizer.js';

const END_OF_WORD = '</w>';
const BOS = '<|startoftext|>';
const EOS = '<|endoftext|>';
const MAX_MERGES = 400;

// Common prompt words; the merges are learned from these, so they tokenize to few pieces.
const TRAINING_WORDS = `
a an the of and with in on at by for to from photo photograph portrait picture painting drawing sketch illustration
render art artwork style cat cats dog dogs kitten puppy horse horses bird birds fish astronaut robot woman man girl boy
person people child face eyes hair smile landscape mountain mountains lake river ocean sea beach forest tree trees
flower flowers garden city street house castle tower bridge sky cloud clouds sun sunset sunrise moon star stars night
day rain snow winter summer autumn spring light lighting shadow color colors colorful red blue green yellow orange
purple pink black white golden silver dark bright beautiful cute small big old young happy detailed highly realistic
photorealistic cinematic dramatic soft sharp focus studio high quality masterpiece best resolution digital oil
watercolor canvas concept fantasy science fiction space planet mars earth riding sitting standing running flying
eating wearing holding looking ancient modern futuristic vintage retro wood stone glass metal fire water ice
`;

/** The training words, spelled as byte symbols with the end-of-word marker on the last one. */
function trainingSymbols(): string[][] {
  const words = [...new Set(TRAINING_WORDS.split(/\s+/).filter((w) => w.length > 0))];
  return words.map((word) => {
    const symbols = toByteSymbols(word);
    symbols[symbols.length - 1] += END_OF_WORD;
    return symbols;
  });
}

/**
 * Classic BPE training: repeatedly merge the most frequent adjacent pair (ties: the lexically first pair).
 * A pair whose result is already a symbol is never merged again, so every merge adds exactly one new vocab entry.
 */
export function learnMerges(words: string[][], maxMerges: number): Array<[string, string]> {
  const merges: Array<[string, string]> = [];
  const known = new Set<string>(byteSymbolsInVocabOrder.flatMap((s) => [s, s + END_OF_WORD]));
  while (merges.length < maxMerges) {
    const counts = new Map<string, number>();
    for (const word of words) {
      for (let i = 0; i + 1 < word.length; i++) {
        if (known.has(word[i] + word[i + 1])) continue;
        const pair = `${word[i]} ${word[i + 1]}`;
        counts.set(pair, (counts.get(pair) ?? 0) + 1);
      }
    }
    let best: string | undefined;
    let bestCount = 0;
    for (const [pair, count] of counts) {
      if (count > bestCount || (count === bestCount && best !== undefined && pair < best)) {
        best = pair;
        bestCount = count;
      }
    }
    if (best === undefined) break;
    const [left, right] = best.split(' ') as [string, string];
    merges.push([left, right]);
    known.add(left + right);
    for (const word of words) mergeSymbolPair(word, left, right);
  }
  return merges;
}

function specialTokenEntry(content: string) {
  return { content, lstrip: false, normalized: true, rstrip: false, single_word: false };
}

/** Writes vocab.json, merges.txt, special_tokens_map.json and tokenizer_config.json into `dir`. */
export async function writeTinyTokenizer(dir: string): Promise<void> {
  const merges = learnMerges(trainingSymbols(), MAX_MERGES);
  const symbols = [
    ...byteSymbolsInVocabOrder,
    ...byteSymbolsInVocabOrder.map((s) => s + END_OF_WORD),
    ...merges.map(([left, right]) => left + right),
    BOS,
    EOS,
  ];
  const vocab: Record<string, number> = {};
  symbols.forEach((symbol, id) => {
    if (symbol in vocab) throw new Error(`tiny tokenizer: duplicate symbol ${JSON.stringify(symbol)}`);
    vocab[symbol] = id;
  });
  const bosId = vocab[BOS];
  const eosId = vocab[EOS];

  const specialTokensMap = {
    bos_token: specialTokenEntry(BOS),
    eos_token: specialTokenEntry(EOS),
    pad_token: EOS,
    unk_token: specialTokenEntry(EOS),
  };
  const tokenizerConfig = {
    added_tokens_decoder: {
      [bosId]: { ...specialTokenEntry(BOS), special: true },
      [eosId]: { ...specialTokenEntry(EOS), special: true },
    },
    bos_token: BOS,
    clean_up_tokenization_spaces: true,
    do_lower_case: true,
    eos_token: EOS,
    errors: 'replace',
    model_max_length: 77,
    pad_token: EOS,
    tokenizer_class: 'CLIPTokenizer',
    unk_token: EOS,
  };

  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'vocab.json'), JSON.stringify(vocab));
  await writeFile(join(dir, 'merges.txt'), ['#version: 0.2', ...merges.map((m) => m.join(' '))].join('\n') + '\n');
  await writeFile(join(dir, 'special_tokens_map.json'), JSON.stringify(specialTokensMap, null, 2) + '\n');
  await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig, null, 2) + '\n');
}
