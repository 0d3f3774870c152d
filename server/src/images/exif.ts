// EXIF as the Stable Diffusion tools use it: a TIFF structure holding the infotext in UserComment. Written the way
// A1111 writes it (piexif: big-endian "MM", UserComment = "UNICODE\0" + UTF-16BE), because A1111's reader decodes
// a UNICODE comment as UTF-16BE whatever the byte order; libvips (sharp's `withExif`) writes "ASCII\0\0\0" and
// turns every non-ASCII character into "?". Read back leniently: any byte order, the ASCII/UNICODE/JIS/undefined
// prefixes, and IFD0 Make/Model/ImageDescription (where ComfyUI's WebP files keep `prompt:`/`workflow:` JSON).
const TAG_IMAGE_DESCRIPTION = 0x010e;
const TAG_MAKE = 0x010f;
const TAG_MODEL = 0x0110;
const TAG_EXIF_IFD = 0x8769;
const TAG_USER_COMMENT = 0x9286;
const TYPE_ASCII = 2;
const TYPE_LONG = 4;
const TYPE_UNDEFINED = 7;

const UNICODE_PREFIX = Buffer.from('UNICODE\0', 'latin1');

/** A TIFF/EXIF block (no "Exif\0\0" header) with one tag: UserComment = `text` in piexif's "unicode" form. */
export function buildExifUserComment(text: string): Buffer {
  const body = Buffer.from(text, 'utf16le').swap16(); // UTF-16BE
  const comment = Buffer.concat([UNICODE_PREFIX, body]);
  // Layout: header (8) | IFD0: count, 1 entry, next (18) | Exif IFD: count, 1 entry, next (18) | comment.
  const ifd0 = 8;
  const exifIfd = ifd0 + 18;
  const data = exifIfd + 18;
  const out = Buffer.alloc(data + comment.length);
  out.write('MM', 0, 'latin1');
  out.writeUInt16BE(42, 2);
  out.writeUInt32BE(ifd0, 4);
  writeIfd(out, ifd0, TAG_EXIF_IFD, TYPE_LONG, 1, exifIfd);
  writeIfd(out, exifIfd, TAG_USER_COMMENT, TYPE_UNDEFINED, comment.length, data);
  comment.copy(out, data);
  return out;
}

/** What a JPEG APP1 segment can hold of UserComment text: 65533 bytes less headers, two bytes a character. */
export const JPEG_USER_COMMENT_CHARS = Math.floor((65533 - 6 - 44 - UNICODE_PREFIX.length) / 2);

/**
 * The infotext shortened to `maxChars` when it must be (a JPEG segment is limited to 64 KB): the parameter line is
 * kept whole and the prompt text before it is cut, so readers still find every setting.
 */
export function fitInfotext(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const lastBreak = text.lastIndexOf('\n');
  const tail = lastBreak >= 0 ? text.slice(lastBreak) : '';
  let head = text.slice(0, Math.max(0, maxChars - tail.length - 1));
  if (/[\ud800-\udbff]$/.test(head)) head = head.slice(0, -1);
  return `${head}…${tail}`;
}

function writeIfd(out: Buffer, at: number, tag: number, type: number, count: number, value: number): void {
  out.writeUInt16BE(1, at);
  out.writeUInt16BE(tag, at + 2);
  out.writeUInt16BE(type, at + 4);
  out.writeUInt32BE(count, at + 6);
  out.writeUInt32BE(value, at + 10);
  out.writeUInt32BE(0, at + 14); // no next IFD
}

export interface ExifText {
  userComment?: string;
  imageDescription?: string;
  make?: string;
  model?: string;
}

