// What filters and filter models this install can run: the built-ins always, catalog models when their folder
// holds a model.onnx (the NSFW ViT among them), and face restoration / watermarking when their modules are part of
// the build. Plain file checks only, so the main thread can answer without loading onnxruntime.
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

/** The NSFW classifiers Easel knows the tensor contract of: the built-in, and the catalog's ViT (nsfw-vit.ts). */
export const NSFW_CLASSIFIERS = ['nsfwjs', 'nsfw-marqo-384'] as const;
export type NsfwClassifier = (typeof NSFW_CLASSIFIERS)[number];
export const VIT_NSFW_CLASSIFIER: NsfwClassifier = 'nsfw-marqo-384';
/** The owner's choice (server settings): `auto` is the ViT when installed, else the built-in. */
export const NSFW_MODEL_CHOICES = ['auto', ...NSFW_CLASSIFIERS] as const;
export type NsfwModelChoice = (typeof NSFW_MODEL_CHOICES)[number];

type CatalogKind = 'upscaler' | 'face-restore' | 'nsfw';

export const catalogModelPath = (modelsDir: string, kind: CatalogKind, id: string): string => join(modelsDir, kind, id, 'model.onnx');

/** Installed catalog-style models of one kind: folders `<models>/<kind>/<id>/` holding a model.onnx. */
export async function installedModels(modelsDir: string, kind: CatalogKind): Promise<FilterModelInfo[]> {
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

/** The built-in classifier, then the catalog ones installed whose contract Easel knows. */
export async function installedNsfwClassifiers(modelsDir: string): Promise<FilterModelInfo[]> {
  const known = (await installedModels(modelsDir, 'nsfw')).filter((m) => (NSFW_CLASSIFIERS as readonly string[]).includes(m.id));
  return [...BUILTIN_NSFW, ...known];
}

/** The classifier a job's NSFW check uses under the owner's choice; a chosen model that was removed falls back to the built-in. */
export function nsfwClassifierFor(choice: NsfwModelChoice, modelsDir: string): NsfwClassifier {
  if (choice === 'nsfwjs') return 'nsfwjs';
  const wanted = choice === 'auto' ? VIT_NSFW_CLASSIFIER : choice;
  return existsSync(catalogModelPath(modelsDir, 'nsfw', wanted)) ? wanted : 'nsfwjs';
}

export async function availableFilters(modelsDir: string): Promise<AvailableFilters> {
  return {
    upscalers: [...BUILTIN_UPSCALERS, ...(await installedModels(modelsDir, 'upscaler'))],
    faceRestorers: await installedFaceRestorers(modelsDir),
    nsfw: await installedNsfwClassifiers(modelsDir),
    watermark: filterModuleExists('watermark'),
    upscaleFactors: [...UPSCALE_FACTORS],
    defaultWatermarkText: DEFAULT_WATERMARK_TEXT,
  };
}
