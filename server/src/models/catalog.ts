// The catalog of downloadable models (models/catalog.json): its schema, loading, and checks whose messages name the
// entry and the field, because the file is edited by hand and a typo must not surface as a failed download later.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Value, ValueErrorType, type ValueError } from '@sinclair/typebox/value';
import { appRoot } from '../config/config.js';

export const DEFAULT_CATALOG_PATH = join(appRoot, 'models', 'catalog.json');

export const MODEL_KINDS = ['stable-diffusion', 'upscaler', 'face-restore', 'nsfw', 'vae-approx'] as const;
export const MODEL_FORMATS = ['onnx', 'diffusers'] as const;

// `errorMessage` is our own keyword: TypeBox keeps unknown options on the schema, and describe() prefers it.
const literals = <T extends readonly string[]>(values: T) => Type.Union(values.map((v) => Type.Literal(v)));

export const CatalogFile = Type.Object(
  {
    /** Where the file goes, relative to the model folder, with forward slashes. */
    path: Type.String({ minLength: 1, errorMessage: 'must be a relative path inside the model folder' }),
    url: Type.String({ pattern: '^https://', errorMessage: 'must be an https URL' }),
    /** Exact size in bytes; a download of any other length is rejected. Absent where not known for certain. */
    size: Type.Optional(Type.Integer({ minimum: 0 })),
    /** Only a hash someone verified; without it the downloader records the hash it computed. */
    sha256: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$', errorMessage: 'must be 64 lowercase hex digits' })),
  },
  { additionalProperties: false },
);
export type CatalogFile = Static<typeof CatalogFile>;

export const CatalogLicence = Type.Object(
  {
    id: Type.String({ minLength: 1 }),
    name: Type.String({ minLength: 1 }),
    url: Type.String({ pattern: '^https://', errorMessage: 'must be an https URL' }),
    /** True when the licence forbids commercial use: the UI must say so before downloading. */
    nonCommercial: Type.Boolean(),
  },
  { additionalProperties: false },
);
export type CatalogLicence = Static<typeof CatalogLicence>;

export const CatalogEntry = Type.Object(
  {
    /** Also the folder name: `<models>/<kind>/<id>/`. */
    id: Type.String({
      pattern: '^[a-z0-9][a-z0-9._-]{0,63}$',
      errorMessage: 'must be 1-64 lowercase letters, digits, ".", "_" or "-", starting with a letter or digit',
    }),
    kind: literals(MODEL_KINDS),
    name: Type.String({ minLength: 1 }),
    description: Type.String({ minLength: 1 }),
    family: Type.Optional(Type.String({ minLength: 1 })),
    /** `onnx`: usable as downloaded. `diffusers`: safetensors weights that the converter turns into ONNX. */
    format: literals(MODEL_FORMATS),
    needsConversion: Type.Boolean(),
    licence: CatalogLicence,
    /** Approximate total download size, for the UI and the free-space check before the sizes are known. */
    sizeBytes: Type.Integer({ minimum: 1 }),
    homepage: Type.String({ pattern: '^https://', errorMessage: 'must be an https URL' }),
    /** Settings the model was made for, to pre-fill the UI. */
    suggested: Type.Optional(
      Type.Object(
        {
          steps: Type.Optional(Type.Integer({ minimum: 1 })),
          guidance: Type.Optional(Type.Number({ minimum: 0 })),
          width: Type.Optional(Type.Integer({ minimum: 8 })),
          height: Type.Optional(Type.Integer({ minimum: 8 })),
        },
        { additionalProperties: false },
      ),
    ),
    files: Type.Array(CatalogFile, { minItems: 1 }),
  },
  { additionalProperties: false },
);
export type CatalogEntry = Static<typeof CatalogEntry>;

export const Catalog = Type.Object(
  { version: Type.Literal(1), models: Type.Array(Type.Unknown()) },
  { additionalProperties: false },
);
export interface Catalog {
  version: 1;
  models: CatalogEntry[];
}

export class CatalogError extends Error {
  constructor(
    message: string,
    /** The entry's id (or `models[i]` when it has none) and the field, e.g. `files[2].url`. */
    readonly entry?: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'CatalogError';
  }
}

