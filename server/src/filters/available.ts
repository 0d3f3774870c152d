// What filters and filter models this install can run: the built-ins always, catalog models when their folder
// holds a model.onnx, and face restoration / watermarking when their modules are part of the build. Plain file
// checks only, so the main thread can answer without loading onnxruntime.
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { loadCatalog } from '../models/catalog.js';

export const DEFAULT_UPSCALER = 'esrgan-slim';
export const UPSCALE_FACTORS = [2, 3, 4] as const;
export type UpscaleFactor = (typeof UPSCALE_FACTORS)[number];

/** The watermark text the Stable Diffusion reference scripts embed. */
export const DEFAULT_WATERMARK_TEXT = 'StableDiffusionV1';

export interface FilterModelInfo {
  id: string;
  name: string;
  builtin: boolean;
  /** The licence's name; built-ins are MIT (their npm packages). */
  licence: string;
  nonCommercial: boolean;
}

export interface AvailableFilters {
  upscalers: FilterModelInfo[];
  faceRestorers: FilterModelInfo[];
  nsfw: FilterModelInfo[];
  watermark: boolean;
  upscaleFactors: number[];
  defaultWatermarkText: string;
}

const BUILTIN_UPSCALERS: FilterModelInfo[] = [
  { id: DEFAULT_UPSCALER, name: 'ESRGAN slim (built-in)', builtin: true, licence: 'MIT', nonCommercial: false },
  { id: 'lanczos', name: 'Lanczos (no model)', builtin: true, licence: 'none', nonCommercial: false },
];
const BUILTIN_NSFW: FilterModelInfo[] = [
  { id: 'nsfwjs', name: 'NSFWJS MobileNetV2 (built-in)', builtin: true, licence: 'MIT', nonCommercial: false },
];

export const catalogModelPath = (modelsDir: string, kind: 'upscaler' | 'face-restore', id: string): string =>
  join(modelsDir, kind, id, 'model.onnx');

/** Installed catalog-style models of one kind: folders `<models>/<kind>/<id>/` holding a model.onnx. */
export async function installedModels(modelsDir: string, kind: 'upscaler' | 'face-restore'): Promise<FilterModelInfo[]> {
  const entries = await readdir(join(modelsDir, kind), { withFileTypes: true }).catch(() => []);
  const ids = entries.filter((e) => !e.name.startsWith('.') && existsSync(catalogModelPath(modelsDir, kind, e.name))).map((e) => e.name).sort();
  if (ids.length === 0) return [];
  const catalog = await loadCatalog().catch(() => undefined);
  return ids.map((id) => {
    const entry = catalog?.models.find((m) => m.id === id && m.kind === kind);
    return { id, name: entry?.name ?? id, builtin: false, licence: entry?.licence.name ?? 'unknown', nonCommercial: entry?.licence.nonCommercial ?? false };
  });
}

/** Whether a filter module another part of the build provides (face-restore, watermark) is present. */
export function filterModuleExists(name: 'face-restore' | 'watermark'): boolean {
  return ['.js', '.ts'].some((ext) => existsSync(new URL(`./${name}${ext}`, import.meta.url)));
}

/** Installed face restorers: none without the face-restore module, which also tells restorers from detectors. */
export async function installedFaceRestorers(modelsDir: string): Promise<FilterModelInfo[]> {
  if (!filterModuleExists('face-restore')) return [];
  const specifier = './face-restore.js';
  const module = (await import(specifier)) as { installedRestorers?: (dir: string) => Promise<string[]> };
  const all = await installedModels(modelsDir, 'face-restore');
  if (!module.installedRestorers) return all;
  const restorers = await module.installedRestorers(modelsDir);
  return restorers.flatMap((id) => all.filter((m) => m.id === id));
}

export async function availableFilters(modelsDir: string): Promise<AvailableFilters> {
  return {
    upscalers: [...BUILTIN_UPSCALERS, ...(await installedModels(modelsDir, 'upscaler'))],
    faceRestorers: await installedFaceRestorers(modelsDir),
    nsfw: BUILTIN_NSFW,
    watermark: filterModuleExists('watermark'),
    upscaleFactors: [...UPSCALE_FACTORS],
    defaultWatermarkText: DEFAULT_WATERMARK_TEXT,
  };
}
