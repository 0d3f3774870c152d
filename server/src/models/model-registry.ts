// What is installed: Stable Diffusion models in the diffusers ONNX layout under `<models>/stable-diffusion/<name>/`.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelInfo } from '../http/schemas.js';

export const REQUIRED_COMPONENTS = ['tokenizer', 'text_encoder', 'unet', 'vae_decoder'] as const;

export interface InstalledModel extends ModelInfo {
  dir: string;
}

export class ModelRegistry {
  constructor(readonly modelsDir: string) {}

  get stableDiffusionDir(): string {
    return join(this.modelsDir, 'stable-diffusion');
  }

  /** Scans the store afresh each call, so models dropped in while running show up. */
  async list(): Promise<InstalledModel[]> {
    let names: string[];
    try {
      const entries = await readdir(this.stableDiffusionDir, { withFileTypes: true });
      // Symbolic links count too: people link models in from other tools' folders.
      const dirs = await Promise.all(
        entries.map(async (e) =>
          !e.name.startsWith('.') && (e.isDirectory() || (e.isSymbolicLink() && (await stat(join(this.stableDiffusionDir, e.name)).then((s) => s.isDirectory(), () => false)))),
        ),
      );
      names = entries.filter((_, i) => dirs[i]).map((e) => e.name).sort();
    } catch {
      return [];
    }
    const models = await Promise.all(names.map((name) => this.describe(name)));
    return models.filter((m): m is InstalledModel => m !== undefined);
  }

  async get(id: string): Promise<InstalledModel | undefined> {
    return (await this.list()).find((m) => m.id === id);
  }

  private async describe(name: string): Promise<InstalledModel | undefined> {
    const dir = join(this.stableDiffusionDir, name);
    const index = await readFile(join(dir, 'model_index.json'), 'utf8').then(
      (text) => JSON.parse(text) as Record<string, unknown>,
      () => undefined,
    );
    if (!index) return undefined;
    const present = await Promise.all(
      REQUIRED_COMPONENTS.map((c) => stat(join(dir, c)).then((s) => s.isDirectory(), () => false)),
    );
    return {
      id: name,
      name,
      family: await detectFamily(dir),
      kind: 'stable-diffusion',
      sizeBytes: await folderSize(dir),
      ready: present.every(Boolean),
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
