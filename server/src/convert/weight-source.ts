// Weight sources over .safetensors files: a single-file original-layout checkpoint (names mapped to diffusers
// ones by checkpoint-keys.ts), or a diffusers folder (text_encoder/, unet/, vae/ with safetensors per component).
// Shapes come from the headers; values are read by byte range only when the ONNX writer asks for them.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { mapCheckpointKey, modernDiffusersName } from './checkpoint-keys.js';
import type { CheckpointInfo, Component, LayoutSizes } from './checkpoint-keys.js';
import type { WeightSource } from './graph-builder.js';
import { SafetensorsFile } from './safetensors.js';

interface TensorRef {
  file: SafetensorsFile;
  key: string;
  /** A third of the rows of a fused q/k/v tensor. */
  third?: 0 | 1 | 2;
}

/** One component's parameters, by diffusers name. */
export class MappedWeights implements WeightSource {
  constructor(
    readonly component: Component,
    private readonly refs: ReadonlyMap<string, TensorRef>,
  ) {}

  /** Every parameter name this source holds. */
  names(): string[] {
    return [...this.refs.keys()];
  }

  shape(name: string): readonly number[] | undefined {
    const ref = this.refs.get(name);
    if (!ref) return undefined;
    const shape = ref.file.entry(ref.key).shape;
    if (ref.third === undefined) return shape;
    if (shape[0] % 3 !== 0) throw new Error(`${ref.key}: fused q/k/v with ${shape[0]} rows does not split in three`);
    return [shape[0] / 3, ...shape.slice(1)];
  }

  read(name: string): Float32Array {
    const ref = this.refs.get(name);
    if (!ref) throw new Error(`${this.component}: no weight "${name}"`);
    if (ref.third === undefined) return ref.file.readFloat32(ref.key);
    // Rows are contiguous, so a third of them is one byte range.
    const count = ref.file.entry(ref.key).shape.reduce((n, d) => n * d, 1) / 3;
    return ref.file.readFloat32(ref.key, ref.third * count, count);
  }
}

export interface WeightSet {
  textEncoder: MappedWeights;
  unet: MappedWeights;
  vae: MappedWeights;
  close(): void;
}

/** Diffusers-named weights of an original-layout single-file checkpoint (already opened and detected). */
export function checkpointWeights(file: SafetensorsFile, info: CheckpointInfo, sizes: LayoutSizes): WeightSet {
  const maps: Record<Component, Map<string, TensorRef>> = { text_encoder: new Map(), unet: new Map(), vae: new Map() };
  for (const key of file.names()) {
    for (const target of mapCheckpointKey(key, info, sizes)) {
      maps[target.component].set(target.name, { file, key, third: target.third });
    }
  }
  return {
    textEncoder: new MappedWeights('text_encoder', maps.text_encoder),
    unet: new MappedWeights('unet', maps.unet),
    vae: new MappedWeights('vae', maps.vae),
    close: () => file.close(),
  };
}

const FOLDERS: Record<Component, string> = { text_encoder: 'text_encoder', unet: 'unet', vae: 'vae' };

/** Weights of a diffusers folder: <dir>/{text_encoder,unet,vae}/*.safetensors (full precision preferred). */
export function diffusersFolderWeights(dir: string): WeightSet {
  const opened: SafetensorsFile[] = [];
  try {
    const load = (component: Component): MappedWeights => {
      const folder = join(dir, FOLDERS[component]);
      const refs = new Map<string, TensorRef>();
      for (const path of componentFiles(folder)) {
        const file = SafetensorsFile.open(path);
        opened.push(file);
        for (const key of file.names()) refs.set(key, { file, key });
      }
      // Older folders name the VAE attention projections query/key/value/proj_attn.
      for (const [key, ref] of [...refs]) {
        const modern = modernDiffusersName(key);
        if (modern && !refs.has(modern)) {
          refs.set(modern, ref);
          refs.delete(key);
        }
      }
      return new MappedWeights(component, refs);
    };
    const set = { textEncoder: load('text_encoder'), unet: load('unet'), vae: load('vae') };
    return { ...set, close: () => opened.forEach((f) => f.close()) };
  } catch (err) {
    opened.forEach((f) => f.close());
    throw err;
  }
}

/** The safetensors file(s) of one component folder: the full-precision file, else a variant, else shards. */
function componentFiles(folder: string): string[] {
  if (!existsSync(folder)) throw new Error(`missing folder ${folder}`);
  const names = readdirSync(folder);
  const weights = names.filter((n) => n.endsWith('.safetensors')).sort();
  if (weights.length === 0) {
    const pickled = names.filter((n) => n.endsWith('.bin') || n.endsWith('.ckpt') || n.endsWith('.pt'));
    if (pickled.length > 0) {
      throw new Error(
        `${folder} holds only PyTorch pickle weights (${pickled.join(', ')}); pickles can run code when loaded, so ` +
          'Easel reads .safetensors only: re-save the model with safetensors (diffusers: save_pretrained(..., ' +
          'safe_serialization=True))',
      );
    }
    throw new Error(`${folder} has no .safetensors weights`);
  }
  // model.safetensors / diffusion_pytorch_model.safetensors, else a variant such as .fp16.safetensors.
  const plain = weights.filter((n) => /^(model|diffusion_pytorch_model)\.safetensors$/.test(n));
  if (plain.length > 0) return plain.map((n) => join(folder, n));
  const shards = weights.filter((n) => /-\d+-of-\d+\.safetensors$/.test(n) && !/\.(fp16|bf16)/.test(n));
  if (shards.length > 0) return shards.map((n) => join(folder, n));
  for (const variant of ['fp16', 'bf16']) {
    const picked = weights.filter((n) => n.includes(`.${variant}.`) || n.includes(`.${variant}-`));
    if (picked.length > 0) return picked.map((n) => join(folder, n));
  }
  return weights.map((n) => join(folder, n));
}