/** Validates parsed catalog JSON; throws a CatalogError for the first problem found. */
export function parseCatalog(data: unknown): Catalog {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new CatalogError('catalog: the file must be an object with "version" and "models"');
  }
  const top = firstError(Catalog, data);
  if (top) throw new CatalogError(`catalog: ${fieldName(top.path) || 'the file'} ${describe(top)}`, undefined, fieldName(top.path));
  const models = (data as { models: unknown[] }).models;
  const seen = new Map<string, number>();
  models.forEach((raw, index) => {
    const label = entryLabel(raw, index);
    const fail = (field: string, problem: string): never => {
      throw new CatalogError(`catalog entry ${label}: ${field} ${problem}`, label, field);
    };
    const error = firstError(CatalogEntry, raw);
    if (error) fail(fieldName(error.path) || 'the entry', describe(error));
    const entry = raw as CatalogEntry;
    const earlier = seen.get(entry.id);
    if (earlier !== undefined) fail('id', `"${entry.id}" is already used by models[${earlier}]`);
    seen.set(entry.id, index);
    if (entry.needsConversion !== (entry.format !== 'onnx')) {
      fail('needsConversion', `must be ${entry.format !== 'onnx'} for format "${entry.format}"`);
    }
    const paths = new Set<string>();
    entry.files.forEach((file, i) => {
      const problem = pathProblem(file.path);
      if (problem) fail(`files[${i}].path`, problem);
      if (paths.has(file.path)) fail(`files[${i}].path`, `"${file.path}" is listed twice`);
      paths.add(file.path);
      if (!URL.canParse(file.url)) fail(`files[${i}].url`, 'is not a valid URL');
    });
  });
  return data as Catalog;
}

export async function loadCatalog(path = DEFAULT_CATALOG_PATH): Promise<Catalog> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new CatalogError(`cannot read the model catalog ${path}: ${(error as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new CatalogError(`the model catalog ${path} is not valid JSON: ${(error as Error).message}`);
  }
  return parseCatalog(data);
}

/** Reads the catalog afresh on every call (it is small), so an edited file needs no restart. */
export async function findCatalogEntry(id: string, path = DEFAULT_CATALOG_PATH): Promise<CatalogEntry | undefined> {
  return (await loadCatalog(path)).models.find((entry) => entry.id === id);
}

/** Why a catalog file path could escape or confuse the model folder, or undefined when it is fine. */
export function pathProblem(path: string): string | undefined {
  if (path.startsWith('/') || /^[a-zA-Z]:/.test(path)) return 'must be relative, not absolute';
  if (path.includes('\\')) return 'must use forward slashes';
  const segments = path.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..')) return 'must not contain empty, "." or ".." parts';
  if (segments.some((s) => /\.partial(\.json)?$/.test(s))) return 'must not end in ".partial" or ".partial.json" (the downloader uses those)';
  if (segments[0]?.startsWith('.easel')) return 'must not start with ".easel" (reserved for the downloader)';
  return undefined;
}

function firstError(schema: TSchema, value: unknown): ValueError | undefined {
  return Value.Errors(schema, value).First();
}

/** `/models/0/files/2/url` (or `/files/2/url`) → `files[2].url`. */
function fieldName(path: string): string {
  return path
    .replace(/^\/models\/\d+/, '')
    .split('/')
    .filter(Boolean)
    .map((part, i) => (/^\d+$/.test(part) ? `[${part}]` : i === 0 ? part : `.${part}`))
    .join('');
}

function entryLabel(raw: unknown, index: number): string {
  const id = (raw as { id?: unknown } | null)?.id;
  return typeof id === 'string' && id !== '' ? `"${id}" (models[${index}])` : `models[${index}]`;
}

function describe(error: ValueError): string {
  const schema = error.schema as TSchema & { errorMessage?: string; anyOf?: { const?: unknown }[] };
  switch (error.type) {
    case ValueErrorType.ObjectRequiredProperty:
      return 'is required';
    case ValueErrorType.ObjectAdditionalProperties:
      return 'is not a known field';
    case ValueErrorType.Union:
    case ValueErrorType.Literal: {
      const allowed = schema.anyOf?.map((s) => JSON.stringify(s.const)) ?? [JSON.stringify(schema.const)];
      return `must be one of ${allowed.join(', ')}`;
    }
    case ValueErrorType.String:
      return 'must be a string';
    case ValueErrorType.Boolean:
      return 'must be true or false';
    case ValueErrorType.Integer:
      return 'must be a whole number';
    case ValueErrorType.Number:
      return 'must be a number';
    case ValueErrorType.Array:
      return 'must be a list';
    case ValueErrorType.Object:
      return 'must be an object';
    case ValueErrorType.ArrayMinItems:
      return `must have at least ${String(schema.minItems)} item(s)`;
    case ValueErrorType.IntegerMinimum:
    case ValueErrorType.NumberMinimum:
      return `must be at least ${String(schema.minimum)}`;
    case ValueErrorType.StringMinLength:
      return 'must not be empty';
    default:
      return schema.errorMessage ?? error.message.toLowerCase();
  }
}
