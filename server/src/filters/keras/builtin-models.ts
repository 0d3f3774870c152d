// The built-in filter models: trained Keras weights that ship inside npm packages (MIT), converted to ONNX on first
// use into `<models>/.builtin/<name>.onnx` and reused after that. No network is ever needed.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { encodeModel } from '../../convert/onnx-proto.js';
import { kerasToOnnx } from './keras-to-onnx.js';
import { readWeights, type TfjsModelJson } from './tfjs-artifacts.js';

export const BUILTIN_MODELS = ['esrgan-slim-x2', 'esrgan-slim-x3', 'esrgan-slim-x4', 'nsfwjs-mobilenet-v2'] as const;
export type BuiltinModel = (typeof BUILTIN_MODELS)[number];

/** Bump when the converter's output changes, so cached conversions are redone. */
const CONVERTER_VERSION = 2;

const require = createRequire(import.meta.url);

/** A package's root folder, found from its main entry (their `exports` maps hide package.json and the weights). */
export function packageRoot(name: string): string {
  let dir = dirname(require.resolve(name));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file) && (JSON.parse(readFileSync(file, 'utf8')) as { name?: string }).name === name) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find the folder of package ${name}`);
    dir = up;
  }
}

function packageVersion(root: string): string {
  return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
}

export interface TfjsArtifacts {
  json: TfjsModelJson;
  shards: Uint8Array[];
  /** `package@version`, recorded next to the converted model. */
  source: string;
}

/** The model.json and weight shards of a built-in model, straight from its npm package. */
export async function builtinArtifacts(model: BuiltinModel): Promise<TfjsArtifacts> {
  if (model === 'nsfwjs-mobilenet-v2') {
    // nsfwjs bundles model.json and each shard as UMD scripts (the JSON object, and the shard as base64).
    const root = packageRoot('nsfwjs');
    const dir = join(root, 'dist', 'models', 'mobilenet_v2');
    const loaded = require(join(dir, 'model.min.js')) as TfjsModelJson | { default: TfjsModelJson };
    const json = 'default' in loaded ? loaded.default : loaded;
    const shards = json.weightsManifest.flatMap((g) => g.paths).map((path) => {
      const base64 = require(join(dir, `${path}.min.js`)) as string | { default: string };
      return new Uint8Array(Buffer.from(typeof base64 === 'string' ? base64 : base64.default, 'base64'));
    });
    return { json, shards, source: `nsfwjs@${packageVersion(root)}` };
  }
  const root = packageRoot('@upscalerjs/esrgan-slim');
  const dir = join(root, 'models', `x${model.slice(-1)}`);
  const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as TfjsModelJson;
  const shards = await Promise.all(json.weightsManifest.flatMap((g) => g.paths).map(async (p) => new Uint8Array(await readFile(join(dir, p)))));
  return { json, shards, source: `@upscalerjs/esrgan-slim@${packageVersion(root)}` };
}

/** Converts a built-in model to ONNX bytes. */
export async function convertBuiltin(model: BuiltinModel): Promise<{ bytes: Uint8Array; source: string }> {
  const { json, shards, source } = await builtinArtifacts(model);
  const onnx = kerasToOnnx(json, readWeights(json, shards), { name: model });
  return { bytes: encodeModel(onnx), source };
}

const pending = new Map<string, Promise<string>>();

/**
 * The path of a built-in model's ONNX file, converting it first when it is missing or was made by another
 * converter or package version. Falls back to a temp folder when the model store is read-only.
 */
export function builtinModelPath(model: BuiltinModel, modelsDir: string): Promise<string> {
  const key = `${modelsDir}\0${model}`;
  let found = pending.get(key);
  if (!found) {
    found = ensureConverted(model, modelsDir).finally(() => pending.delete(key));
    pending.set(key, found);
  }
  return found;
}

async function ensureConverted(model: BuiltinModel, modelsDir: string): Promise<string> {
  for (const dir of [join(modelsDir, '.builtin'), join(tmpdir(), 'easel-builtin')]) {
    const path = join(dir, `${model}.onnx`);
    const stampPath = join(dir, `${model}.json`);
    const stamp = await readFile(stampPath, 'utf8').then((t) => JSON.parse(t) as { converter?: number; source?: string }, () => undefined);
    if (stamp?.converter === CONVERTER_VERSION && existsSync(path)) {
      if (stamp.source === builtinSource(model)) return path;
    }
    try {
      await mkdir(dir, { recursive: true });
      const { bytes, source } = await convertBuiltin(model);
      // Written aside and renamed, so a crash or a second process never sees half a model.
      const temp = `${path}.${process.pid}.tmp`;
      await writeFile(temp, bytes);
      await rename(temp, path);
      await writeFile(stampPath, JSON.stringify({ converter: CONVERTER_VERSION, source }));
      return path;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EACCES' && code !== 'EROFS' && code !== 'EPERM') throw error;
    }
  }
  throw new Error(`cannot write the converted ${model} model anywhere`);
}

function builtinSource(model: BuiltinModel): string {
  const name = model === 'nsfwjs-mobilenet-v2' ? 'nsfwjs' : '@upscalerjs/esrgan-slim';
  return `${name}@${packageVersion(packageRoot(name))}`;
}
