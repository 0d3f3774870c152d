// Face geometry: the 5-point FFHQ template that GFPGAN and CodeFormer were trained on (facexlib's, for 512×512:
// eyes, nose tip, mouth corners, left to right as seen), the least-squares similarity transform that carries a
// detected face's landmarks onto it, the warp into the model's crop, and the feathered paste-back.
// Coordinates are pixel centres, as OpenCV's warpAffine uses them.
import type { RgbImage } from '../images/encode.js';

export interface Point {
  x: number;
  y: number;
}

/** x' = a·x − b·y + tx, y' = b·x + a·y + ty: rotation, uniform scale and translation. */
export interface Similarity {
  a: number;
  b: number;
  tx: number;
  ty: number;
}

export const FACE_SIZE = 512;
export const FFHQ_TEMPLATE_512: readonly Point[] = [
  { x: 192.98138, y: 239.94708 },
  { x: 318.90277, y: 240.1936 },
  { x: 256.63416, y: 314.01935 },
  { x: 201.26117, y: 371.41043 },
  { x: 313.08905, y: 371.15118 },
];

export const apply = (m: Similarity, p: Point): Point => ({ x: m.a * p.x - m.b * p.y + m.tx, y: m.b * p.x + m.a * p.y + m.ty });

/**
 * The similarity transform minimising Σ|T(src_i) − dst_i|². With both point sets centred, the optimum is
 * a = Σ(s·d)/Σ|s|², b = Σ(s×d)/Σ|s|² (dot and cross products), and the translation maps the centroids.
 */
export function estimateSimilarity(src: readonly Point[], dst: readonly Point[]): Similarity {
  if (src.length !== dst.length || src.length < 2) throw new Error('a similarity needs two or more point pairs');
  const mean = (ps: readonly Point[]): Point => ({ x: ps.reduce((s, p) => s + p.x, 0) / ps.length, y: ps.reduce((s, p) => s + p.y, 0) / ps.length });
  const ms = mean(src);
  const md = mean(dst);
  let dot = 0;
  let cross = 0;
  let norm = 0;
  for (let i = 0; i < src.length; i++) {
    const sx = (src[i] as Point).x - ms.x;
    const sy = (src[i] as Point).y - ms.y;
    const dx = (dst[i] as Point).x - md.x;
    const dy = (dst[i] as Point).y - md.y;
    dot += sx * dx + sy * dy;
    cross += sx * dy - sy * dx;
    norm += sx * sx + sy * sy;
  }
  if (norm === 0) throw new Error('the landmarks coincide');
  const a = dot / norm;
  const b = cross / norm;
  return { a, b, tx: md.x - (a * ms.x - b * ms.y), ty: md.y - (b * ms.x + a * ms.y) };
}

export function invert(m: Similarity): Similarity {
  const det = m.a * m.a + m.b * m.b;
  const a = m.a / det;
  const b = -m.b / det;
  return { a, b, tx: -(a * m.tx - b * m.ty), ty: -(b * m.tx + a * m.ty) };
}

/** Bilinear sample of the three channels at (x, y), edges clamped (BORDER_REPLICATE), written to out[0..2]. */
export function sampleInto(image: RgbImage, x: number, y: number, out: Float64Array): void {
  const { width, height, pixels: p } = image;
  const cx = x < 0 ? 0 : x > width - 1 ? width - 1 : x;
  const cy = y < 0 ? 0 : y > height - 1 ? height - 1 : y;
  const x0 = Math.floor(cx);
  const y0 = Math.floor(cy);
  const fx = cx - x0;
  const fy = cy - y0;
  const i00 = (y0 * width + x0) * 3;
  const i01 = x0 + 1 < width ? i00 + 3 : i00;
  const i10 = y0 + 1 < height ? i00 + width * 3 : i00;
  const i11 = i01 + (i10 - i00);
  for (let c = 0; c < 3; c++) {
    const top = (p[i00 + c] as number) + ((p[i01 + c] as number) - (p[i00 + c] as number)) * fx;
    const bottom = (p[i10 + c] as number) + ((p[i11 + c] as number) - (p[i10 + c] as number)) * fx;
    out[c] = top + (bottom - top) * fy;
  }
}

/** The model's crop: output pixel q takes the image at toCrop⁻¹(q). */
export function warpToCrop(image: RgbImage, toCrop: Similarity, size = FACE_SIZE): RgbImage {
  const back = invert(toCrop);
  const pixels = new Uint8Array(size * size * 3);
  const rgb = new Float64Array(3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      sampleInto(image, back.a * x - back.b * y + back.tx, back.b * x + back.a * y + back.ty, rgb);
      const i = (y * size + x) * 3;
      pixels[i] = Math.round(rgb[0] as number);
      pixels[i + 1] = Math.round(rgb[1] as number);
      pixels[i + 2] = Math.round(rgb[2] as number);
    }
  }
  return { width: size, height: size, pixels };
}

/** Weight of a crop pixel in the paste-back: 1 inside, falling smoothly to 0 over `feather` pixels at the crop's edge. */
export function featherWeight(x: number, y: number, size: number, feather: number): number {
  const edge = Math.min(x + 0.5, y + 0.5, size - 0.5 - x, size - 0.5 - y);
  if (edge <= 0) return 0;
  if (edge >= feather) return 1;
  const t = edge / feather;
  return t * t * (3 - 2 * t);
}

/**
 * Blends the restored crop back into the image: each image pixel whose crop position lies inside the crop takes
 * `strength · feather` of the restored face. Pixels outside the face's crop are not touched.
 */
export function pasteBack(image: RgbImage, face: RgbImage, toCrop: Similarity, strength: number, feather = FACE_SIZE / 10): RgbImage {
  const out = new Uint8Array(image.pixels);
  const size = face.width;
  const back = invert(toCrop);
  const corners = [apply(back, { x: 0, y: 0 }), apply(back, { x: size, y: 0 }), apply(back, { x: 0, y: size }), apply(back, { x: size, y: size })];
  const x0 = Math.max(0, Math.floor(Math.min(...corners.map((p) => p.x))));
  const x1 = Math.min(image.width - 1, Math.ceil(Math.max(...corners.map((p) => p.x))));
  const y0 = Math.max(0, Math.floor(Math.min(...corners.map((p) => p.y))));
  const y1 = Math.min(image.height - 1, Math.ceil(Math.max(...corners.map((p) => p.y))));
  const rgb = new Float64Array(3);
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const qx = toCrop.a * x - toCrop.b * y + toCrop.tx;
      const qy = toCrop.b * x + toCrop.a * y + toCrop.ty;
      const w = strength * featherWeight(qx, qy, size, feather);
      if (w <= 0) continue;
      sampleInto(face, qx, qy, rgb);
      for (let c = 0; c < 3; c++) {
        const i = (y * image.width + x) * 3 + c;
        const base = image.pixels[i] as number;
        out[i] = Math.round(base + w * ((rgb[c] as number) - base));
      }
    }
  }
  return { width: image.width, height: image.height, pixels: out };
}
