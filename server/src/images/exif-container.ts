// Puts an EXIF block into, and finds it in, JPEG (an APP1 "Exif\0\0" segment) and WebP (an EXIF chunk in an
// extended VP8X file) bytes, so the block is exactly what exif.ts built: sharp can only write EXIF from strings,
// which libvips re-encodes as ASCII.
const EXIF_HEADER = Buffer.from('Exif\0\0', 'latin1');
/** A JPEG segment's length field counts itself: 65535 at most, so 65533 bytes of payload. */
const MAX_JPEG_PAYLOAD = 65533;

export type ExifFormat = 'jpeg' | 'webp';

export function insertExif(file: Uint8Array, format: ExifFormat, tiff: Uint8Array): Buffer {
  return format === 'jpeg' ? insertJpegExif(Buffer.from(file), Buffer.from(tiff)) : insertWebpExif(Buffer.from(file), Buffer.from(tiff));
}

/** The EXIF block (TIFF, without the "Exif\0\0" header) of a JPEG or WebP file, if it has one. */
export function extractExif(file: Uint8Array): Buffer | undefined {
  const buf = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  if (buf[0] === 0xff && buf[1] === 0xd8) {
    for (const segment of jpegSegments(buf)) {
      if (segment.marker === 0xe1 && segment.payload.subarray(0, 6).equals(EXIF_HEADER)) return segment.payload.subarray(6);
    }
    return undefined;
  }
  if (buf.toString('latin1', 0, 4) === 'RIFF' && buf.toString('latin1', 8, 12) === 'WEBP') {
    const chunk = riffChunks(buf).find((c) => c.type === 'EXIF');
    if (!chunk) return undefined;
    // The WebP spec says raw TIFF; Pillow (so A1111) writes the "Exif\0\0" header too.
    return chunk.data.subarray(0, 6).equals(EXIF_HEADER) ? chunk.data.subarray(6) : chunk.data;
  }
  return undefined;
}

interface JpegSegment {
  marker: number;
  start: number;
  end: number;
  payload: Buffer;
}

/** The marker segments before the image data (SOS ends the walk). */
function jpegSegments(buf: Buffer): JpegSegment[] {
  const segments: JpegSegment[] = [];
  let pos = 2;
  while (pos + 4 <= buf.length && buf[pos] === 0xff) {
    const marker = buf[pos + 1] as number;
    if (marker === 0xda || marker === 0xd9) break;
    const length = buf.readUInt16BE(pos + 2);
    segments.push({ marker, start: pos, end: pos + 2 + length, payload: buf.subarray(pos + 4, pos + 2 + length) });
    pos += 2 + length;
  }
  return segments;
}

function insertJpegExif(buf: Buffer, tiff: Buffer): Buffer {
  if (buf[0] !== 0xff || buf[1] !== 0xd8) throw new Error('not a JPEG file');
  const payload = Buffer.concat([EXIF_HEADER, tiff]);
  if (payload.length > MAX_JPEG_PAYLOAD) throw new Error(`EXIF block of ${payload.length} bytes does not fit a JPEG segment`);
  const segments = jpegSegments(buf);
  const oldExif = segments.filter((s) => s.marker === 0xe1 && s.payload.subarray(0, 6).equals(EXIF_HEADER));
  // After SOI and a JFIF APP0 when there is one, where readers look first.
  const jfif = segments[0]?.marker === 0xe0 ? segments[0] : undefined;
  const insertAt = jfif ? jfif.end : 2;
  const segment = Buffer.alloc(4);
  segment.writeUInt16BE(0xffe1, 0);
  segment.writeUInt16BE(payload.length + 2, 2);
  const parts: Buffer[] = [buf.subarray(0, insertAt), segment, payload];
  let pos = insertAt;
  for (const old of oldExif) {
    if (old.start < pos) continue;
    parts.push(buf.subarray(pos, old.start));
    pos = old.end;
  }
  parts.push(buf.subarray(pos));
  return Buffer.concat(parts);
}

interface RiffChunk {
  type: string;
  data: Buffer;
}

function riffChunks(buf: Buffer): RiffChunk[] {
  const chunks: RiffChunk[] = [];
  for (let pos = 12; pos + 8 <= buf.length; ) {
    const size = buf.readUInt32LE(pos + 4);
    chunks.push({ type: buf.toString('latin1', pos, pos + 4), data: buf.subarray(pos + 8, pos + 8 + size) });
    pos += 8 + size + (size & 1);
  }
  return chunks;
}

function riffChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.write(type, 0, 'latin1');
  head.writeUInt32LE(data.length, 4);
  return Buffer.concat([head, data, data.length & 1 ? Buffer.alloc(1) : Buffer.alloc(0)]);
}

/** Canvas size and alpha of a simple WebP's bitstream, for the VP8X header. */
function webpCanvas(chunk: RiffChunk): { width: number; height: number; alpha: boolean } {
  const d = chunk.data;
  if (chunk.type === 'VP8 ') return { width: d.readUInt16LE(6) & 0x3fff, height: d.readUInt16LE(8) & 0x3fff, alpha: false };
  if (chunk.type === 'VP8L') {
    const bits = d.readUInt32LE(1);
    return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1, alpha: ((bits >>> 28) & 1) === 1 };
  }
  throw new Error(`unexpected WebP chunk ${chunk.type}`);
}

function insertWebpExif(buf: Buffer, tiff: Buffer): Buffer {
  if (buf.toString('latin1', 0, 4) !== 'RIFF' || buf.toString('latin1', 8, 12) !== 'WEBP') throw new Error('not a WebP file');
  const chunks = riffChunks(buf).filter((c) => c.type !== 'EXIF');
  const first = chunks[0];
  if (!first) throw new Error('empty WebP file');
  let vp8x: Buffer;
  let rest: RiffChunk[];
  if (first.type === 'VP8X') {
    vp8x = Buffer.from(first.data);
    rest = chunks.slice(1);
  } else {
    const canvas = webpCanvas(first);
    vp8x = Buffer.alloc(10);
    vp8x[0] = canvas.alpha ? 0x10 : 0;
    vp8x.writeUIntLE(canvas.width - 1, 4, 3);
    vp8x.writeUIntLE(canvas.height - 1, 7, 3);
    rest = chunks;
  }
  vp8x[0] = (vp8x[0] as number) | 0x08; // EXIF present
  // EXIF comes after the image data and before XMP, as the container spec orders them.
  const xmpAt = rest.findIndex((c) => c.type === 'XMP ');
  const ordered = xmpAt < 0 ? [...rest, { type: 'EXIF', data: tiff }] : [...rest.slice(0, xmpAt), { type: 'EXIF', data: tiff }, ...rest.slice(xmpAt)];
  const body = Buffer.concat([Buffer.from('WEBP', 'latin1'), riffChunk('VP8X', vp8x), ...ordered.map((c) => riffChunk(c.type, c.data))]);
  const head = Buffer.alloc(8);
  head.write('RIFF', 0, 'latin1');
  head.writeUInt32LE(body.length, 4);
  return Buffer.concat([head, body]);
}
