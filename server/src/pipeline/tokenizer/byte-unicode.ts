// GPT-2 / CLIP byte-level alphabet: every byte gets a printable stand-in so BPE symbols never contain spaces or
// control characters. The order of `byteSymbols` is the order of the first 256 ids in a CLIP vocab.

function buildByteSymbols(): { byteToSymbol: string[]; symbolsInVocabOrder: string[] } {
  const printable: number[] = [];
  const ranges: Array<[number, number]> = [
    [0x21, 0x7e], // '!'..'~'
    [0xa1, 0xac], // '¡'..'¬'
    [0xae, 0xff], // '®'..'ÿ'
  ];
  for (const [from, to] of ranges) for (let b = from; b <= to; b++) printable.push(b);

  const byteToSymbol = new Array<string>(256);
  for (const b of printable) byteToSymbol[b] = String.fromCharCode(b);
  const order = [...printable];
  let shifted = 0;
  for (let b = 0; b < 256; b++) {
    if (byteToSymbol[b] !== undefined) continue;
    byteToSymbol[b] = String.fromCharCode(256 + shifted++);
    order.push(b);
  }
  return { byteToSymbol, symbolsInVocabOrder: order.map((b) => byteToSymbol[b]) };
}

const built = buildByteSymbols();

/** Printable stand-in for each byte value, indexed by byte. */
export const byteToSymbol: readonly string[] = built.byteToSymbol;

/** The 256 byte symbols in CLIP vocab order ('!' is id 0, 'a' is id 64). */
export const byteSymbolsInVocabOrder: readonly string[] = built.symbolsInVocabOrder;

const utf8 = new TextEncoder();

/** A pre-token's UTF-8 bytes spelled in the byte alphabet, one symbol per byte. */
export function toByteSymbols(text: string): string[] {
  return Array.from(utf8.encode(text), (b) => byteToSymbol[b]);
}
