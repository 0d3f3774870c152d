// An A1111 txt2img/img2img body → Easel's JobRequest. Defaults are A1111's API defaults (50 steps, CFG 7,
// sampler "Euler"); the result is checked against JobRequest and then goes through resolveJob like any native job,
// so there is one set of limits and one model and sampler lookup.
import { Value } from '@sinclair/typebox/value';
import { AppError } from '../errors.js';
import { JobRequest } from '../schemas.js';
import type { ImageInputs } from '../../images/image-inputs.js';
import { findSampler } from '../../pipeline/schedulers/samplers.js';
import type { ModelRegistry } from '../../models/model-registry.js';
import { a1111Field, invalid } from './a1111-errors.js';
import { invertMask, toDataUrl } from './a1111-images.js';
import type { GenerateBody } from './a1111-schemas.js';
import type { ApiJobKind } from './api-jobs.js';
import { matchModel, type A1111Options } from './options-store.js';

export interface RequestDeps {
  options: A1111Options;
  images: ImageInputs;
  registry: ModelRegistry;
}

/** Old names carry the schedule ("DPM++ 2M Karras"); since v1.9 clients send "DPM++ 2M" plus scheduler "Karras". */
export function samplerFor(name: string, scheduler: string | null | undefined): string {
  if (scheduler?.trim().toLowerCase() === 'karras') {
    const karras = findSampler(`${name.trim()} Karras`);
    if (karras) return karras.id;
  }
  // Other schedule types (Automatic, Uniform, ...) leave the sampler's own schedule, which is A1111's Automatic.
  return name;
}

// A1111 makes latents of width // 8, so any width works there and the image comes out a multiple of 8 wide.
const toMultipleOf8 = (value: number | null | undefined) => (value == null ? undefined : Math.floor(value / 8) * 8);

async function modelFor(name: unknown, deps: RequestDeps): Promise<string | undefined> {
  if (typeof name !== 'string' || !name.trim()) return deps.options.defaultModel();
  const models = (await deps.registry.list()).filter((m) => m.ready);
  // An unknown name goes on as given, so resolveJob refuses it with the list of installed models.
  return matchModel(models, name)?.id ?? name;
}

async function imageInputs(body: GenerateBody, deps: RequestDeps): Promise<Partial<JobRequest>> {
  const first = body.init_images?.[0];
  if (!first) throw new AppError(404, 'EASEL_ERR_IMAGE_NOT_FOUND', 'Init image not found: img2img needs init_images');
  const initImage = await deps.images.resolve(toDataUrl(first, 'init_images'), 'init_images');
  const strength = body.denoising_strength ?? 0.75;
  if (!body.mask) return { initImage, strength };
  const mask = body.inpainting_mask_invert ? await invertMask(body.mask, 'mask') : toDataUrl(body.mask, 'mask');
  return { initImage, strength, mask: await deps.images.resolve(mask, 'mask') };
}

export async function toJobRequest(body: GenerateBody, kind: ApiJobKind, deps: RequestDeps): Promise<JobRequest> {
  const overrides = (body.override_settings ?? {}) as Record<string, unknown>;
  // Easel has no scripts (/scripts lists none); A1111 refuses a script it does not have the same way.
  const script = body.script_name || Object.keys(body.alwayson_scripts ?? {})[0];
  if (script) throw invalid(`Script '${script}' not found: Easel runs no A1111 scripts or extensions`, body.script_name ? 'script_name' : 'alwayson_scripts');
  const prompt = body.prompt ?? '';
  if (!prompt.trim()) throw invalid('prompt must not be empty: Easel needs a prompt to queue a job', 'prompt');

  const model = await modelFor(overrides.sd_model_checkpoint, deps);
  const fields: Partial<JobRequest> = {
    prompt,
    negativePrompt: body.negative_prompt ?? '',
    model,
    sampler: samplerFor(body.sampler_name || body.sampler_index || 'Euler', body.scheduler),
    steps: body.steps ?? 50,
    cfgScale: body.cfg_scale ?? 7,
    width: toMultipleOf8(body.width ?? 512),
    height: toMultipleOf8(body.height ?? 512),
    seed: body.seed ?? -1,
    count: (body.batch_size ?? 1) * (body.n_iter ?? 1),
    ...deps.options.output(overrides),
    ...(kind === 'img2img' ? await imageInputs(body, deps) : {}),
  };
  const request = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as JobRequest;
  const error = Value.Errors(JobRequest, request).First();
  if (error) {
    const field = error.path.replace(/^\//, '');
    throw invalid(`${a1111Field(field)}: ${error.message}`, field);
  }
  // With restore_afterwards off, A1111 keeps the overrides as its settings.
  if (body.override_settings_restore_afterwards === false) await deps.options.set(overrides);
  return request;
}
