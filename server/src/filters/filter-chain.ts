// The filter chain a job asks for, run on each decoded image in a fixed order: face restoration → upscale → NSFW
// blur → watermark. Restoration works best at the generated size, the NSFW check must see the final picture, and
// the watermark goes last so nothing after it can damage it. Face restoration and the watermark live in modules
// another part of the build provides; they are loaded only when a job asks for them.
import type { FilterChain, Progress } from '../http/schemas.js';
import type { RgbImage } from '../images/encode.js';
import { FilterStopped, type FilterContext } from './filter.js';
import { nsfwFilter, type NsfwVerdict } from './nsfw.js';
import { upscale, upscalerLabel } from './upscale.js';

export type FilterStage = NonNullable<Progress['stage']>;

export interface ChainHooks {
  modelsDir: string;
  shouldStop(): boolean;
  /** A stage starts with (0, total) and reports each unit of work it finishes. */
  onProgress?(stage: FilterStage, done: number, total: number): void;
}

export interface ChainResult {
  image: RgbImage;
  /** A1111 infotext entries for what was applied, e.g. ["Postprocess upscale by", 2]. */
  params: [string, string | number][];
  /** The NSFW check's verdict: which classifier, its scores, whether the picture was blurred. */
  nsfw?: NsfwVerdict;
  /** Cancel arrived during a slow stage: it and the other slow ones were skipped, the safety stages still ran. */
  stopped: boolean;
}

type RestoreFaces = (image: RgbImage, options: { model?: string; strength?: number }, ctx: FilterContext) => Promise<RgbImage>;
type EmbedWatermark = (image: RgbImage, text: string) => RgbImage;

/** Imports a sibling module by a computed name, so the build does not need it to exist. */
async function optional<T>(name: 'face-restore' | 'watermark', exported: string): Promise<T> {
  const specifier = `./${name}.js`;
  const module = (await import(specifier)) as Record<string, unknown>;
  const fn = module[exported];
  if (typeof fn !== 'function') throw new Error(`filters/${name} does not export ${exported}`);
  return fn as T;
}

export function chainIsEmpty(chain: { upscale?: unknown; faceRestore?: unknown; nsfwFilter?: boolean; watermark?: unknown }): boolean {
  return !chain.upscale && !chain.faceRestore && !chain.nsfwFilter && !chain.watermark;
}

/**
 * Runs the chain. With `partial` (a cancelled, unfinished image) the slow stages are skipped; the NSFW blur and
 * the watermark always run, so nothing leaves the worker unchecked or unmarked.
 */
export async function applyFilterChain(image: RgbImage, chain: FilterChain, hooks: ChainHooks, opts: { partial?: boolean } = {}): Promise<ChainResult> {
  const ctx = (stage: FilterStage): FilterContext => {
    hooks.onProgress?.(stage, 0, 1);
    return { modelsDir: hooks.modelsDir, shouldStop: () => hooks.shouldStop(), onProgress: (done, total) => hooks.onProgress?.(stage, done, total) };
  };
  const result: ChainResult = { image, params: [], stopped: !!opts.partial };
  const slow = async (run: () => Promise<void>) => {
    if (result.stopped) return;
    try {
      await run();
    } catch (error) {
      if (!(error instanceof FilterStopped) && !hooks.shouldStop()) throw error;
      result.stopped = true;
    }
  };

  const { faceRestore, upscale: up } = chain;
  if (faceRestore) {
    await slow(async () => {
      const restoreFaces = await optional<RestoreFaces>('face-restore', 'restoreFaces');
      result.image = await restoreFaces(result.image, faceRestore, ctx('faceRestore'));
      result.params.push(['Face restoration', faceRestore.model ?? 'auto']);
    });
  }
  if (up) {
    await slow(async () => {
      result.image = await upscale(result.image, up, ctx('upscale'));
      result.params.push(['Postprocess upscale by', up.factor], ['Postprocess upscaler', upscalerLabel(up)]);
    });
  }
  if (chain.nsfwFilter) {
    const { image: checked, ...verdict } = await nsfwFilter(result.image, { ...ctx('nsfw'), shouldStop: () => false }, chain.nsfwClassifier);
    result.image = checked;
    result.nsfw = verdict;
    result.params.push(['NSFW filter', verdict.classifier], ['NSFW result', verdict.flagged ? 'blurred' : 'passed']);
  }
  if (chain.watermark) {
    const embedWatermark = await optional<EmbedWatermark>('watermark', 'embedWatermark');
    hooks.onProgress?.('watermark', 0, 1);
    result.image = embedWatermark(result.image, chain.watermark.text);
    hooks.onProgress?.('watermark', 1, 1);
  }
  return result;
}

/** Adds entries to an infotext's parameter line, before "Version" as A1111 keeps Version last. */
export function withFilterParams(infotext: string, params: readonly [string, string | number][]): string {
  if (params.length === 0) return infotext;
  const quote = (v: string | number) => (typeof v === 'string' && /[,:\n]/.test(v) ? JSON.stringify(v) : String(v));
  const text = params.map(([k, v]) => `${k}: ${quote(v)}`).join(', ');
  if (!infotext) return text;
  const lines = infotext.split('\n');
  const last = lines.pop() as string;
  const at = last.lastIndexOf(', Version: ');
  lines.push(at >= 0 ? `${last.slice(0, at)}, ${text}${last.slice(at)}` : `${last}, ${text}`);
  return lines.join('\n');
}
