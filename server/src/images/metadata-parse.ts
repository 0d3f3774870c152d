// Reads the generation settings other tools (and Easel) leave in an image: PNG text chunks (tEXt, zTXt, iTXt),
// EXIF UserComment in JPEG and WebP, A1111 infotext (interop.md §2.2), Easel's own `easel` JSON, InvokeAI's
// `invokeai_metadata` (and the older `sd-metadata`), and ComfyUI's `prompt` / `workflow` graphs. The fields are named
// as in Easel's JobRequest; a sampler is mapped to Easel's id when Easel has it.
import { findSampler } from '../pipeline/schedulers/samplers.js';
import { fieldsFromComfyPrompt, fieldsFromComfyWorkflow } from './comfy-metadata.js';
import { extractExif } from './exif-container.js';
import { readExifText } from './exif.js';
import { readPngText } from './png-text.js';

export interface ParsedFields {
  prompt?: string | undefined;
  negativePrompt?: string | undefined;
  steps?: number | undefined;
  /** Easel's sampler id, when the image's sampler is one Easel has. */
  sampler?: string | undefined;
  /** The sampler as the image names it. */
  samplerName?: string | undefined;
  cfgScale?: number | undefined;
  seed?: number | undefined;
  width?: number | undefined;
  height?: number | undefined;
  model?: string | undefined;
  /** img2img denoising strength. */
  strength?: number | undefined;
}

export type MetadataSource = 'easel' | 'a1111' | 'invokeai' | 'comfyui';

export interface ImageInfo {
  /** The A1111 infotext, from the PNG `parameters` chunk or EXIF UserComment. */
  parameters: string | null;
  /** Which metadata the fields came from; null when the image carries none Easel reads. */
  source: MetadataSource | null;
  fields: ParsedFields;
  /** The infotext's `Key: value` pairs as written (A1111's parsed dict, with `Size-1`/`Size-2`). */
  params: Record<string, string>;
  /** Every other text entry (PNG chunks, ComfyUI's EXIF tags) by keyword. */
  items: Record<string, string>;
}

/** A1111's parameter-line regex (modules/infotext_utils.py re_param). */
const PARAM = /\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)/g;
const IMAGE_SIZE = /^(\d+)x(\d+)$/;
const NEGATIVE = 'Negative prompt:';

export interface Infotext {
  prompt: string;
  negativePrompt: string;
  params: Record<string, string>;
}

/** A1111's parse_generation_parameters, without its defaults and back-compat fills. */
export function parseInfotext(text: string): Infotext {
  const lines = text.trim().split('\n');
  let last = lines.pop() ?? '';
  if ([...last.matchAll(PARAM)].length < 3) {
    lines.push(last);
    last = '';
  }
  let prompt = '';
  let negativePrompt = '';
  let negative = false;
  for (const raw of lines) {
    let line = raw.trim();
    if (line.startsWith(NEGATIVE)) {
      negative = true;
      line = line.slice(NEGATIVE.length).trim();
    }
    if (negative) negativePrompt += (negativePrompt ? '\n' : '') + line;
    else prompt += (prompt ? '\n' : '') + line;
  }
  const params: Record<string, string> = {};
  for (const match of last.matchAll(PARAM)) {
    const key = match[1] as string;
    let value = match[2] as string;
    if (value.length > 1 && value.startsWith('"') && value.endsWith('"')) value = jsonString(value) ?? value;
    const size = IMAGE_SIZE.exec(value);
    if (size) {
      params[`${key}-1`] = size[1] as string;
      params[`${key}-2`] = size[2] as string;
    } else {
      params[key] = value;
    }
  }
  return { prompt, negativePrompt, params };
}

