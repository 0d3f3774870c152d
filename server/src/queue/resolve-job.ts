// Fills a job request's defaults and checks what a schema cannot: that the model and sampler exist.
import { randomInt } from 'node:crypto';
import { badRequest } from '../http/errors.js';
import type { JobRequest, ResolvedJob } from '../http/schemas.js';
import type { ImageInputs } from '../images/image-inputs.js';
import type { ModelRegistry } from '../models/model-registry.js';
import type { ServerSettings } from '../settings/server-settings.js';
import { resolveFilterChain } from '../filters/resolve-filters.js';
import { NAME_TOKENS, unknownTokens } from '../images/file-names.js';
import { DEFAULT_SAMPLER, findSampler, listSamplers } from '../pipeline/schedulers/samplers.js';

export const JOB_DEFAULTS = {
  negativePrompt: '',
  steps: 20,
  cfgScale: 7.5,
  width: 512,
  height: 512,
  count: 1,
  outputFormat: 'png',
  quality: 90,
  /** A1111's default denoising strength for img2img. */
  strength: 0.75,
} as const;

export async function resolveJob(
  body: JobRequest,
  deps: { registry: ModelRegistry; images: ImageInputs; serverSettings: Pick<ServerSettings, 'filters'> },
): Promise<{ job: ResolvedJob; modelDir: string }> {
  const { registry } = deps;
  if (!body.prompt.trim()) throw badRequest('EASEL_ERR_INVALID', 'prompt must not be blank', 'prompt');
  if (body.mask !== undefined && body.initImage === undefined) {
    throw badRequest('EASEL_ERR_INVALID', 'mask needs an initImage to paint on', 'mask');
  }
  if (body.preserveColors && body.initImage === undefined) {
    throw badRequest('EASEL_ERR_INVALID', 'preserveColors keeps the colours of an initImage; give one, or leave it out', 'preserveColors');
  }
  if (body.strength !== undefined && body.initImage === undefined) {
    throw badRequest('EASEL_ERR_INVALID', 'strength applies to an initImage; give one, or leave strength out', 'strength');
  }

  const models = (await registry.list()).filter((m) => m.ready);
  if (models.length === 0) {
    throw badRequest('EASEL_ERR_NO_MODEL', `no Stable Diffusion model is installed: put one in ${registry.stableDiffusionDir}`, 'model');
  }
  const model = body.model === undefined ? models[0] : models.find((m) => m.id === body.model);
  if (!model) {
    throw badRequest('EASEL_ERR_MODEL_NOT_FOUND', `model "${body.model}" is not installed; installed: ${models.map((m) => m.id).join(', ')}`, 'model');
  }

  const sampler = findSampler(body.sampler ?? DEFAULT_SAMPLER);
  if (!sampler) {
    const known = listSamplers().flatMap((s) => [s.id, ...s.aliases]);
    throw badRequest('EASEL_ERR_UNKNOWN_SAMPLER', `sampler "${body.sampler}" is not known; use one of: ${[...new Set(known)].join(', ')}`, 'sampler');
  }

  const init =
    body.initImage === undefined
      ? {}
      : {
          initImage: await deps.images.resolve(body.initImage, 'initImage'),
          strength: body.strength ?? JOB_DEFAULTS.strength,
          ...(body.mask === undefined ? {} : { mask: await deps.images.resolve(body.mask, 'mask') }),
          ...(body.preserveColors ? { preserveColors: true } : {}),
        };
  for (const field of ['folder', 'fileName'] as const) {
    const unknown = unknownTokens(body.saveAs?.[field] ?? '');
    if (unknown.length) {
      throw badRequest('EASEL_ERR_INVALID', `saveAs.${field}: [${unknown[0]}] is not a name token; use ${NAME_TOKENS.map((t) => `[${t}]`).join(' ')}`, `saveAs.${field}`);
    }
  }
  const size = { width: body.width ?? JOB_DEFAULTS.width, height: body.height ?? JOB_DEFAULTS.height };
  const filters = await resolveFilterChain(body, registry.modelsDir, deps.serverSettings.filters, size);
  const seed = body.seed === undefined || body.seed === -1 ? randomInt(0, 2 ** 32) : body.seed;
  return {
    modelDir: model.dir,
    job: {
      prompt: body.prompt,
      negativePrompt: body.negativePrompt ?? JOB_DEFAULTS.negativePrompt,
      model: model.id,
      sampler: sampler.id,
      steps: body.steps ?? JOB_DEFAULTS.steps,
      cfgScale: body.cfgScale ?? JOB_DEFAULTS.cfgScale,
      width: body.width ?? JOB_DEFAULTS.width,
      height: body.height ?? JOB_DEFAULTS.height,
      seed,
      count: body.count ?? JOB_DEFAULTS.count,
      outputFormat: body.outputFormat ?? JOB_DEFAULTS.outputFormat,
      quality: body.quality ?? JOB_DEFAULTS.quality,
      ...init,
      ...filters,
      ...(body.saveAs ? { saveAs: body.saveAs } : {}),
    },
  };
}
