// Checks a request's filter fields against what is installed and fills their defaults, so a job never reaches the
// worker asking for a model that is not there; adds the NSFW check the owner enforces. Errors are 400s naming the
// field.
import { badRequest } from '../http/errors.js';
import type { FilterChain, FilterRequest } from '../http/schemas.js';
import type { FilterSettings } from '../settings/settings-store.js';
import { DEFAULT_UPSCALER, DEFAULT_WATERMARK_TEXT, filterModuleExists, installedFaceRestorers, installedModels, nsfwClassifierFor } from './available.js';

type FilterFields = Pick<FilterRequest, 'upscale' | 'faceRestore' | 'nsfwFilter' | 'watermark'>;

/**
 * The owner's enforced NSFW check on a request resolved earlier: a job queued (or restored after a restart) before
 * the owner forced the check, or running when it was forced. Returns the request itself when nothing changes.
 */
export function enforceOwnerNsfw<T extends Pick<FilterChain, 'nsfwFilter' | 'nsfwClassifier' | 'nsfwEnforced'>>(
  request: T,
  owner: Pick<FilterSettings, 'forceNsfwFilter' | 'nsfwModel'>,
  modelsDir: string,
): T {
  if (!owner.forceNsfwFilter || request.nsfwEnforced) return request;
  const nsfwClassifier = request.nsfwFilter && request.nsfwClassifier ? request.nsfwClassifier : nsfwClassifierFor(owner.nsfwModel, modelsDir);
  return { ...request, nsfwFilter: true, nsfwClassifier, nsfwEnforced: true };
}

/** The largest upscaled picture: its float accumulators stay near 250 MB while tiles are blended. */
export const MAX_UPSCALED_PIXELS = 4096 * 4096;

/**
 * `owner` is the server's filter settings (an enforced NSFW check, the classifier); `size` is the picture the chain
 * will run on, when known, to refuse upscales past the limit up front.
 */
export async function resolveFilterChain(
  body: FilterFields,
  modelsDir: string,
  owner: FilterSettings,
  size?: { width: number; height: number },
): Promise<FilterChain> {
  const chain: FilterChain = {};
  if (body.upscale) {
    const { factor } = body.upscale;
    if (size && size.width * factor * size.height * factor > MAX_UPSCALED_PIXELS) {
      const limit = Math.sqrt(MAX_UPSCALED_PIXELS);
      throw badRequest('EASEL_ERR_TOO_LARGE', `upscale.factor ${factor} would make a ${size.width * factor}×${size.height * factor} picture, over the ${limit}×${limit} limit`, 'upscale.factor');
    }
    const model = body.upscale.model ?? DEFAULT_UPSCALER;
    if (model !== DEFAULT_UPSCALER && model !== 'lanczos') {
      const installed = await installedModels(modelsDir, 'upscaler');
      if (!installed.some((m) => m.id === model)) {
        const known = [DEFAULT_UPSCALER, 'lanczos', ...installed.map((m) => m.id)].join(', ');
        throw badRequest('EASEL_ERR_UPSCALER_NOT_FOUND', `upscale.model "${model}" is not installed; use one of: ${known}`, 'upscale.model');
      }
    }
    chain.upscale = { factor: body.upscale.factor, model };
  }
  if (body.faceRestore) {
    const installed = await installedFaceRestorers(modelsDir);
    if (installed.length === 0) {
      throw badRequest('EASEL_ERR_NO_FACE_MODEL', 'faceRestore: no face restoration model is installed; download one from the model catalog', 'faceRestore');
    }
    const { model } = body.faceRestore;
    if (model !== undefined && !installed.some((m) => m.id === model)) {
      throw badRequest('EASEL_ERR_FACE_MODEL_NOT_FOUND', `faceRestore.model "${model}" is not installed; installed: ${installed.map((m) => m.id).join(', ')}`, 'faceRestore.model');
    }
    chain.faceRestore = { ...body.faceRestore };
  }
  if (body.nsfwFilter) {
    chain.nsfwFilter = true;
    chain.nsfwClassifier = nsfwClassifierFor(owner.nsfwModel, modelsDir);
  }
  Object.assign(chain, enforceOwnerNsfw(chain, owner, modelsDir));
  if (body.watermark) {
    if (!filterModuleExists('watermark')) throw badRequest('EASEL_ERR_NO_WATERMARK', 'watermark: invisible watermarking is not available in this build', 'watermark');
    const factor = chain.upscale?.factor ?? 1;
    const final = size && { width: size.width * factor, height: size.height * factor };
    const specifier = './watermark.js';
    const { canWatermark } = (await import(specifier)) as { canWatermark?: (image: { width: number; height: number }) => boolean };
    if (final && canWatermark && !canWatermark(final)) {
      throw badRequest('EASEL_ERR_TOO_SMALL', `watermark: the invisible watermark needs at least 256×256 pixels in all; this picture will be ${final.width}×${final.height}`, 'watermark');
    }
    chain.watermark = { text: body.watermark === true ? DEFAULT_WATERMARK_TEXT : body.watermark.text };
  }
  return chain;
}
