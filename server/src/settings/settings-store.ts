// User settings: the layer the owner changes from the UI, beside the deployment config (flags and environment).
// One JSON file, `<data>/settings.json`, validated with TypeBox on load and before every write, and replaced
// whole (temp file, fsync, rename) so a crash leaves either the old file or the new one, never half of each.
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { NSFW_MODEL_CHOICES } from '../filters/available.js';
import { LOW_MEMORY_SETTINGS } from '../pipeline/memory-mode.js';

export const PasswordHash = Type.Object({
  algorithm: Type.Literal('scrypt'),
  N: Type.Integer({ minimum: 2 }),
  r: Type.Integer({ minimum: 1 }),
  p: Type.Integer({ minimum: 1 }),
  salt: Type.String({ minLength: 1 }),
  hash: Type.String({ minLength: 1 }),
});
export type PasswordHash = Static<typeof PasswordHash>;

export const TokenRecord = Type.Object({
  id: Type.String({ minLength: 1 }),
  name: Type.String({ minLength: 1 }),
  hash: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'SHA-256 of the token; the token itself is never kept' }),
  createdAt: Type.String(),
});
export type TokenRecord = Static<typeof TokenRecord>;

const oneOf = <T extends readonly string[]>(values: T, description: string) =>
  Type.Union(values.map((v) => Type.Literal(v as T[number])), { description });

/** What the owner decides for everyone's jobs (GET/PATCH /api/settings/server). */
export const FilterSettings = Type.Object(
  {
    forceNsfwFilter: Type.Boolean({ description: "run the NSFW check (and blur) on every image anyone makes, whatever the request says" }),
    nsfwModel: oneOf(NSFW_MODEL_CHOICES, 'the NSFW classifier: auto = the catalog ViT when installed, else the built-in nsfwjs'),
  },
  // Fields a newer Easel adds are kept, as whole sections are; the PATCH body refuses unknown ones (schemas.ts).
  { additionalProperties: true },
);
export type FilterSettings = Static<typeof FilterSettings>;

export const PerformanceSettings = Type.Object(
  {
    lowMemory: oneOf(LOW_MEMORY_SETTINGS, 'low-memory mode: about 60 % less peak RAM, 10–13 % slower; auto picks it when free memory is short'),
    optimizedModelCache: Type.Boolean({
      description: "keep onnxruntime's optimized copy of each model in <data>/cache/onnxruntime: loads 4× faster, costs about the model's size on disk",
    }),
  },
  { additionalProperties: true },
);
export type PerformanceSettings = Static<typeof PerformanceSettings>;

export const UserSettings = Type.Object(
  {
    version: Type.Literal(1),
    sharing: Type.Object({
      enabled: Type.Boolean({ description: 'serve the LAN (0.0.0.0) as well as this machine' }),
      requireLoginOnLoopback: Type.Boolean({ description: 'ask for the password on this machine too' }),
    }),
    auth: Type.Object({
      password: Type.Union([PasswordHash, Type.Null()]),
      tokens: Type.Array(TokenRecord),
    }),
    filters: FilterSettings,
    performance: PerformanceSettings,
  },
  // Sections other features add are kept as they are.
  { additionalProperties: true },
);
export type UserSettings = Static<typeof UserSettings>;

export function defaultSettings(): UserSettings {
  return {
    version: 1,
    sharing: { enabled: false, requireLoginOnLoopback: false },
    auth: { password: null, tokens: [] },
    filters: { forceNsfwFilter: false, nsfwModel: 'auto' },
    performance: { lowMemory: 'auto', optimizedModelCache: true },
  };
}

export class SettingsStore {
  readonly file: string;
  private data: UserSettings;
  private queue: Promise<unknown> = Promise.resolve();

  /** Reads the file now; a missing file means defaults, an unreadable one is moved aside with a warning. */
  constructor(dataDir: string, warn: (message: string) => void = (m) => console.warn(`easel: ${m}`)) {
    this.file = join(dataDir, 'settings.json');
    this.data = this.load(warn);
  }

