// Where each kind of model lives in the store, A1111's folder names included, and how the kinds other than the
// Stable Diffusion ONNX folders (model-registry.ts) are listed: single-network ONNX models (upscalers, face
// restorers, the NSFW classifier, preview decoders) and single-file checkpoints waiting to be imported.
import { readdir, stat } from 'node:fs/promises';
import { extname, join, relative } from 'node:path';
import type { ModelInfo } from '../http/schemas.js';
import { detectCheckpoint } from '../convert/checkpoint-keys.js';
import { SafetensorsFile } from '../convert/safetensors.js';
import { readImportMarks } from './import-marks.js';

export type StoreKind = 'stable-diffusion' | 'upscaler' | 'face-restore' | 'nsfw' | 'vae-approx';

/** Easel's folder first, then the names A1111 (and tools that copy its layout) use for the same thing. */
export const KIND_FOLDERS: Record<StoreKind, readonly string[]> = {
  'stable-diffusion': ['stable-diffusion', 'Stable-diffusion'],
  upscaler: ['upscaler', 'ESRGAN', 'RealESRGAN'],
  'face-restore': ['face-restore', 'GFPGAN', 'Codeformer', 'CodeFormer'],
  nsfw: ['nsfw'],
  'vae-approx': ['vae-approx', 'VAE-approx'],
};

export interface ScannedModel extends ModelInfo {
  /** The model's folder, or its file for single-file models. */
  dir: string;
}

const PYTORCH_EXTENSIONS = new Set(['.pth', '.pt', '.ckpt', '.bin', '.safetensors']);
const CHECKPOINT_EXTENSIONS = new Set(['.safetensors', '.ckpt', '.pt', '.pth']);

/**
 * The folders of a kind that exist. Names are matched exactly against the real directory entries, so on a
 * case-insensitive disk, where "stable-diffusion" and A1111's "Stable-diffusion" are one folder, it is listed once.
 */
