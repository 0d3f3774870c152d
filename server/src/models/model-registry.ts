// What is installed: Stable Diffusion models in the diffusers ONNX layout under `<models>/stable-diffusion/<name>/`
// (and A1111's `Stable-diffusion/`), plus, by kind, upscalers, face restorers and the rest (model-scan.ts).
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelInfo } from '../http/schemas.js';
import { recordedPrecision } from '../convert/pipeline-files.js';
import { kindFolders, listCheckpoints, listSingleNetworkModels, visibleEntries, type StoreKind } from './model-scan.js';

export const REQUIRED_COMPONENTS = ['tokenizer', 'text_encoder', 'unet', 'vae_decoder'] as const;
const OPTIONAL_COMPONENTS = ['vae_encoder', 'scheduler'] as const;
/** What `GET /api/models?kind=` can ask for: a store kind, single-file checkpoints, or everything. */
export type ListKind = StoreKind | 'checkpoint' | 'all';

export interface InstalledModel extends ModelInfo {
  dir: string;
}

export class ModelRegistry {
  constructor(readonly modelsDir: string) {}

  get stableDiffusionDir(): string {
    return join(this.modelsDir, 'stable-diffusion');
  }

  /**
   * Stable Diffusion model folders, scanned afresh each call so models dropped in while running show up. Symbolic
   * links count too: people link models in from other tools' folders. A name in both Easel's and A1111's folder is
   * listed once, from Easel's.
   */
  async list(): Promise<InstalledModel[]> {
    const found = new Map<string, string>();
    for (const folder of await kindFolders(this.modelsDir, 'stable-diffusion')) {
      for (const [name, isDir] of await visibleEntries(folder)) if (isDir && !found.has(name)) found.set(name, join(folder, name));
    }
    const names = [...found.keys()].sort();
    const models = await Promise.all(names.map((name) => this.describe(name, found.get(name)!)));
    return models.filter((m): m is InstalledModel => m !== undefined);
  }

  /** Models of one kind, `checkpoint` for single files waiting to be imported, or `all`. */
  async listKind(kind: ListKind): Promise<InstalledModel[]> {
    if (kind === 'stable-diffusion') return this.list();
    if (kind === 'checkpoint') return listCheckpoints(this.modelsDir);
    if (kind === 'all') {
      const kinds = ['stable-diffusion', 'checkpoint', 'upscaler', 'face-restore', 'nsfw', 'vae-approx'] as const;
      return (await Promise.all(kinds.map((k) => this.listKind(k)))).flat();
    }
    return listSingleNetworkModels(this.modelsDir, kind);
  }

  async get(id: string): Promise<InstalledModel | undefined> {
    return (await this.list()).find((m) => m.id === id);
  }

  private async describe(name: string, dir: string): Promise<InstalledModel | undefined> {
    const index = await readFile(join(dir, 'model_index.json'), 'utf8').then(
      (text) => JSON.parse(text) as Record<string, unknown>,
      () => undefined,
    );
    if (!index) return undefined;
    const all = [...REQUIRED_COMPONENTS, ...OPTIONAL_COMPONENTS];
    const present = await Promise.all(all.map((c) => stat(join(dir, c)).then((s) => s.isDirectory(), () => false)));
    const ready = REQUIRED_COMPONENTS.every((_, i) => present[i]);
    const precision = recordedPrecision(index);
    // A diffusers folder of PyTorch-format weights has vae/ where the ONNX layout has vae_decoder/.
    const weightsOnly = !ready && (await stat(join(dir, 'vae')).then((s) => s.isDirectory(), () => false));
    return {
      id: name,
      name,
      family: await detectFamily(dir),
      kind: 'stable-diffusion',
      sizeBytes: await folderSize(dir),
      ready,
      components: all.filter((_, i) => present[i]),
      format: 'onnx',
      path: dir,
      ...(precision ? { precision } : {}),
      ...(ready ? {} : { problem: weightsOnly ? 'a diffusers folder of safetensors weights, not ONNX: import it to convert it' : `incomplete: needs ${REQUIRED_COMPONENTS.join(', ')}` }),
      dir,
    };
  }
}

/** SD 2.x tokenizers pad with "!" (OpenCLIP); SD 1.x pad with the end token. */
async function detectFamily(dir: string): Promise<string> {
  const special = await readFile(join(dir, 'tokenizer', 'special_tokens_map.json'), 'utf8').catch(() => '');
  if (!special) return 'unknown';
  const pad = (JSON.parse(special) as { pad_token?: string | { content?: string } }).pad_token;
  const content = typeof pad === 'string' ? pad : pad?.content;
  return content === '!' ? 'sd2' : 'sd1';
}

async function folderSize(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += await folderSize(path);
    else if (entry.isFile()) total += (await stat(path)).size;
  }
  return total;
}
