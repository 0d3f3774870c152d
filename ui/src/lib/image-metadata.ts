// Generation settings from a dropped or chosen image, read by the server (POST /api/png-info: PNG text chunks and
// JPEG/WebP EXIF, as Easel, AUTOMATIC1111, ComfyUI and InvokeAI write them). Names stay as the image gives them;
// the form maps model and sampler onto what this server has.
import type { PngInfoResult } from '../../../server/src/http/schemas.js';
import { ApiError, api } from './api.js';
import { dataUrlOf } from './picture-files.js';

export interface ImportedSettings {
  prompt?: string;
  negativePrompt?: string;
  model?: string;
  sampler?: string;
  steps?: number;
  cfgScale?: number;
  width?: number;
  height?: number;
  seed?: number;
  strength?: number;
}

export type MetadataSource = 'Easel' | 'AUTOMATIC1111' | 'InvokeAI' | 'ComfyUI';

export interface ImageMetadata {
  source: MetadataSource;
  settings: ImportedSettings;
}

const SOURCES: Record<NonNullable<PngInfoResult['source']>, MetadataSource> = {
  easel: 'Easel',
  a1111: 'AUTOMATIC1111',
  invokeai: 'InvokeAI',
  comfyui: 'ComfyUI',
};

/** The form's view of the server's answer; null when the image carries no settings it knows. */
export function fromPngInfo(info: PngInfoResult): ImageMetadata | null {
  if (!info.source) return null;
  const f = info.fields;
  const settings: ImportedSettings = {
    prompt: f.prompt,
    negativePrompt: f.negativePrompt,
    model: f.model,
    // Easel's own id when the server knows the sampler; otherwise the image's name for it, for the form to try.
    sampler: f.sampler ?? f.samplerName,
    steps: f.steps,
    cfgScale: f.cfgScale,
    width: f.width,
    height: f.height,
    seed: f.seed,
    strength: f.strength,
  };
  // "Not in the image" must never overwrite a form value, so undefined fields are dropped.
  const clean = Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined)) as ImportedSettings;
  return Object.keys(clean).length ? { source: SOURCES[info.source], settings: clean } : null;
}

/** Asks the server what settings an image file holds; null when none (or it is not a picture the server reads). */
export async function readImageSettings(file: Blob): Promise<ImageMetadata | null> {
  try {
    return fromPngInfo(await api.pngInfo(await dataUrlOf(file)));
  } catch (error) {
    if (error instanceof ApiError && error.info.code === 'EASEL_ERR_BAD_IMAGE') return null;
    throw error;
  }
}