export async function kindFolders(modelsDir: string, kind: StoreKind): Promise<string[]> {
  const entries = await readdir(modelsDir, { withFileTypes: true }).catch(() => []);
  const names = new Set(entries.map((e) => e.name));
  const seen = new Set<string>();
  const out: string[] = [];
  for (const name of KIND_FOLDERS[kind]) {
    if (!names.has(name)) continue;
    const info = await stat(join(modelsDir, name)).catch(() => undefined);
    if (!info?.isDirectory()) continue;
    const key = `${info.dev}:${info.ino}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(join(modelsDir, name));
  }
  return out;
}

/** Visible entries of a folder (links followed), as [name, isDirectory]. */
export async function visibleEntries(dir: string): Promise<[string, boolean][]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const out: [string, boolean][] = [];
  for (const e of entries.filter((e) => !e.name.startsWith('.')).sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.isDirectory()) out.push([e.name, true]);
    else if (e.isFile()) out.push([e.name, false]);
    else if (e.isSymbolicLink()) {
      const target = await stat(join(dir, e.name)).catch(() => undefined);
      if (target) out.push([e.name, target.isDirectory()]);
    }
  }
  return out;
}

/** Upscalers, face restorers, classifiers, preview decoders: a folder holding .onnx file(s), or one loose file. */
export async function listSingleNetworkModels(modelsDir: string, kind: Exclude<StoreKind, 'stable-diffusion'>): Promise<ScannedModel[]> {
  const models = new Map<string, ScannedModel>();
  for (const folder of await kindFolders(modelsDir, kind)) {
    for (const [name, isDir] of await visibleEntries(folder)) {
      const path = join(folder, name);
      const model = isDir ? await describeFolder(path, name, kind) : await describeFile(path, name, kind);
      if (model && !models.has(model.id)) models.set(model.id, model);
    }
  }
  return [...models.values()];
}

async function describeFolder(dir: string, name: string, kind: string): Promise<ScannedModel | undefined> {
  const files = await filesUnder(dir, 2);
  const onnx = files.filter((f) => f.path.endsWith('.onnx')).map((f) => relative(dir, f.path).split('\\').join('/'));
  const sizeBytes = files.reduce((n, f) => n + f.size, 0);
  if (onnx.length === 0) {
    const pytorch = files.some((f) => PYTORCH_EXTENSIONS.has(extname(f.path).toLowerCase()));
    if (!pytorch) return undefined;
    return { id: name, name, family: 'unknown', kind, sizeBytes, ready: false, components: [], format: 'pytorch', path: dir, dir, problem: PYTORCH_PROBLEM };
  }
  return { id: name, name, family: 'unknown', kind, sizeBytes, ready: true, components: onnx, format: 'onnx', path: dir, dir };
}

async function describeFile(path: string, name: string, kind: string): Promise<ScannedModel | undefined> {
  const ext = extname(name).toLowerCase();
  const size = (await stat(path)).size;
  const id = name.slice(0, name.length - ext.length);
  if (ext === '.onnx') return { id, name: id, family: 'unknown', kind, sizeBytes: size, ready: true, components: [name], format: 'onnx', path, dir: path };
  if (!PYTORCH_EXTENSIONS.has(ext)) return undefined;
  return { id, name: id, family: 'unknown', kind, sizeBytes: size, ready: false, components: [], format: 'pytorch', path, dir: path, problem: PYTORCH_PROBLEM };
}

const PYTORCH_PROBLEM =
  'PyTorch weights (the format A1111 uses): Easel runs ONNX models. Download the ONNX version from the catalog, or put an .onnx export here';

/** Single-file checkpoints in the Stable Diffusion folders, with what the header says and whether Easel imported them. */
export async function listCheckpoints(modelsDir: string): Promise<ScannedModel[]> {
  const out: ScannedModel[] = [];
  for (const folder of await kindFolders(modelsDir, 'stable-diffusion')) {
    const marks = await readImportMarks(folder);
    for (const [name, isDir] of await visibleEntries(folder)) {
      const ext = extname(name).toLowerCase();
      if (isDir || !CHECKPOINT_EXTENSIONS.has(ext)) continue;
      const path = join(folder, name);
      const info = await stat(path);
      const { family, problem } = ext === '.safetensors' ? inspectCheckpoint(path, info.size, info.mtimeMs) : { family: 'unknown', problem: PICKLE_PROBLEM };
      const mark = marks[name];
      const current = mark && mark.size === info.size && mark.mtimeMs === info.mtimeMs ? mark : undefined;
      out.push({
        id: name, name: name.slice(0, name.length - ext.length), family, kind: 'checkpoint', sizeBytes: info.size, ready: false,
        components: [], format: 'checkpoint', path, dir: path,
        ...(problem ? { problem } : current?.state === 'failed' ? { problem: current.error ?? 'the last import failed' } : {}),
        ...(current?.modelId ? { importedAs: current.modelId } : {}),
      });
    }
  }
  return out;
}

const PICKLE_PROBLEM =
  'a PyTorch pickle checkpoint: Easel reads only .safetensors (a pickle can run code when loaded); use the model\'s .safetensors download';

// Reading a header costs a few hundred KB; listing happens on every page load, so results are kept per file version.
const inspected = new Map<string, { key: string; family: string; problem?: string }>();

function inspectCheckpoint(path: string, size: number, mtimeMs: number): { family: string; problem?: string } {
  const key = `${size}:${mtimeMs}`;
  const cached = inspected.get(path);
  if (cached?.key === key) return cached;
  let result: { family: string; problem?: string };
  try {
    const file = SafetensorsFile.open(path);
    try {
      const info = detectCheckpoint(file.names(), (n) => (file.has(n) ? file.entry(n).shape : undefined));
      result = { family: info.inpainting ? `${info.family}-inpainting` : info.family };
    } finally {
      file.close();
    }
  } catch (error) {
    result = { family: 'unknown', problem: (error as Error).message };
  }
  inspected.set(path, { key, ...result });
  return result;
}

async function filesUnder(dir: string, depth: number): Promise<{ path: string; size: number }[]> {
  const out: { path: string; size: number }[] = [];
  for (const [name, isDir] of await visibleEntries(dir)) {
    const path = join(dir, name);
    if (isDir) {
      if (depth > 1) out.push(...(await filesUnder(path, depth - 1)));
    } else out.push({ path, size: (await stat(path)).size });
  }
  return out;
}
