// Prompt text cleaning before CLIP pre-tokenization. diffusers' CLIPTokenizer runs ftfy.fix_text, collapses
// whitespace and lowercases; openai CLIP also HTML-unescapes twice. This is the small part of ftfy that changes
// real prompts (mojibake, curly quotes, ligatures, fullwidth forms, terminal escapes, control characters).

// Windows-1252 bytes 0x80–0x9F; the five undefined ones are absent (ftfy's "sloppy" codec keeps them as C1).
const CP1252_HIGH: Record<number, number> = {
  0x80: 0x20ac, 0x82: 0x201a, 0x83: 0x0192, 0x84: 0x201e, 0x85: 0x2026, 0x86: 0x2020, 0x87: 0x2021, 0x88: 0x02c6,
  0x89: 0x2030, 0x8a: 0x0160, 0x8b: 0x2039, 0x8c: 0x0152, 0x8e: 0x017d, 0x91: 0x2018, 0x92: 0x2019, 0x93: 0x201c,
  0x94: 0x201d, 0x95: 0x2022, 0x96: 0x2013, 0x97: 0x2014, 0x98: 0x02dc, 0x99: 0x2122, 0x9a: 0x0161, 0x9b: 0x203a,
  0x9c: 0x0153, 0x9e: 0x017e, 0x9f: 0x0178,
};

/** Character → the byte it came from when UTF-8 was misread as Windows-1252 / Latin-1 (bytes ≥ 0x80 only). */
const MOJIBAKE_BYTE = new Map<string, number>();
for (let b = 0x80; b <= 0xff; b++) MOJIBAKE_BYTE.set(String.fromCharCode(b), b);
for (const [byte, codePoint] of Object.entries(CP1252_HIGH)) MOJIBAKE_BYTE.set(String.fromCharCode(codePoint), Number(byte));
const MOJIBAKE_RUN = new RegExp(`[${[...MOJIBAKE_BYTE.keys()].map(escapeForClass).join('')}]{2,}`, 'g');
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function escapeForClass(ch: string): string {
  return `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/** Re-decodes runs like "Ã©" or "â€™" that are valid UTF-8 once turned back into bytes; repeats for double damage. */
function fixMojibake(text: string): string {
  for (let pass = 0; pass < 3; pass++) {
    const fixed = text.replace(MOJIBAKE_RUN, (run) => {
      const bytes = Uint8Array.from(run, (ch) => MOJIBAKE_BYTE.get(ch) ?? 0);
      try {
        return strictUtf8.decode(bytes);
      } catch {
        return run; // not UTF-8: genuine Latin-1 text such as "naïve" stays as written
      }
    });
    if (fixed === text) return text;
    text = fixed;
  }
  return text;
}

// ftfy's fix_latin_ligatures list; all are NFKC except ﬅ, which ftfy spells with a long s.
const LIGATURES = /[\u0132\u0133\u0149\u01c4-\u01cc\u01f1-\u01f3\ufb00-\ufb06]/g;
const TERMINAL_ESCAPE = /\x1b\[[\d;]*[a-zA-Z]/g;
const FULLWIDTH = /[\uff01-\uffef]/g;
const SINGLE_CURLY_QUOTES = /[\u02bc\u2018-\u201b]/g;
const DOUBLE_CURLY_QUOTES = /[\u201c-\u201f]/g;
const C1_CONTROL = /[\u0080-\u009f]/g;
// ftfy's remove_control_chars: C0 controls other than tab/newlines, DEL, deprecated format chars, BOM, annotations.
const CONTROL_CHARS = /[\x00-\x08\x0b\x0e-\x1f\x7f\u206a-\u206f\ufeff\ufff9-\ufffc]/g;

/** The subset of ftfy.fix_text (6.x defaults) that matters for prompts, in ftfy's order. */
export function fixText(text: string): string {
  let t = text.replace(TERMINAL_ESCAPE, '');
  t = fixMojibake(t);
  t = t.replace(C1_CONTROL, (ch) => {
    const codePoint = CP1252_HIGH[ch.charCodeAt(0)];
    return codePoint === undefined ? ch : String.fromCharCode(codePoint);
  });
  t = t.replace(LIGATURES, (ch) => (ch === '\ufb05' ? '\u017ft' : ch.normalize('NFKC')));
  t = t.replace(FULLWIDTH, (ch) => ch.normalize('NFKC')).replace(/\u3000/g, ' ');
  t = t.replace(SINGLE_CURLY_QUOTES, "'").replace(DOUBLE_CURLY_QUOTES, '"');
  t = t.replace(CONTROL_CHARS, '');
  return t.normalize('NFC');
}

// Common named entities; the first group also decodes without the semicolon, as Python's html.unescape does.
const LEGACY_ENTITIES: Record<string, string> = {
  amp: '&', lt: '<', gt: '>', quot: '"', nbsp: '\u00a0', copy: '©', reg: '®', deg: '°', times: '×', divide: '÷',
  middot: '·', laquo: '«', raquo: '»', micro: 'µ', eacute: 'é', egrave: 'è', aacute: 'á', ntilde: 'ñ', ouml: 'ö',
  uuml: 'ü', auml: 'ä', szlig: 'ß',
};
const SEMICOLON_ENTITIES: Record<string, string> = {
  apos: "'", hellip: '…', mdash: '—', ndash: '–', lsquo: '‘', rsquo: '’', ldquo: '“', rdquo: '”', bull: '•',
  trade: '™', euro: '€', hearts: '♥', star: '☆', larr: '←', rarr: '→',
};
const CHARREF = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/g;

function decodeNumericCharref(body: string): string {
  const digits = body.replace(/;$/, '');
  const value = digits[1] === 'x' || digits[1] === 'X' ? parseInt(digits.slice(2), 16) : parseInt(digits.slice(1), 10);
  if (value === 0 || value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff)) return '\ufffd';
  const cp1252 = CP1252_HIGH[value];
  if (cp1252 !== undefined) return String.fromCharCode(cp1252); // HTML5 reads &#128;–&#159; as Windows-1252
  if (value === 0x0d) return '\r';
  return String.fromCodePoint(value);
}

function decodeNamedCharref(body: string): string | undefined {
  if (body.endsWith(';')) {
    const name = body.slice(0, -1);
    const known = LEGACY_ENTITIES[name] ?? SEMICOLON_ENTITIES[name];
    if (known !== undefined) return known;
  }
  // Like html.unescape: the longest legacy name that prefixes the text wins ("&ampx" → "&x").
  for (let length = Math.min(body.length, 6); length >= 2; length--) {
    const known = LEGACY_ENTITIES[body.slice(0, length)];
    if (known !== undefined) return known + body.slice(length);
  }
  return undefined;
}

/** Python html.unescape for numeric references and the common named entities. */
export function unescapeHtml(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(CHARREF, (whole, body: string) =>
    body.startsWith('#') ? decodeNumericCharref(body) : decodeNamedCharref(body) ?? whole,
  );
}

const WHITESPACE_RUN = /\p{White_Space}+/gu;

/** The full clean step: unescape, fix, collapse whitespace, trim, lowercase. */
export function cleanPromptText(text: string): string {
  const unescaped = unescapeHtml(unescapeHtml(text));
  return fixText(unescaped).replace(WHITESPACE_RUN, ' ').trim().toLowerCase();
}
