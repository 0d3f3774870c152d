// Live step previews for one image: TAESD when it is installed (and the latents are SD 1.x/2.x's 4 channels), the
// linear "approx cheap" map otherwise or when TAESD fails (said once per file). TAESD runs only as often as
// `share` of the step time pays for (preview-budget.ts); in between, the last TAESD picture is shown again, and
// before the first one the linear map is. Measured on a 2-core CPU (docs/BENCHMARKS.md, previews): a decode is
// 0.8–1 s at 512², 8–10 % of an SD 1.5 step, so a 20-step job gets two or three TAESD pictures there; on a GPU
// a decode is a few ms, so it runs every few steps (unmeasured here).
import type { RgbImage } from '../../images/encode.js';
import type { SessionOptions } from '../onnx/onnx-session.js';
import { latentsToRgb } from './latent-preview.js';
import { PreviewBudget } from './preview-budget.js';
import { fileVersion, findTaesd, TaesdDecoder } from './taesd-decoder.js';

export type PreviewKind = 'taesd' | 'linear';

export interface Previewer {
  /** 'taesd' when a TAESD decoder is loaded for this image (it still runs only when the budget allows). */
  readonly kind: PreviewKind;
  /** One image's predicted clean latents [4, h, w] (UNet space) → a picture at most `maxSide` a side. */
  preview(predOriginal: Float32Array, latentWidth: number, latentHeight: number): Promise<RgbImage>;
}

export interface PreviewerOptions {
  /** The model store to look for TAESD in; without one, previews are linear. */
  modelsDir: string | undefined;
  /**
   * Channels of the latents previewed (the UNet's output, not its input: an inpainting UNet takes 9 and denoises 4).
   * TAESD decodes SD 1.x/2.x's 4 (SDXL's would need taesdxl).
   */
  latentChannels: number;
  /** The longest side of a preview (TAESD's 8× output is box-averaged down to it). */
  maxSide?: number;
  /** Share of the step time TAESD may take; 1.5 % leaves the JPEG and the websocket within issue 8's 2 %. */
  share?: number;
  /** For the decoder's session: threads and providers as the UNet's. */
  session?: SessionOptions;
  log?: (message: string) => void;
}

export const DEFAULT_PREVIEW_SHARE = 0.015;
const DEFAULT_MAX_SIDE = 256;

// Loaded decoders by file version, kept across jobs and SD models (one latent space); undefined = it failed (and
// was reported). Only the current file's version is kept: a replaced file's session is released.
const decoders = new Map<string, Promise<TaesdDecoder | undefined>>();

/** Releases every loaded TAESD session (the worker's shutdown). */
export async function releasePreviewDecoders(): Promise<void> {
  const loaded = [...decoders.values()];
  decoders.clear();
  for (const pending of loaded) await (await pending)?.release().catch(() => undefined);
}

function forget(version: string): void {
  const pending = decoders.get(version);
  decoders.delete(version);
  void pending?.then((decoder) => decoder?.release()).catch(() => undefined);
}

/** Call once per image (the budget and the last picture are per image); loading is cached per file version. */
export async function createPreviewer(opts: PreviewerOptions): Promise<Previewer> {
  const log = opts.log ?? ((message: string) => console.warn(`easel previews: ${message}`));
  const linear: Previewer = { kind: 'linear', preview: async (latents, w, h) => latentsToRgb(latents, w, h) };
  if (opts.latentChannels !== 4 || !opts.modelsDir) return linear;
  const path = await findTaesd(opts.modelsDir);
  if (!path) return linear;
  const version = await fileVersion(path);
  if (!decoders.has(version)) {
    for (const old of [...decoders.keys()]) forget(old);
    decoders.set(version, loadOrReport(path, opts.session ?? {}, log));
  }
  const taesd = await decoders.get(version);
  if (!taesd) return linear;

  const maxSide = opts.maxSide ?? DEFAULT_MAX_SIDE;
  const budget = new PreviewBudget(opts.share ?? DEFAULT_PREVIEW_SHARE);
  // The last TAESD picture and the latent size it came from.
  let last: { image: RgbImage; size: string } | undefined;
  let broken = false;
  return {
    kind: 'taesd',
    async preview(latents, width, height) {
      let spent = 0;
      if (!broken && taesd.fits(width, height) && budget.allows(taesd.expectedMs(width, height))) {
        const started = performance.now();
        try {
          last = { image: await taesd.decode(latents, width, height, maxSide), size: `${width}x${height}` };
        } catch (error) {
          broken = true;
          last = undefined;
          forget(version);
          decoders.set(version, Promise.resolve(undefined));
          log(`TAESD (${path}) failed, using the linear preview instead: ${(error as Error).message}`);
        }
        spent = performance.now() - started;
      }
      budget.spent(spent);
      return last?.size === `${width}x${height}` ? last.image : latentsToRgb(latents, width, height);
    },
  };
}

async function loadOrReport(path: string, session: SessionOptions, log: (message: string) => void): Promise<TaesdDecoder | undefined> {
  try {
    const decoder = await TaesdDecoder.load(path, session);
    if (!decoder.rangeDetected) log(`${path}: output range not told by the graph, assuming diffusers' [-1, 1]`);
    return decoder;
  } catch (error) {
    log(`TAESD (${path}) could not be loaded, using the linear preview instead: ${(error as Error).message}`);
    return undefined;
  }
}