  /** The current settings. Treat as read-only: change them through update(). */
  get current(): Readonly<UserSettings> {
    return this.data;
  }

  /**
   * Applies `change` to a copy, validates it, writes it, and only then makes it current. Updates run one after
   * another, each on the result of the last.
   */
  update(change: (draft: UserSettings) => void): Promise<UserSettings> {
    const run = async (): Promise<UserSettings> => {
      const draft = structuredClone(this.data);
      change(draft);
      const problem = firstProblem(draft);
      if (problem) throw new Error(`settings not saved: ${problem}`);
      await writeFileAtomic(this.file, `${JSON.stringify(draft, null, 2)}\n`);
      this.data = draft;
      return draft;
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private load(warn: (message: string) => void): UserSettings {
    if (!existsSync(this.file)) return defaultSettings();
    let problem: string | undefined;
    try {
      const parsed = JSON.parse(readFileSync(this.file, 'utf8')) as unknown;
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
        const file = parsed as Partial<UserSettings>;
        const defaults = defaultSettings();
        // Sections or fields a newer feature added to the defaults are filled in; what the file says wins.
        const merged = {
          ...defaults,
          ...file,
          sharing: { ...defaults.sharing, ...file.sharing },
          auth: { ...defaults.auth, ...file.auth },
          filters: { ...defaults.filters, ...file.filters },
          performance: { ...defaults.performance, ...file.performance },
        };
        const repaired = repairOwnerSettings(merged, defaults);
        if (repaired.length > 0) {
          warn(`${this.file}: ${repaired.join(', ')} held a value this Easel does not know; the default applies (an enforced NSFW check stays on)`);
        }
        problem = firstProblem(merged);
        if (!problem) return merged;
      } else problem = 'it is not a JSON object';
    } catch (error) {
      problem = (error as Error).message;
    }
    // Starting with defaults keeps sharing off, the safe side; the old file is kept for the owner to look at.
    const aside = `${this.file}.invalid-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    try {
      renameSync(this.file, aside);
    } catch {
      // read-only data folder: the next save will say so
    }
    warn(`${this.file} could not be used (${problem}); it was moved to ${aside} and default settings apply (sharing off)`);
    return defaultSettings();
  }
}

/**
 * A value an older or newer Easel (or a hand edit) left in the owner's filters/performance fields is replaced by the
 * default, field by field, instead of costing the whole file (password, tokens) — except the enforced NSFW check,
 * which fails closed: only a clean false turns it off. Returns the repaired fields.
 */
function repairOwnerSettings(settings: UserSettings, defaults: UserSettings): string[] {
  const repaired: string[] = [];
  for (const [section, schema] of [['filters', FilterSettings], ['performance', PerformanceSettings]] as const) {
    const values = settings[section] as Record<string, unknown>;
    const fallback = defaults[section] as Record<string, unknown>;
    for (const [key, field] of Object.entries(schema.properties)) {
      if (Value.Check(field, values[key])) continue;
      values[key] = key === 'forceNsfwFilter' ? true : fallback[key];
      repaired.push(`${section}.${key}`);
    }
  }
  return repaired;
}

function firstProblem(value: unknown): string | undefined {
  const error = Value.Errors(UserSettings, value).First();
  return error && `${error.path || '/'} ${error.message}`;
}

let tempCounter = 0;

/** Writes a whole file so readers and crashes see the old content or the new, never a mix. */
export async function writeFileAtomic(file: string, text: string, mode = 0o600): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.${++tempCounter}.tmp`;
  try {
    const handle = await open(temp, 'w', mode);
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  // The rename itself lives in the folder; flushing it makes the new file survive a power cut too.
  try {
    const folder = await open(dirname(file), 'r');
    await folder.sync().finally(() => folder.close());
  } catch {
    // not every platform can fsync a folder (Windows); the rename is still atomic there
  }
}
