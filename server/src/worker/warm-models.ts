// The render worker's loaded models: loaded lazily on first use and kept warm, so going back to a model costs
// nothing. Before another model loads, the least recently used ones are released while free memory (os.freemem,
// MemAvailable on Linux) is below the new model's size on disk × 1.5: onnxruntime holds the float32 weights once,
// plus its arena and the activations. With plenty of memory several models stay warm; with little, switching means
// one model in memory at a time. A warm model that no longer fits how models should load (low-memory mode was
// switched) is released and loaded again.
import { freemem } from 'node:os';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { recordedPrecision } from '../convert/pipeline-files.js';

export const HEADROOM = 1.5;

export interface WarmModelsOptions<M> {
  load: (id: string, dir: string) => Promise<M>;
  release: (model: M) => Promise<void>;
  freeMemory?: () => number;
  sizeOf?: (dir: string) => Promise<number>;
}

export class WarmModels<M> {
  /** Most recently used last. */
  private readonly models = new Map<string, M>();

  constructor(private readonly opts: WarmModelsOptions<M>) {}

  /** `fits` says whether a warm model can be used as it is; without it, any warm model can. */
  async get(id: string, dir: string, fits: (model: M) => boolean = () => true): Promise<M> {
    const warm = this.models.get(dir);
    if (warm !== undefined) {
      this.models.delete(dir);
      if (fits(warm)) {
        this.models.set(dir, warm);
        return warm;
      }
      await this.opts.release(warm);
    }
    const needed = (await (this.opts.sizeOf ?? folderBytes)(dir)) * HEADROOM;
    const free = this.opts.freeMemory ?? freemem;
    for (const [oldDir, old] of this.models) {
      if (free() >= needed) break;
      this.models.delete(oldDir);
      await this.opts.release(old);
    }
    const model = await this.opts.load(id, dir);
    this.models.set(dir, model);
    return model;
  }

  /** Directories of the loaded models, least recently used first. */
  loaded(): string[] {
    return [...this.models.keys()];
  }

  async releaseAll(): Promise<void> {
    const all = [...this.models.values()];
    this.models.clear();
    for (const model of all) await this.opts.release(model);
  }
}

/**
 * The weights' size once loaded: the files' size, doubled for an fp16 model on the CPU, where onnxruntime turns
 * float16 weights into float32 as it loads them (docs/CONVERT.md).
 */
export async function loadedWeightBytes(dir: string, onCpu: boolean): Promise<number> {
  const bytes = await folderBytes(dir);
  if (!onCpu) return bytes;
  const index = await readFile(join(dir, 'model_index.json'), 'utf8').then((text) => JSON.parse(text) as Record<string, unknown>, () => ({}) as Record<string, unknown>);
  return recordedPrecision(index) === 'fp16' ? bytes * 2 : bytes;
}

/** Bytes of the files under `dir` (the .onnx graphs and their external weights dominate). */
export async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir).catch(() => [])) {
    const path = join(dir, name);
    // stat follows links: component folders linked in from elsewhere count at their real size.
    const info = await stat(path).catch(() => undefined);
    if (info?.isDirectory()) total += await folderBytes(path);
    else total += info?.size ?? 0;
  }
  return total;
}
