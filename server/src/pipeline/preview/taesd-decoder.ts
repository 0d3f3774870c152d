// TAESD as a preview decoder: found in the model store (`<models>/vae-approx/taesd/vae_decoder/model.onnx`, where
// the catalog's `taesd` entry installs; any `vae-approx/` model whose name starts with "taesd" otherwise, except the
// SDXL/SD3 variants), loaded once per file version through the onnx module, and run on one image's predicted
// clean latents. Its output range is read from the graph (onnx-output-range.ts): [-1, 1] for diffusers exports
// (the default when the graph does not say), [0, 1] for taesd.py's raw decoder.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { TaesdOutputRange } from '../../convert/taesd.js';
import { tensorToRgb, type RgbImage } from '../../images/encode.js';
import { listSingleNetworkModels } from '../../models/model-scan.js';
import { OnnxModel, type SessionOptions } from '../onnx/onnx-session.js';
import { detectOutputRange } from './onnx-output-range.js';

/** The catalog entry's id, and so its folder under `vae-approx/`. */
const TAESD_ID = 'taesd';
// Warm-up side (latent pixels): big enough that the first cost estimate is near the per-pixel cost of real sizes.
const WARM_UP_SIDE = 16;

export class TaesdDecoder {
  /** Latest measured cost per latent pixel, ms: the estimate for the next decode at any size. */
  private msPerLatentPixel = 0;

  private constructor(
    private readonly model: OnnxModel,
    readonly range: TaesdOutputRange,
    /** Whether the range was read from the graph (false: the diffusers default was assumed). */
    readonly rangeDetected: boolean,
  ) {}

  /** Loads the decoder and decodes one small latent, which checks the file and gives the first cost estimate. */
  static async load(path: string, session: SessionOptions = {}): Promise<TaesdDecoder> {
    // Arena off: at 512² a decode peaks ~230 MiB above the loaded model, which the arena would keep for the life of
    // the worker (+490 MiB measured); without it decodes were ~8 % slower, ~0.1 % of a job at the budget's cadence.
    const model = await OnnxModel.load(path, { ...session, memArena: false });
    try {
      const channels = model.inputs[0]?.shape[1];
      if (model.inputs.length !== 1 || model.outputs.length < 1 || (typeof channels === 'number' && channels !== 4)) {
        const found = model.inputs.map((i) => `${i.name} [${i.shape.join(', ')}]`).join(', ') || 'none';
        throw new Error(`${path}: expected one input of 4-channel latents and an image output, found inputs ${found}`);
      }
      const detected = await detectOutputRange(path).catch(() => undefined);
      const decoder = new TaesdDecoder(model, detected ?? '[-1,1]', detected !== undefined);
      // An export with a fixed latent size warms up at that size (and previews only images of it).
      const [w, h] = [decoder.fixedSide(3) ?? WARM_UP_SIDE, decoder.fixedSide(2) ?? WARM_UP_SIDE];
      const started = performance.now();
      await decoder.decodeRaw(new Float32Array(4 * w * h), w, h);
      decoder.msPerLatentPixel = (performance.now() - started) / (w * h);
      return decoder;
    } catch (error) {
      await model.release();
      throw error;
    }
  }

  /** False when the file was exported for another fixed latent size. */
  fits(width: number, height: number): boolean {
    return (this.fixedSide(3) ?? width) === width && (this.fixedSide(2) ?? height) === height;
  }

  /** What a decode of a `width` × `height` latent is expected to cost, from the last measured one. */
  expectedMs(width: number, height: number): number {
    return this.msPerLatentPixel * width * height;
  }

  /** One image's [4, h, w] UNet-space latents → RGB, box-averaged down to at most `maxSide` pixels a side. */
  async decode(latents: Float32Array, width: number, height: number, maxSide: number): Promise<RgbImage> {
    const started = performance.now();
    const { data, width: outW, height: outH } = await this.decodeRaw(latents, width, height);
    this.msPerLatentPixel = (performance.now() - started) / (width * height);
    const factor = Math.max(1, Math.ceil(Math.max(outW, outH) / maxSide));
    return tensorToRgb(shrink(data, outW, outH, factor, this.range), Math.floor(outW / factor), Math.floor(outH / factor));
  }

  async release(): Promise<void> {
    await this.model.release();
  }

  private fixedSide(axis: 2 | 3): number | undefined {
    const size = this.model.inputs[0]?.shape[axis];
    return typeof size === 'number' && size > 0 ? size : undefined;
  }

  private async decodeRaw(latents: Float32Array, width: number, height: number): Promise<{ data: Float32Array; width: number; height: number }> {
    const input = this.model.inputs[0]!;
    const outputs = await this.model.run({ [input.name]: { kind: 'float', dims: [1, 4, height, width], data: latents } });
    const image = outputs[this.model.outputs[0]!.name];
    const dims = image?.dims ?? [];
    if (!image || dims.length !== 4 || dims[1] !== 3) {
      throw new Error(`${this.model.path}: expected an image [1, 3, H, W], got [${dims.join(', ')}]`);
    }
    return { data: image.data, width: dims[3]!, height: dims[2]! };
  }
}

/** Box-averages NCHW RGB by an integer factor and maps it to [-1, 1], the range tensorToRgb takes. */
function shrink(data: Float32Array, width: number, height: number, factor: number, range: TaesdOutputRange): Float32Array {
  const outW = Math.floor(width / factor);
  const outH = Math.floor(height / factor);
  const out = new Float32Array(3 * outW * outH);
  const [scale, shift] = range === '[0,1]' ? [2, -1] : [1, 0];
  const norm = scale / (factor * factor);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < outH; y++) {
      for (let x = 0; x < outW; x++) {
        let sum = 0;
        for (let dy = 0; dy < factor; dy++) {
          const row = c * width * height + (y * factor + dy) * width + x * factor;
          for (let dx = 0; dx < factor; dx++) sum += data[row + dx] as number;
        }
        out[c * outW * outH + y * outW + x] = sum * norm + shift;
      }
    }
  }
  return out;
}

/**
 * The installed TAESD decoder file for SD 1.x/2.x latents, or undefined: the catalog's `taesd` first, then another
 * `vae-approx/` model named taesd… (not taesdxl / taesd3, which decode other latent spaces).
 */
export async function findTaesd(modelsDir: string): Promise<string | undefined> {
  const models = (await listSingleNetworkModels(modelsDir, 'vae-approx')).filter((m) => m.ready && /^taesd(?!xl|3)/i.test(m.id));
  models.sort((a, b) => Number(b.id === TAESD_ID) - Number(a.id === TAESD_ID));
  for (const model of models) {
    // A folder holds vae_decoder/ (and maybe vae_encoder/); a loose file is the decoder itself.
    const components = model.components ?? [];
    const file = components.find((c) => /decoder/i.test(c)) ?? (components.length === 1 ? components[0] : undefined);
    if (file) return (await stat(model.dir)).isFile() ? model.dir : join(model.dir, file);
  }
  return undefined;
}

/** Identifies a file version: a replaced file loads again, a failed one is not retried until it changes. */
export async function fileVersion(path: string): Promise<string> {
  const info = await stat(path);
  return `${path}:${info.size}:${info.mtimeMs}`;
}
