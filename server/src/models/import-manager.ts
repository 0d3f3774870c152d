// The import queue: imports run one at a time, each in its own worker thread (import-host.ts), in the order they
// were asked for; each can be cancelled, queued or running. Every change is a `model.import.*` event.
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { basename } from 'node:path';
import type { ErrorInfo } from '../http/schemas.js';
import type { ImportOrigin, ImportView, ModelEvent } from '../http/models.schemas.js';
import { IMPORT_CANCELLED, ImportError, runImport, type ImportSummary, type RunImportOptions } from './import-host.js';
import { importErrorInfo } from './import-errors.js';
import type { PreparedImport } from './import-request.js';

/** Each network's share of a full-size model's bytes (SD 1.5: 492 MB, 3.44 GB, 198 MB, 137 MB), for one progress bar. */
const STAGE_WEIGHTS: Record<string, number> = { text_encoder: 0.114, unet: 0.8, vae_decoder: 0.046, vae_encoder: 0.032, files: 0.008 };
const STAGE_ORDER = ['text_encoder', 'unet', 'vae_decoder', 'vae_encoder', 'files'];
const KEEP_FINISHED = 50;

export interface ImportSpec extends PreparedImport {
  origin: ImportOrigin;
  /** The source is ours to delete once the import is over (an upload), or once it succeeded (downloaded weights). */
  removeSource?: 'always' | 'on-success';
  /** What to call the source in the list (an upload's original file name rather than its temp file). */
  sourceName?: string;
}

export interface FinishedImport {
  view: ImportView;
  spec: ImportSpec;
  summary?: ImportSummary;
}

interface Entry {
  view: ImportView;
  spec: ImportSpec;
  controller: AbortController;
}

type Runner = (job: Parameters<typeof runImport>[0], opts: RunImportOptions) => Promise<ImportSummary>;

export class ImportManager extends EventEmitter<{ event: [ModelEvent]; finished: [FinishedImport] }> {
  private readonly entries: Entry[] = [];
  private running: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly run: Runner = runImport) {
    super();
  }

  /** Queues a checked import (see prepareImport) and returns its view at once. */
  enqueue(spec: ImportSpec): ImportView {
    const view: ImportView = {
      id: randomUUID(),
      name: spec.name,
      source: spec.sourceName || basename(spec.source),
      origin: spec.origin,
      state: 'queued',
      stage: null,
      progress: 0,
      description: spec.description ?? null,
      precision: spec.precision,
      warnings: [],
      error: null,
      createdAt: new Date().toISOString(),
      startedAt: null,
      finishedAt: null,
    };
    this.entries.push({ view, spec, controller: new AbortController() });
    this.emit('event', { type: 'model.import.progress', import: { ...view } });
    this.pump();
    return { ...view };
  }

  list(): ImportView[] {
    return this.entries.map((e) => ({ ...e.view }));
  }

  get(id: string): ImportView | undefined {
    const entry = this.entries.find((e) => e.view.id === id);
    return entry && { ...entry.view };
  }

  /** Model names queued or running, so a second import cannot take the same folder. */
  pendingNames(): Set<string> {
    return new Set(this.entries.filter((e) => e.view.state === 'queued' || e.view.state === 'running').map((e) => e.view.name));
  }

  /** Whether an unfinished import reads this source file (auto-import must not queue it twice). */
  isImporting(source: string): boolean {
    return this.entries.some((e) => e.spec.source === source && (e.view.state === 'queued' || e.view.state === 'running'));
  }

  /** Resolves when the import ends, however it ends. */
  whenFinished(id: string): Promise<FinishedImport> {
    return new Promise((resolve) => {
      const listener = (finished: FinishedImport): void => {
        if (finished.view.id !== id) return;
        this.off('finished', listener);
        resolve(finished);
      };
      this.on('finished', listener);
    });
  }

  /** Cancels a queued or running import; false when it is unknown or already over. */
  cancel(id: string): boolean {
    const entry = this.entries.find((e) => e.view.id === id);
    if (!entry || (entry.view.state !== 'queued' && entry.view.state !== 'running')) return false;
    entry.controller.abort();
    if (entry.view.state === 'queued') void this.finish(entry, undefined, new ImportError(IMPORT_CANCELLED, 'the import was cancelled'));
    return true;
  }

  /** Cancels everything and waits for the running import's thread to end. */
  async close(): Promise<void> {
    this.closed = true;
    for (const entry of this.entries) if (entry.view.state === 'queued' || entry.view.state === 'running') this.cancel(entry.view.id);
    await this.running;
  }

  private pump(): void {
    if (this.running || this.closed) return;
    const next = this.entries.find((e) => e.view.state === 'queued');
    if (!next) return;
    this.running = this.execute(next).finally(() => {
      this.running = undefined;
      this.pump();
    });
  }

  private async execute(entry: Entry): Promise<void> {
    const { view, spec, controller } = entry;
    view.state = 'running';
    view.startedAt = new Date().toISOString();
    this.emit('event', { type: 'model.import.progress', import: { ...view } });
    try {
      const summary = await this.run(
        { source: spec.source, outDir: spec.outDir, configDir: spec.configDir, name: spec.name, precision: spec.precision },
        {
          signal: controller.signal,
          onProgress: ({ stage, done, total }) => {
            view.stage = stage;
            view.progress = overallProgress(stage, done, total);
            this.emit('event', { type: 'model.import.progress', import: { ...view } });
          },
        },
      );
      view.description = summary.description;
      view.warnings = summary.warnings;
      await this.finish(entry, summary);
    } catch (error) {
      await this.finish(entry, undefined, error);
    }
  }

  private async finish(entry: Entry, summary: ImportSummary | undefined, error?: unknown): Promise<void> {
    const { view, spec } = entry;
    if (view.state !== 'queued' && view.state !== 'running') return;
    const info: ErrorInfo | null = error === undefined ? null : importErrorInfo(error);
    view.state = info === null ? 'done' : info.code === IMPORT_CANCELLED ? 'cancelled' : 'failed';
    view.error = info;
    view.finishedAt = new Date().toISOString();
    if (info === null) {
      view.progress = 1;
      view.stage = null;
    }
    if (spec.removeSource === 'always' || (spec.removeSource === 'on-success' && info === null)) {
      await rm(spec.source, { recursive: true, force: true }).catch(() => undefined);
    }
    this.emit('event', info === null ? { type: 'model.import.done', import: { ...view } } : { type: 'model.import.failed', import: { ...view }, error: info });
    this.emit('finished', { view: { ...view }, spec, summary });
    // Finished imports stay listed for a while (the page shows what happened), then make room.
    const finished = this.entries.filter((e) => e.view.finishedAt !== null);
    for (const old of finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED))) this.entries.splice(this.entries.indexOf(old), 1);
  }
}

/** One number for the whole import: finished stages by weight, plus the current stage's share. */
export function overallProgress(stage: string, done: number, total: number): number {
  const index = STAGE_ORDER.indexOf(stage);
  if (index < 0) return 0;
  const before = STAGE_ORDER.slice(0, index).reduce((n, s) => n + (STAGE_WEIGHTS[s] ?? 0), 0);
  const part = total > 0 ? done / total : 1;
  return Math.min(1, before + (STAGE_WEIGHTS[stage] ?? 0) * part);
}
