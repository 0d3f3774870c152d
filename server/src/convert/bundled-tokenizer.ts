// The tokenizer an imported single-file checkpoint gets when nothing else provides one. SD 1.x and SD 2.x both use
// OpenAI CLIP's byte-level BPE vocabulary (shipped in models/tokenizers/clip/, MIT); they differ only in the pad
// token: SD 1.x pads with <|endoftext|>, SD 2.x (OpenCLIP) with "!" (id 0), which transformers then also treats as a
// special token, so a literal "!" in a prompt becomes id 0. The two JSON files below are what the diffusers
// repositories ship (stable-diffusion-v1-5 and stable-diffusion-2-1 tokenizer/), so the ids match theirs exactly.
import { existsSync } from 'node:fs';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { appRoot } from '../config/config.js';
import type { Family } from './checkpoint-keys.js';

export const BUNDLED_TOKENIZER_DIR = join(appRoot, 'models', 'tokenizers', 'clip');
const VOCAB_FILES = ['vocab.json', 'merges.txt'] as const;

const BOS = '<|startoftext|>';
const EOS = '<|endoftext|>';

/** transformers' AddedToken as saved in special_tokens_map.json / tokenizer_config.json. */
const added = (content: string, normalized: boolean, special?: boolean) => ({
  content,
  lstrip: false,
  normalized,
  rstrip: false,
  single_word: false,
  ...(special === undefined ? {} : { special }),
});

function specialTokensMap(family: Family): Record<string, unknown> {
  return {
    bos_token: added(BOS, true),
    eos_token: added(EOS, true),
    pad_token: family === 'sd2' ? '!' : EOS,
    unk_token: added(EOS, true),
  };
}

function tokenizerConfig(family: Family): Record<string, unknown> {
  return {
    added_tokens_decoder: {
      ...(family === 'sd2' ? { '0': added('!', false, true) } : {}),
      '49406': added(BOS, true, true),
      '49407': added(EOS, true, true),
    },
    bos_token: BOS,
    clean_up_tokenization_spaces: true,
    eos_token: EOS,
    errors: 'replace',
    model_max_length: 77,
    pad_token: family === 'sd2' ? '!' : EOS,
    tokenizer_class: 'CLIPTokenizer',
    unk_token: EOS,
  };
}

/** Whether the vocabulary files are present (a partial checkout or an unusual install could lack them). */
export function hasBundledTokenizer(from = BUNDLED_TOKENIZER_DIR): boolean {
  return VOCAB_FILES.every((f) => existsSync(join(from, f)));
}

/** Writes a complete diffusers `tokenizer/` folder for the family into `to`. */
export async function writeBundledTokenizer(family: Family, to: string, from = BUNDLED_TOKENIZER_DIR): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const file of VOCAB_FILES) await copyFile(join(from, file), join(to, file));
  await writeFile(join(to, 'special_tokens_map.json'), `${JSON.stringify(specialTokensMap(family), null, 2)}\n`);
  await writeFile(join(to, 'tokenizer_config.json'), `${JSON.stringify(tokenizerConfig(family), null, 2)}\n`);
}
