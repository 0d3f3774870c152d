// One level of the 2-D Haar wavelet transform, computed as PyWavelets computes it (`pywt.dwt2(x, 'haar')` and
// `pywt.idwt2`), operation for operation in float64: first along axis 0 (rows pairs), then axis 1, each output
// `x[2i+1]·f[0] + x[2i]·f[1]`, and the inverse adding the approximation's share before the detail's. Matching the
// order matters because the watermark truncates the reconstruction to uint8, where 129.99999999999997 ≠ 130.
const C = Math.SQRT1_2; // the float64 0.7071067811865476 that pywt stores for haar
const DEC_LO = [C, C] as const;
const DEC_HI = [-C, C] as const;
const REC_LO = [C, C] as const;
const REC_HI = [C, -C] as const;

/** A 2-D float64 array, row-major. */
export interface Plane {
  width: number;
  height: number;
  data: Float64Array;
}

/** pywt's band names: first letter axis 0 (a = approximation, d = detail), second letter axis 1. */
export interface HaarBands {
  aa: Plane;
  ad: Plane;
  da: Plane;
  dd: Plane;
}

function plane(width: number, height: number): Plane {
  return { width, height, data: new Float64Array(width * height) };
}

/** Downsampling convolution along one axis: out[i] = in[2i+1]·f[0] + in[2i]·f[1]. */
function analyse(src: Plane, axis: 0 | 1, f: readonly [number, number]): Plane {
  const out = axis === 0 ? plane(src.width, src.height / 2) : plane(src.width / 2, src.height);
  const s = src.data;
  const o = out.data;
  for (let r = 0; r < out.height; r++) {
    for (let c = 0; c < out.width; c++) {
      const [odd, even] =
        axis === 0
          ? [s[(2 * r + 1) * src.width + c] as number, s[2 * r * src.width + c] as number]
          : [s[r * src.width + 2 * c + 1] as number, s[r * src.width + 2 * c] as number];
      o[r * out.width + c] = odd * f[0] + even * f[1];
    }
  }
  return out;
}

/** Upsampling along one axis from an approximation and a detail band: out[2i] = a·lo0 + d·hi0, out[2i+1] = a·lo1 + d·hi1. */
function synthesise(a: Plane, d: Plane, axis: 0 | 1): Plane {
  const out = axis === 0 ? plane(a.width, a.height * 2) : plane(a.width * 2, a.height);
  for (let r = 0; r < a.height; r++) {
    for (let c = 0; c < a.width; c++) {
      const av = a.data[r * a.width + c] as number;
      const dv = d.data[r * a.width + c] as number;
      const even = av * REC_LO[0] + dv * REC_HI[0];
      const odd = av * REC_LO[1] + dv * REC_HI[1];
      if (axis === 0) {
        out.data[2 * r * out.width + c] = even;
        out.data[(2 * r + 1) * out.width + c] = odd;
      } else {
        out.data[r * out.width + 2 * c] = even;
        out.data[r * out.width + 2 * c + 1] = odd;
      }
    }
  }
  return out;
}

/** `pywt.dwt2(x, 'haar')` for even width and height: returns every band by name. */
export function haarDwt2(x: Plane): HaarBands {
  if (x.width % 2 || x.height % 2) throw new Error('haarDwt2 needs even sides');
  const a = analyse(x, 0, DEC_LO);
  const d = analyse(x, 0, DEC_HI);
  return { aa: analyse(a, 1, DEC_LO), ad: analyse(a, 1, DEC_HI), da: analyse(d, 1, DEC_LO), dd: analyse(d, 1, DEC_HI) };
}

/** `pywt.idwtn` over axes (0, 1): axis 1 first ('aa'+'ad', 'da'+'dd'), then axis 0. */
export function haarIdwt2(bands: HaarBands): Plane {
  const a = synthesise(bands.aa, bands.ad, 1);
  const d = synthesise(bands.da, bands.dd, 1);
  return synthesise(a, d, 0);
}
