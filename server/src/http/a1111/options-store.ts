// A1111's settings as its API shows them (`/sdapi/v1/options`). The few Easel acts on are checked when set and
// kept in `<data>/a1111-options.json` so a client's model choice survives a restart; the rest are there because
// clients read them at start-up (and Open WebUI posts the whole dict back), and are remembered but change nothing.
import { readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { InstalledModel, ModelRegistry } from '../../models/model-registry.js';
import { invalid } from './a1111-errors.js';

type OptionValue = string | number | boolean | null | OptionValue[] | { [key: string]: OptionValue };

const DEFAULTS: Record<string, OptionValue> = {
  sd_model_checkpoint: null,
  sd_checkpoint_hash: null,
  sd_vae: 'Automatic',
  samples_format: 'png',
  jpeg_quality: 80,
  CLIP_stop_at_last_layers: 1,
  eta_noise_seed_delta: 0,
  randn_source: 'CPU',
  enable_pnginfo: true,
  return_grid: false,
  live_previews_enable: true,
  live_previews_image_format: 'jpeg',
  show_progress_every_n_steps: 1,
  show_progress_type: 'Approx cheap',
  sd_checkpoints_limit: 1,
};

const FORMATS: Record<string, 'png' | 'jpeg' | 'webp'> = { png: 'png', jpg: 'jpeg', jpeg: 'jpeg', webp: 'webp' };

/** A1111 names a checkpoint by title (`name.safetensors [hash]`) or file name; Easel's models are folders. */
export function matchModel(models: readonly InstalledModel[], name: string): InstalledModel | undefined {
  const given = name.trim();
  const bare = (given.replace(/\s*\[[0-9a-f]*\]$/i, '').split(/[\\/]/).pop() ?? '').replace(/\.(safetensors|ckpt|pt|bin|onnx)$/i, '');
  return (
    models.find((m) => m.id === given) ??
    models.find((m) => m.id === bare) ??
    models.find((m) => m.id.toLowerCase() === bare.toLowerCase())
  );
}

function wholeNumber(value: unknown, key: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${key} must be a whole number from ${min} to ${max}`, key);
  }
  return value;
}

export class A1111Options {
  private saved: Record<string, OptionValue>;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly file: string,
    private readonly registry: ModelRegistry,
  ) {
    try {
      this.saved = JSON.parse(readFileSync(file, 'utf8')) as Record<string, OptionValue>;
    } catch {
      this.saved = {};
    }
  }

  private async readyModels(): Promise<InstalledModel[]> {
    return (await this.registry.list()).filter((m) => m.ready);
  }

  /** The model later jobs use when they name none: the one chosen here while it is installed, else the first. */
  async defaultModel(): Promise<string | undefined> {
    const models = await this.readyModels();
    const chosen = typeof this.saved.sd_model_checkpoint === 'string' ? matchModel(models, this.saved.sd_model_checkpoint) : undefined;
    return (chosen ?? models[0])?.id;
  }

  async all(): Promise<Record<string, OptionValue>> {
    return { ...DEFAULTS, ...this.saved, sd_model_checkpoint: (await this.defaultModel()) ?? null };
  }

  /** Applies a partial dict: known keys are checked and kept, unknown ones ignored (as A1111 does). */
  async set(patch: Record<string, unknown>): Promise<void> {
    const next = { ...this.saved };
    for (const [key, value] of Object.entries(patch)) {
      if (!(key in DEFAULTS)) continue;
      next[key] = await this.check(key, value);
    }
    this.saved = next;
    // Written aside then renamed, one write at a time, so the file is always a whole, recent dict.
    const text = JSON.stringify(next, null, 2);
    const write = this.writing.then(async () => {
      await mkdir(dirname(this.file), { recursive: true });
      const temp = `${this.file}.${process.pid}.tmp`;
      await writeFile(temp, text);
      await rename(temp, this.file);
    });
    this.writing = write.catch(() => undefined); // one failed write does not block the next
    await write;
  }

  /** Output format and quality for a job: per-request override_settings first, then these options. */
  output(overrides: Record<string, unknown>): { outputFormat: 'png' | 'jpeg' | 'webp'; quality: number } {
    const format = (overrides.samples_format ?? this.saved.samples_format ?? DEFAULTS.samples_format) as unknown;
    const quality = (overrides.jpeg_quality ?? this.saved.jpeg_quality ?? DEFAULTS.jpeg_quality) as unknown;
    return {
      outputFormat: this.parseFormat(format, 'override_settings.samples_format'),
      quality: wholeNumber(quality, 'override_settings.jpeg_quality', 1, 100),
    };
  }

  private parseFormat(value: unknown, key = 'samples_format'): 'png' | 'jpeg' | 'webp' {
    const format = typeof value === 'string' ? FORMATS[value.toLowerCase()] : undefined;
    if (!format) throw invalid(`${key} must be one of png, jpg, webp`, key);
    return format;
  }

  private async check(key: string, value: unknown): Promise<OptionValue> {
    switch (key) {
      case 'sd_model_checkpoint': {
        if (value === null) return null; // what GET answers with no model installed, posted back
        const models = await this.readyModels();
        const model = typeof value === 'string' ? matchModel(models, value) : undefined;
        if (!model) throw invalid(`model ${JSON.stringify(value)} not found; installed: ${models.map((m) => m.id).join(', ') || 'none'}`, key);
        return model.id;
      }
      case 'samples_format':
        this.parseFormat(value);
        return String(value).toLowerCase();
      case 'jpeg_quality':
        return wholeNumber(value, key, 1, 100);
      case 'CLIP_stop_at_last_layers':
        return wholeNumber(value, key, 1, 12);
      default:
        return value as OptionValue;
    }
  }
}
