// Upscaling: the built-in ESRGAN-slim models (x2, x3, x4, converted from @upscalerjs/esrgan-slim), any catalog
// upscaler ONNX (`<models>/upscaler/<id>/model.onnx`, NCHW float RGB in [0, 1], like Real-ESRGAN), or Lanczos when
// no model is wanted. Models run tiled; a model whose own scale differs from the factor asked for is followed by
// a Lanczos resize to the exact size, as A1111 does.
import sharp from 'sharp';
import type { RgbImage } from '../images/encode.js';
import { catalogModelPath, DEFAULT_UPSCALER, type UpscaleFactor } from './available.js';
import type { FilterContext } from './filter.js';
import { builtinModelPath } from './keras/builtin-models.js';
import { filterModel } from './model-cache.js';
import { runTiled, type TileOptions, type TileRunner } from './tiling.js';

export interface UpscaleOptions {
  factor: UpscaleFactor;
  /** 'esrgan-slim' (default), 'lanczos', or a catalog upscaler id. */
  model?: string;
}

/**
 * 192 px tiles with 16 px of context: a 2048² x4 result from ESRGAN-slim peaks near 450 MB in all (the converter
 * keeps the upsampled feature maps small). Real-ESRGAN's RRDBNet builds 64-channel maps at 4× inside, so the
 * catalog's suggested 256 px would cost several times that on a CPU; the same 192 serves both.
 */
const TILES: TileOptions = { tile: 192, overlap: 16, pad: 16 };

export async function upscale(image: RgbImage, options: UpscaleOptions, ctx: FilterContext, tiles?: TileOptions): Promise<RgbImage> {
  const model = options.model ?? DEFAULT_UPSCALER;
  const width = image.width * options.factor;
  const height = image.height * options.factor;
  if (model === 'lanczos') {
    const result = await resize(image, width, height);
    ctx.onProgress?.(1, 1);
    return result;
  }
  const builtin = model === DEFAULT_UPSCALER;
  const path = builtin ? await builtinModelPath(`esrgan-slim-x${options.factor}`, ctx.modelsDir) : catalogModelPath(ctx.modelsDir, 'upscaler', model);
  // ESRGAN-slim was trained on 0–255 pixels (UpscalerJS's inputRange/outputRange); catalog models use 0–1.
  const range = builtin ? 255 : 1;
  const { image: result } = await runTiled(image, await modelRunner(path, range), tiles ?? TILES, ctx);
  return result.width === width && result.height === height ? result : resize(result, width, height);
}

/** A tile runner for an NCHW image model, scaling pixels to the model's range and back. */
export async function modelRunner(path: string, range: number): Promise<TileRunner> {
  const model = await filterModel(path);
  const input = model.inputs[0];
  if (!input) throw new Error(`${path} has no input`);
  return async (planes, width, height) => {
    const data = range === 1 ? planes : planes.map((v) => v * range);
    const outputs = await model.run({ [input.name]: { kind: 'float', dims: [1, 3, height, width], data } });
    const out = Object.values(outputs)[0];
    if (!out || out.dims.length !== 4 || out.dims[1] !== 3) throw new Error(`${path}: expected an NCHW RGB output, got [${out?.dims.join(', ')}]`);
    const scale = (out.dims[3] as number) / width;
    if (!Number.isInteger(scale) || (out.dims[2] as number) !== height * scale) {
      throw new Error(`${path}: a ${width}×${height} tile came back ${out.dims[3]}×${out.dims[2]}, not a whole multiple`);
    }
    if (range !== 1) for (let i = 0; i < out.data.length; i++) out.data[i] = (out.data[i] as number) / range;
    return { data: out.data, scale };
  };
}

export async function resize(image: RgbImage, width: number, height: number): Promise<RgbImage> {
  const data = await sharp(image.pixels, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(width, height, { fit: 'fill', kernel: 'lanczos3' })
    .raw()
    .toBuffer();
  return { width, height, pixels: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}

/** How A1111's infotext names the upscaler ("Postprocess upscaler: …"). */
export function upscalerLabel(options: UpscaleOptions): string {
  const model = options.model ?? DEFAULT_UPSCALER;
  if (model === 'lanczos') return 'Lanczos';
  if (model === DEFAULT_UPSCALER) return `ESRGAN-slim ${options.factor}x`;
  return model;
}