/** The text entries of a PNG, or of a JPEG/WebP's EXIF (UserComment as `parameters`, ComfyUI's `key:json` tags). */
export function readImageText(bytes: Uint8Array): Record<string, string> {
  if (bytes[0] === 0x89 && bytes[1] === 0x50) return readPngText(bytes);
  const exif = extractExif(bytes);
  if (!exif) return {};
  const tags = readExifText(exif);
  const out: Record<string, string> = {};
  if (tags.userComment) out.parameters = tags.userComment;
  for (const value of [tags.imageDescription, tags.make, tags.model]) {
    const keyed = value && /^(\w+):([[{][\s\S]*)$/.exec(value);
    if (keyed) out[keyed[1] as string] = keyed[2] as string;
  }
  return out;
}

export function parseImageMetadata(bytes: Uint8Array): ImageInfo {
  const text = readImageText(bytes);
  const { parameters = null, ...items } = text;
  const infotext = parameters === null ? undefined : parseInfotext(parameters);
  const readers: [MetadataSource, () => ParsedFields | null][] = [
    ['easel', () => fromEasel(json(text.easel))],
    ['a1111', () => (infotext ? fromInfotext(infotext) : null)],
    ['invokeai', () => fromInvoke(json(text.invokeai_metadata)) ?? fromOldInvoke(json(text['sd-metadata']))],
    ['comfyui', () => fieldsFromComfyPrompt(json(text.prompt)) ?? fieldsFromComfyWorkflow(json(text.workflow))],
  ];
  for (const [source, read] of readers) {
    const fields = read();
    if (fields && Object.values(fields).some((v) => v !== undefined)) {
      return { parameters, source, fields: withSampler(fields), params: infotext?.params ?? {}, items };
    }
  }
  return { parameters, source: null, fields: {}, params: infotext?.params ?? {}, items };
}

function fromInfotext({ prompt, negativePrompt, params }: Infotext): ParsedFields {
  // A1111 1.9+ writes "Sampler: DPM++ 2M, Schedule type: Karras" for what older versions (and Easel) call one name.
  const sampler = params['Sampler'];
  const schedule = params['Schedule type'];
  const joined = sampler && schedule && !/^automatic$/i.test(schedule) ? `${sampler} ${schedule}` : undefined;
  return {
    prompt,
    negativePrompt,
    steps: int(params['Steps']),
    samplerName: joined && findSampler(joined) ? joined : sampler,
    cfgScale: num(params['CFG scale']),
    seed: int(params['Seed']),
    width: int(params['Size-1']),
    height: int(params['Size-2']),
    model: params['Model'],
    strength: num(params['Denoising strength']),
  };
}

function fromEasel(request: Record<string, unknown> | undefined): ParsedFields | null {
  if (!request || typeof request.prompt !== 'string') return null;
  return {
    prompt: request.prompt,
    negativePrompt: str(request.negativePrompt),
    steps: num(request.steps),
    samplerName: str(request.sampler),
    cfgScale: num(request.cfgScale),
    seed: num(request.seed),
    width: num(request.width),
    height: num(request.height),
    model: str(request.model),
    strength: num(request.strength),
  };
}

/** InvokeAI scheduler names: `_k` means Karras sigmas, as A1111's " Karras" suffix. */
function invokeSampler(name: string | undefined): string | undefined {
  return name?.endsWith('_k') ? `${name.slice(0, -2)}_karras` : name;
}

function fromInvoke(meta: Record<string, unknown> | undefined): ParsedFields | null {
  if (!meta) return null;
  const model = meta.model as Record<string, unknown> | string | undefined;
  return {
    prompt: str(meta.positive_prompt),
    negativePrompt: str(meta.negative_prompt),
    steps: num(meta.steps),
    samplerName: invokeSampler(str(meta.scheduler)),
    cfgScale: num(meta.cfg_scale),
    seed: num(meta.seed),
    width: num(meta.width),
    height: num(meta.height),
    model: typeof model === 'string' ? model : str(model?.name) ?? str(model?.model_name),
    strength: num(meta.strength),
  };
}

/** InvokeAI 2.x `sd-metadata`: `{ model_weights, image: { prompt: [{ prompt, weight }], steps, cfg_scale, … } }`. */
function fromOldInvoke(meta: Record<string, unknown> | undefined): ParsedFields | null {
  const image = meta?.image as Record<string, unknown> | undefined;
  if (!meta || !image) return null;
  const prompt = Array.isArray(image.prompt) ? str((image.prompt[0] as Record<string, unknown> | undefined)?.prompt) : str(image.prompt);
  return {
    prompt,
    steps: num(image.steps),
    samplerName: str(image.sampler),
    cfgScale: num(image.cfg_scale),
    seed: num(image.seed),
    width: num(image.width),
    height: num(image.height),
    model: str(meta.model_weights),
    strength: num(image.strength),
  };
}

/** Drops absent fields and adds Easel's sampler id when the named sampler is one Easel has (id, A1111 name or alias). */
function withSampler(fields: ParsedFields): ParsedFields {
  const out = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as ParsedFields;
  const name = out.samplerName;
  const found = name && (findSampler(name) ?? findSampler(name.replace(/_/g, '')) ?? findSampler(name.replace(/_/g, ' ')));
  return found ? { ...out, sampler: found.id } : out;
}

function json(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function jsonString(quoted: string): string | undefined {
  try {
    const value: unknown = JSON.parse(quoted);
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function num(v: unknown): number | undefined {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
}

function int(v: unknown): number | undefined {
  const n = num(v);
  return n !== undefined && Number.isInteger(n) ? n : undefined;
}