/** Reads the text tags of a TIFF/EXIF block (with or without the "Exif\0\0" header); malformed parts are skipped. */
export function readExifText(block: Uint8Array): ExifText {
  let buf = Buffer.from(block.buffer, block.byteOffset, block.byteLength);
  if (buf.toString('latin1', 0, 6) === 'Exif\0\0') buf = buf.subarray(6);
  if (buf.length < 8) return {};
  const order = buf.toString('latin1', 0, 2);
  if (order !== 'MM' && order !== 'II') return {};
  const big = order === 'MM';
  const u16 = (at: number): number => (big ? buf.readUInt16BE(at) : buf.readUInt16LE(at));
  const u32 = (at: number): number => (big ? buf.readUInt32BE(at) : buf.readUInt32LE(at));
  const entries = (ifd: number): Map<number, Buffer> => {
    const found = new Map<number, Buffer>();
    if (ifd < 8 || ifd + 2 > buf.length) return found;
    const count = u16(ifd);
    for (let i = 0; i < count; i++) {
      const at = ifd + 2 + i * 12;
      if (at + 12 > buf.length) break;
      const type = u16(at + 2);
      const n = u32(at + 4);
      const size = type === TYPE_LONG ? 4 * n : type === TYPE_ASCII || type === TYPE_UNDEFINED || type === 1 ? n : -1;
      if (size < 0) continue;
      const start = size <= 4 ? at + 8 : u32(at + 8);
      if (start + size > buf.length) continue;
      found.set(u16(at), buf.subarray(start, start + size));
    }
    return found;
  };
  const ifd0 = entries(u32(4));
  const ascii = (value: Buffer | undefined): string | undefined => {
    if (!value) return undefined;
    const end = value.indexOf(0);
    return value.toString('utf8', 0, end < 0 ? value.length : end);
  };
  const out: ExifText = {};
  const description = ascii(ifd0.get(TAG_IMAGE_DESCRIPTION));
  const make = ascii(ifd0.get(TAG_MAKE));
  const model = ascii(ifd0.get(TAG_MODEL));
  if (description) out.imageDescription = description;
  if (make) out.make = make;
  if (model) out.model = model;
  const pointer = ifd0.get(TAG_EXIF_IFD);
  if (pointer && pointer.length === 4) {
    const comment = entries(big ? pointer.readUInt32BE(0) : pointer.readUInt32LE(0)).get(TAG_USER_COMMENT);
    const text = comment && decodeUserComment(comment, big);
    if (text) out.userComment = text;
  }
  return out;
}

/** A UserComment's 8-byte character-code prefix, then the text. */
export function decodeUserComment(value: Buffer, bigEndian = true): string {
  const prefix = value.toString('latin1', 0, 8);
  const body = value.subarray(8);
  if (prefix === 'UNICODE\0') return decodeUtf16(body, bigEndian);
  if (prefix.startsWith('ASCII')) return body.toString('latin1').replace(/\0+$/, '');
  if (prefix.startsWith('JIS')) return new TextDecoder('shift_jis').decode(body).replace(/\0+$/, '');
  // Undefined code (eight zero bytes) or none at all: A1111 falls back to UTF-8.
  const text = prefix === '\0'.repeat(8) ? body : value;
  return text.toString('utf8').replace(/\0+$/, '');
}

/**
 * UTF-16 in the writer's byte order. piexif always writes big-endian, whatever the TIFF says, so the order that
 * leaves more characters in the Latin range wins: a wrong guess turns "a" (0x0061) into "愀" (0x6100).
 */
function decodeUtf16(body: Buffer, bigEndian: boolean): string {
  const even = body.length - (body.length % 2);
  let zeroFirst = 0;
  let zeroSecond = 0;
  for (let i = 0; i < even; i += 2) {
    if (body[i] === 0) zeroFirst++;
    if (body[i + 1] === 0) zeroSecond++;
  }
  const big = zeroFirst === zeroSecond ? bigEndian : zeroFirst > zeroSecond;
  const bytes = Buffer.from(body.subarray(0, even));
  return (big ? bytes.swap16() : bytes).toString('utf16le').replace(/\0+$/, '');
}
