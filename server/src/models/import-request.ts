// Checks an import before it is queued, so what can be refused is refused at once with a 4xx rather than as a
// failed event half a minute later: the source exists and is a safetensors checkpoint (or a diffusers folder) of a
// supported family, the model name is free, and the disk has room for the converted model.
import { existsSync, statSync } from 'node:fs';
import { readdir, stat, statfs } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { AppError, badRequest } from '../http/errors.js';
import { detectCheckpoint } from '../convert/checkpoint-keys.js';
import { UnsupportedModelError, refusePickle } from '../convert/import-checkpoint.js';
import { PRECISIONS, type Precision } from '../convert/graph-builder.js';
import { SafetensorsError, SafetensorsFile } from '../convert/safetensors.js';
import { formatBytes } from './download.js';

export interface PreparedImport {
  source: string;
  configDir?: string;
  /** The model id and folder name. */
  name: string;
  outDir: string;
  /** "SD 1.x", … for a single file (read from its header); undefined for a folder until the import runs. */
  description?: string;
  precision: Precision;
}

/** A model name: letters and digits of any script, space, ".", "_", "-", "(", ")", "+"; not starting with a dot. */
const NAME = /^[\p{L}\p{N}_()+-][\p{L}\p{N} ._()+-]*$/u;

/** A usable model name from a file name: disallowed characters become "-". */
export function nameFromFile(file: string, isFolder = false): string {
  const base = (isFolder ? basename(file) : basename(file, extname(file))).replace(/[^\p{L}\p{N} ._()+-]+/gu, '-').replace(/^[ .-]+|[ .-]+$/g, '');
  return base.slice(0, 100) || 'imported-model';
}

export interface PrepareOptions {
  path: string;
  config?: string;
  name?: string;
  /** fp32 (default) or fp16, as the request spelled it: checked here. */
  precision?: string;
  /** Easel's stable-diffusion folder, where the model goes. */
  modelsFolder: string;
  /** Names taken by installed models (any Stable Diffusion folder) or by imports already queued. */
  taken: (name: string) => boolean;
  /** The name to derive from when `name` is absent (an upload's original file name). */
  fileName?: string;
}

export async function prepareImport(opts: PrepareOptions): Promise<PreparedImport> {
  const precision = opts.precision ?? 'fp32';
  if (!isPrecision(precision)) {
    throw badRequest('EASEL_ERR_INVALID', `precision must be ${PRECISIONS.join(' or ')}, got "${precision}"`, 'precision');
  }
  const source = resolve(opts.path);
  const info = await stat(source).catch(() => undefined);
  if (!info) throw badRequest('EASEL_ERR_IMPORT_SOURCE', `${source} does not exist on the server`, 'path');
  let description: string | undefined;
  if (info.isDirectory()) {
    if (!existsSync(join(source, 'unet')) || !existsSync(join(source, 'text_encoder'))) {
      throw badRequest('EASEL_ERR_IMPORT_SOURCE', `${source} is a folder but not a diffusers model (no unet/ and text_encoder/ in it)`, 'path');
    }
  } else {
    description = inspect(source);
  }
  let configDir: string | undefined;
  if (opts.config !== undefined) {
    configDir = resolve(opts.config);
    if (!existsSync(configDir) || !statSync(configDir).isDirectory()) {
      throw badRequest('EASEL_ERR_IMPORT_CONFIG', `the config folder ${configDir} does not exist`, 'config');
    }
  }
  const name = opts.name ?? (opts.fileName ? nameFromFile(opts.fileName) : nameFromFile(source, info.isDirectory()));
  if (!NAME.test(name)) {
    throw badRequest('EASEL_ERR_INVALID', 'name may hold letters, digits, spaces and . _ - ( ) +, and must not start with a dot or space', 'name');
  }
  if (opts.taken(name)) {
    throw new AppError(409, 'EASEL_ERR_MODEL_EXISTS', `a model named "${name}" is already installed or being imported; choose another name`, 'name');
  }
  const outDir = join(opts.modelsFolder, name);
  await ensureRoom(source, opts.modelsFolder, name, precision);
  return { source, configDir, name, outDir, description, precision };
}

function isPrecision(value: string): value is Precision {
  return (PRECISIONS as readonly string[]).includes(value);
}

/** Refuses pickles, non-safetensors files and unsupported families from the header alone. */
function inspect(source: string): string {
  try {
    refusePickle(source);
    if (extname(source).toLowerCase() !== '.safetensors') {
      throw new UnsupportedModelError(`${basename(source)} is not a .safetensors checkpoint`);
    }
    const file = SafetensorsFile.open(source);
    try {
      return detectCheckpoint(file.names(), (n) => (file.has(n) ? file.entry(n).shape : undefined)).description;
    } finally {
      file.close();
    }
  } catch (error) {
    if (error instanceof UnsupportedModelError) throw badRequest('EASEL_ERR_MODEL_UNSUPPORTED', error.message, 'path');
    if (error instanceof SafetensorsError) throw badRequest('EASEL_ERR_IMPORT_INVALID', error.message, 'path');
    throw error;
  }
}

const NETWORK_PREFIXES = ['model.diffusion_model.', 'first_stage_model.', 'cond_stage_model.'];

/** The converted model: about 4 bytes (fp16: 2) per weight the networks use (EMA copies and the like are left out). */
export async function estimateImportBytes(source: string, precision: Precision = 'fp32'): Promise<number> {
  const bytesPerWeight = precision === 'fp16' ? 2 : 4;
  const count = (path: string, keep: (name: string) => boolean): number => {
    const file = SafetensorsFile.open(path);
    try {
      return file.names().filter(keep).reduce((n, k) => n + file.entry(k).shape.reduce((a, b) => a * b, 1), 0);
    } finally {
      file.close();
    }
  };
  if (!statSync(source).isDirectory()) return bytesPerWeight * count(source, (k) => NETWORK_PREFIXES.some((p) => k.startsWith(p)));
  let elements = 0;
  for (const component of ['text_encoder', 'unet', 'vae']) {
    const folder = join(source, component);
    const files = (await readdir(folder).catch(() => [])).filter((f) => f.endsWith('.safetensors'));
    // A folder may hold the same weights twice (full precision and an .fp16 variant); count one set.
    const full = files.filter((f) => !/\.(fp16|bf16)[.-]/.test(f));
    for (const f of full.length > 0 ? full : files) elements += count(join(folder, f), () => true);
  }
  return bytesPerWeight * elements;
}

async function ensureRoom(source: string, folder: string, name: string, precision: Precision): Promise<void> {
  let needed: number;
  try {
    needed = await estimateImportBytes(source, precision);
  } catch {
    return; // the import itself reports an unreadable source properly
  }
  const free = await statfs(existsSync(folder) ? folder : resolve(folder, '..')).then((s) => s.bavail * s.bsize, () => Infinity);
  if (needed + 64 * 2 ** 20 <= free) return;
  throw new AppError(
    507,
    'EASEL_ERR_DISK_FULL',
    `importing "${name}" writes about ${formatBytes(needed)} to ${folder}, and only ${formatBytes(free)} is free; free some space and try again`,
  );
}
