// Automatic import of checkpoints dropped into `<models>/stable-diffusion/`: scanned at start and whenever the
// models are listed. The file stays where it is; `.easel-imports.json` (import-marks.ts) records the outcome, so a
// file is imported once, and again only if it changes. A file still being copied in (modified in the last few
// seconds) waits for the next scan, which is scheduled for it. A folder `<name>.config/` beside `<name>.safetensors`
// is used as its diffusers config folder, for architectures other than standard SD 1.x / 2.x.
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { readImportMarks, writeImportMark } from './import-marks.js';
import type { FinishedImport, ImportManager } from './import-manager.js';
import { prepareImport } from './import-request.js';
import { visibleEntries } from './model-scan.js';

/** A file modified more recently than this may still be arriving. */
export const QUIET_MS = 5000;

export interface AutoImporterOptions {
  /** Easel's own `<models>/stable-diffusion/` (A1111's `Stable-diffusion/` is listed, never imported unasked). */
  folder: string;
  imports: ImportManager;
  /** Model ids in use (installed, in the store's folder, or being imported). */
  takenNames: () => Promise<Set<string>>;
  quietMs?: number;
  log?: (message: string) => void;
}

export class AutoImporter {
  private scanning: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Size and time of each queued file as scanned, recorded in its mark when the import ends. */
  private readonly queued = new Map<string, { size: number; mtimeMs: number }>();

  constructor(private readonly opts: AutoImporterOptions) {
    opts.imports.on('finished', (finished) => void this.record(finished));
  }

  /** Queues every new or changed checkpoint; concurrent calls share one scan. */
  scan(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.scanning ??= this.scanOnce().finally(() => (this.scanning = undefined));
    return this.scanning;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  private async scanOnce(): Promise<void> {
    const { folder, imports } = this.opts;
    const quiet = this.opts.quietMs ?? QUIET_MS;
    let wait = Infinity;
    for (const [name, isDir] of await visibleEntries(folder)) {
      if (isDir || extname(name).toLowerCase() !== '.safetensors') continue;
      const path = join(folder, name);
      const info = await stat(path).catch(() => undefined);
      // Queued here and not yet recorded as done: its mark is on its way.
      if (!info || info.size === 0 || imports.isImporting(path) || this.queued.has(path)) continue;
      // Read after that check, not once per scan: record() writes the mark before it forgets the file.
      const mark = (await readImportMarks(folder))[name];
      if (mark && mark.size === info.size && mark.mtimeMs === info.mtimeMs) continue;
      const age = Date.now() - info.mtimeMs;
      if (age < quiet) {
        wait = Math.min(wait, quiet - age);
        continue;
      }
      const version = { size: info.size, mtimeMs: info.mtimeMs };
      try {
        const config = join(folder, `${name.slice(0, -'.safetensors'.length)}.config`);
        const taken = await this.opts.takenNames();
        const prepared = await prepareImport({ path, modelsFolder: folder, config: existsSync(config) ? config : undefined, taken: (n) => taken.has(n) });
        this.queued.set(path, version);
        imports.enqueue({ ...prepared, origin: 'auto' });
        this.opts.log?.(`importing ${name} (dropped into ${folder})`);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        await writeImportMark(folder, name, { ...version, state: 'failed', error: message, at: new Date().toISOString() });
        this.opts.log?.(`not importing ${name}: ${message}`);
      }
    }
    if (wait !== Infinity && !this.closed) {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => void this.scan(), wait + 100);
      this.timer.unref();
    }
  }

  private async record({ view, spec }: FinishedImport): Promise<void> {
    const version = this.queued.get(spec.source);
    if (spec.origin !== 'auto' || !version) return;
    const name = basename(spec.source);
    const at = new Date().toISOString();
    const mark = view.state === 'done'
      ? { ...version, state: 'imported' as const, modelId: view.name, at }
      : { ...version, state: 'failed' as const, error: view.error?.message ?? view.state, at };
    await writeImportMark(this.opts.folder, name, mark).catch(() => undefined);
    this.queued.delete(spec.source);
  }
}
