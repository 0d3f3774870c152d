// Output folder and file names from the user's patterns, e.g. folder "[date]/[model]" and file name
// "[counter]-[seed]-[prompt_words]", made safe on every OS: no characters Windows, macOS or Linux refuse, no
// reserved Windows device names (CON, NUL, COM1…), no "." or ".." segments, no trailing dots or spaces, and
// lengths that fit 255-byte file systems with room for the outputs folder and a sidecar's extension. Pure
// functions: the caller supplies the date and the counter.

export interface NameFields {
  date: Date;
  prompt: string;
  seed: number;
  model: string;
  sampler: string;
  steps: number;
  cfgScale: number;
  width: number;
  height: number;
  jobId: string;
  /** The image's index within its job, from 0. */
  index: number;
  /** The next free number in the target folder, from 1. */
  counter: number;
}

export interface NamePatterns {
  /** Folder pattern under the outputs folder; `/` separates levels. Empty or absent: the outputs folder itself. */
  folder?: string | undefined;
  /** File name pattern without the extension. Absent: Easel's own `<job id>-<index>`. */
  fileName?: string | undefined;
}

/** Bytes (UTF-8) allowed per folder level and for the file name stem. */
export const MAX_FOLDER_BYTES = 80;
export const MAX_FILE_BYTES = 120;
const MAX_FOLDER_LEVELS = 6;
/** A1111's `directories_max_prompt_words` default. */
const PROMPT_WORDS = 8;
const PROMPT_CHARS = 60;
export const DEFAULT_FILE_PATTERN = '[job_id]-[index]';

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

const TOKENS: Record<string, (f: NameFields) => string> = {
  date: (f) => `${f.date.getFullYear()}-${pad(f.date.getMonth() + 1)}-${pad(f.date.getDate())}`,
  datetime: (f) => `${f.date.getFullYear()}${pad(f.date.getMonth() + 1)}${pad(f.date.getDate())}${pad(f.date.getHours())}${pad(f.date.getMinutes())}${pad(f.date.getSeconds())}`,
  time: (f) => `${pad(f.date.getHours())}${pad(f.date.getMinutes())}${pad(f.date.getSeconds())}`,
  seed: (f) => String(f.seed),
  prompt: (f) => Array.from(f.prompt.replace(/\s+/g, ' ').trim()).slice(0, PROMPT_CHARS).join(''),
  prompt_words: (f) => promptWords(f.prompt),
  model: (f) => f.model,
  model_name: (f) => f.model,
  sampler: (f) => f.sampler,
  steps: (f) => String(f.steps),
  cfg: (f) => String(f.cfgScale),
  width: (f) => String(f.width),
  height: (f) => String(f.height),
  counter: (f) => pad(f.counter, 5),
  job_id: (f) => f.jobId,
  index: (f) => String(f.index),
};

export const NAME_TOKENS = Object.keys(TOKENS);
const TOKEN = /\[([a-z_]+)\]/g;

/** The first words of a prompt, letters and digits only (attention brackets, weights and commas dropped). */
export function promptWords(prompt: string, count = PROMPT_WORDS): string {
  return prompt
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w && !/^\d+(\.\d+)?$/.test(w))
    .slice(0, count)
    .join(' ');
}

/** Tokens in `pattern` that Easel does not know (shown to the user rather than written into file names). */
export function unknownTokens(pattern: string): string[] {
  return [...pattern.matchAll(TOKEN)].map((m) => m[1] as string).filter((t) => !(t in TOKENS));
}

/** Replaces every known `[token]`; unknown ones stay as written. */
export function expandPattern(pattern: string, fields: NameFields): string {
  return pattern.replace(TOKEN, (whole, name: string) => TOKENS[name]?.(fields) ?? whole);
}

const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])$/i;

/** One path segment made safe everywhere; never empty, never "." or "..". */
export function sanitizeSegment(text: string, maxBytes: number): string {
  let s = text
    .normalize('NFC')
    .replace(/\s+/g, ' ')
    .replace(/[\u0000-\u001f\u007f<>:"/\\|?*]/g, '_')
    .trim();
  s = truncateUtf8(s, maxBytes);
  s = s.replace(/[. ]+$/, ''); // Windows drops trailing dots and spaces, so two names would collide
  s = s.replace(/^\.+/, (dots) => '_'.repeat(dots.length)); // no hidden files, no "." or ".."
  const stem = (s.split('.')[0] as string).trimEnd();
  if (WINDOWS_RESERVED.test(stem)) s = truncateUtf8(`_${s}`, maxBytes);
  return s || '_';
}

/** Cuts to at most `maxBytes` of UTF-8 without splitting a character. */
export function truncateUtf8(text: string, maxBytes: number): string {
  let bytes = 0;
  let out = '';
  for (const ch of text) {
    const size = Buffer.byteLength(ch, 'utf8');
    if (bytes + size > maxBytes) break;
    bytes += size;
    out += ch;
  }
  return out;
}

/**
 * The path of an output, relative to the outputs folder, with `/` between levels and without an extension:
 * the folder pattern's levels, each sanitized (levels that come out empty are dropped), then the file name.
 */
export function outputRelativePath(patterns: NamePatterns, fields: NameFields): string {
  const levels = (patterns.folder ?? '')
    .split(/[/\\]+/)
    .map((level) => expandPattern(level, fields).trim())
    .filter((level) => level !== '')
    .slice(0, MAX_FOLDER_LEVELS)
    .map((level) => sanitizeSegment(level, MAX_FOLDER_BYTES));
  const name = sanitizeSegment(expandPattern(patterns.fileName || DEFAULT_FILE_PATTERN, fields), MAX_FILE_BYTES);
  return [...levels, name].join('/');
}

/** Whether a pattern's file name depends on the counter (else a clash is resolved with "-2", "-3"…). */
export function usesCounter(patterns: NamePatterns): boolean {
  return /\[counter\]/.test(`${patterns.folder ?? ''}/${patterns.fileName ?? ''}`);
}
