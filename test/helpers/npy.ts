// Minimal reader for the reference .npy files: NumPy format 1.0, little-endian float32 / int32, C order.
import { readFileSync } from 'node:fs';

export interface NpyArray<T extends Float32Array | Int32Array = Float32Array | Int32Array> {
  shape: number[];
  data: T;
}

const MAGIC = '\x93NUMPY';

export function parseNpy(bytes: Uint8Array): NpyArray {
  const magic = String.fromCharCode(...bytes.subarray(0, 6));
  if (magic !== MAGIC) throw new Error('not a .npy file (bad magic)');
  const major = bytes[6];
  if (major !== 1) throw new Error(`unsupported .npy format version ${major}.${bytes[7]}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint16(8, true);
  const dataOffset = 10 + headerLength;
  const header = new TextDecoder('latin1').decode(bytes.subarray(10, dataOffset));

  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw new Error(`unreadable .npy header: ${header}`);
  if (fortran === 'True') throw new Error('.npy in Fortran order is not supported');
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  const count = shape.reduce((n, d) => n * d, 1);

  // Copy into a fresh buffer: the payload offset need not be 4-byte aligned, and Buffer#slice would not copy.
  const payload = new Uint8Array(bytes.subarray(dataOffset, dataOffset + count * 4));
  if (payload.byteLength !== count * 4) throw new Error(`.npy payload is short: ${payload.byteLength} bytes for ${count} values`);
  switch (descr) {
    case '<f4':
      return { shape, data: new Float32Array(payload.buffer, 0, count) };
    case '<i4':
      return { shape, data: new Int32Array(payload.buffer, 0, count) };
    default:
      throw new Error(`unsupported .npy dtype ${descr} (only <f4 and <i4)`);
  }
}

export function readNpy(path: string): NpyArray {
  return parseNpy(readFileSync(path));
}

export function readNpyFloat32(path: string): NpyArray<Float32Array> {
  const array = readNpy(path);
  if (!(array.data instanceof Float32Array)) throw new Error(`${path} does not hold float32 values`);
  return array as NpyArray<Float32Array>;
}
