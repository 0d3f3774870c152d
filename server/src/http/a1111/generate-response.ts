// A finished job → A1111's `{ images, parameters, info }`: bare base64 images, the request echoed with A1111's
// defaults filled in, and `info` as a JSON *string* (clients json.loads it), keyed as A1111's Processed.js().
import { readFile } from 'node:fs/promises';
import { AppError } from '../errors.js';
import type { JobView } from '../schemas.js';
import type { ImageInputs } from '../../images/image-inputs.js';
import { formatInfotext } from '../../images/infotext.js';
import { readImageText } from '../../images/metadata-parse.js';
import { findSampler } from '../../pipeline/schedulers/samplers.js';
import { IMG2IMG_DEFAULTS, TXT2IMG_DEFAULTS, type GenerateBody } from './a1111-schemas.js';
import type { ApiJobKind } from './api-jobs.js';

export interface GenerateResponse {
  images: string[];
  parameters: Record<string, unknown>;
  info: string;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** A1111's job_timestamp: local time as YYYYMMDDhhmmss. */
export function jobTimestamp(iso: string | null): string {
  if (!iso) return '0';
  const d = new Date(iso);
  return `${d.getFullYear()}${pad(d.getMonth() + 1)}${pad(d.getDate())}${pad(d.getHours())}${pad(d.getMinutes())}${pad(d.getSeconds())}`;
}

function echo(body: GenerateBody, kind: ApiJobKind): Record<string, unknown> {
  const defaults: Record<string, unknown> = kind === 'txt2img' ? TXT2IMG_DEFAULTS : IMG2IMG_DEFAULTS;
  const given = body as Record<string, unknown>;
  const parameters = Object.fromEntries(Object.keys(defaults).map((k) => [k, k in given ? given[k] : defaults[k]]));
  if (kind === 'img2img' && !body.include_init_images) {
    parameters.init_images = null;
    parameters.mask = null;
  }
  return parameters;
}

/** `saved[i]` is image i's own infotext, read from its file (filters add their entries there, the NSFW check's too). */
function info(view: JobView, body: GenerateBody, kind: ApiJobKind, version: string, saved: (string | undefined)[]): Record<string, unknown> {
  const r = view.request;
  const sampler = findSampler(r.sampler)?.name ?? r.sampler;
  const seeds = Array.from({ length: r.count }, (_, i) => (r.seed + i) % 4_294_967_296);
  const subseed = body.subseed ?? -1;
  // The file's own text; failing that, the same call the worker makes for it.
  const infotexts = view.images.map((image, i) => saved[i] ?? formatInfotext({ ...r, seed: image.seed, sampler, version }));
  return {
    prompt: r.prompt,
    all_prompts: seeds.map(() => r.prompt),
    negative_prompt: r.negativePrompt,
    all_negative_prompts: seeds.map(() => r.negativePrompt),
    seed: r.seed,
    all_seeds: seeds,
    subseed,
    all_subseeds: seeds.map((_, i) => (subseed >= 0 ? subseed + i : -1)),
    subseed_strength: 0,
    width: r.width,
    height: r.height,
    sampler_name: sampler,
    cfg_scale: r.cfgScale,
    steps: r.steps,
    batch_size: body.batch_size ?? 1,
    restore_faces: false,
    face_restoration_model: null,
    sd_model_name: r.model,
    sd_model_hash: null,
    sd_vae_name: null,
    sd_vae_hash: null,
    seed_resize_from_w: -1,
    seed_resize_from_h: -1,
    denoising_strength: kind === 'img2img' ? (r.strength ?? null) : (body.denoising_strength ?? null),
    extra_generation_params: {},
    index_of_first_image: 0,
    infotexts,
    styles: body.styles ?? [],
    job_timestamp: jobTimestamp(view.startedAt),
    clip_skip: 1,
    is_using_inpainting_conditioning: false,
    version: `Easel ${version}`,
  };
}

export async function buildResponse(
  view: JobView,
  body: GenerateBody,
  kind: ApiJobKind,
  deps: { images: ImageInputs; version: string },
): Promise<GenerateResponse> {
  if (view.state === 'failed') {
    throw new AppError(500, view.error?.code ?? 'EASEL_ERR_RENDER', view.error?.message ?? 'the job failed');
  }
  const images: string[] = [];
  const infotexts: (string | undefined)[] = [];
  for (const image of view.images) {
    const found = await deps.images.find(image.id);
    const bytes = found && (await readFile(found.file));
    infotexts.push(bytes ? readImageText(bytes).parameters : undefined);
    if (bytes && body.send_images !== false) images.push(bytes.toString('base64'));
  }
  return { images, parameters: echo(body, kind), info: JSON.stringify(info(view, body, kind, deps.version, infotexts)) };
}
