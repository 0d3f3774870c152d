// PNG text chunks: sharp writes no custom tEXt/iTXt chunks, so they are spliced in after IHDR here, and read
// back for tests and for PNG-info. Latin-1 text goes in tEXt (what A1111's readers expect); anything else in iTXt.
import { inflateSync } from 'node:zlib';

const SIGNATURE = Uint8Array.of(137, 80, 78, 71, 13, 10, 26, 10);

const crcTable = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = (crcTable[(c ^ b) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  Buffer.from(data).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

const isLatin1 = (text: string): boolean => /^[\u0000-\u00ff]*$/.test(text);

function textChunk(keyword: string, text: string): Buffer {
  if (isLatin1(text)) {
    return chunk('tEXt', Buffer.concat([Buffer.from(keyword, 'latin1'), Buffer.of(0), Buffer.from(text, 'latin1')]));
  }
  // iTXt: keyword, 0, compression flag 0, method 0, empty language tag, 0, empty translated keyword, 0, UTF-8 text.
  return chunk('iTXt', Buffer.concat([Buffer.from(keyword, 'latin1'), Buffer.of(0, 0, 0, 0, 0), Buffer.from(text, 'utf8')]));
}

function inflated(bytes: Uint8Array): Buffer | undefined {
  try {
    return inflateSync(bytes);
  } catch {
    return undefined;
  }
}

function assertPng(png: Uint8Array): void {
  if (png.length < 8 || SIGNATURE.some((b, i) => png[i] !== b)) throw new Error('not a PNG file');
}

/** Returns a copy of the PNG with the given text entries placed right after the IHDR chunk. */
export function addPngText(png: Uint8Array, entries: Record<string, string>): Buffer {
  assertPng(png);
  const buf = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  const ihdrEnd = 8 + 12 + buf.readUInt32BE(8);
  const chunks = Object.entries(entries).map(([k, v]) => textChunk(k, v));
  return Buffer.concat([buf.subarray(0, ihdrEnd), ...chunks, buf.subarray(ihdrEnd)]);
}

/** Reads every tEXt, zTXt and iTXt entry (compressed ones inflated); an entry that does not inflate is skipped. */
export function readPngText(png: Uint8Array): Record<string, string> {
  assertPng(png);
  const buf = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  const out: Record<string, string> = {};
  for (let pos = 8; pos + 12 <= buf.length; ) {
    const length = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    const data = buf.subarray(pos + 8, pos + 8 + length);
    if (type === 'tEXt') {
      const nul = data.indexOf(0);
      if (nul > 0) out[data.toString('latin1', 0, nul)] = data.toString('latin1', nul + 1);
    } else if (type === 'zTXt') {
      // keyword, 0, method 0 (zlib), Latin-1 text compressed
      const nul = data.indexOf(0);
      const text = nul > 0 && data[nul + 1] === 0 ? inflated(data.subarray(nul + 2)) : undefined;
      if (text) out[data.toString('latin1', 0, nul)] = text.toString('latin1');
    } else if (type === 'iTXt') {
      // keyword, 0, compression flag, method, language tag, 0, translated keyword, 0, UTF-8 text
      const nul = data.indexOf(0);
      const compressed = data[nul + 1] === 1;
      if (nul > 0 && (!compressed || data[nul + 2] === 0)) {
        const lang = data.indexOf(0, nul + 3);
        const translated = data.indexOf(0, lang + 1);
        const body = data.subarray(translated + 1);
        const text = compressed ? inflated(body) : body;
        if (lang > 0 && translated > 0 && text) out[data.toString('latin1', 0, nul)] = text.toString('utf8');
      }
    } else if (type === 'IEND') {
      break;
    }
    pos += 12 + length;
  }
  return out;
}
