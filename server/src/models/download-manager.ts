// Catalog downloads started from the page: several may run at once (one per entry), each streams progress as
// `model.download.*` events, and entries that need conversion are handed to the import queue once downloaded.
// Cancelling stops the transfer (or the conversion) and deletes what was fetched.
import { EventEmitter } from 'node:events';
import { AppError, notFound } from '../http/errors.js';
import type { CatalogItem, DownloadView, ModelEvent } from '../http/models.schemas.js';
import { CatalogError, loadCatalog, type CatalogEntry } from './catalog.js';
import { catalogState, discardCatalogModel, fetchCatalogModel } from './catalog-install.js';
import { DownloadError, type ModelDownloadProgress } from './download.js';
import { downloadAppError, importErrorInfo } from './import-errors.js';
import type { ImportManager } from './import-manager.js';
import { prepareImport } from './import-request.js';

export interface DownloadManagerOptions {
  modelsDir: string;
  /** Easel's stable-diffusion folder (conversions write there). */
  stableDiffusionDir: string;
  imports: ImportManager;
  /** Model ids in use, so a conversion does not overwrite a model of the same name. */
  takenNames: () => Promise<Set<string>>;
  /** Where the entries come from; models/catalog.json by default. */
  catalog?: () => Promise<CatalogEntry[]>;
  fetchImpl?: typeof fetch;
}

interface Active {
  view: DownloadView;
  controller: AbortController;
  done: Promise<void>;
}

export class DownloadManager extends EventEmitter<{ event: [ModelEvent] }> {
  private readonly active = new Map<string, Active>();

  constructor(private readonly opts: DownloadManagerOptions) {
    super();
  }

  async entries(): Promise<CatalogEntry[]> {
    try {
      return this.opts.catalog ? await this.opts.catalog() : (await loadCatalog()).models;
    } catch (error) {
      // A hand-edited catalog with a typo is the server's problem, but the message says exactly where it is.
      if (error instanceof CatalogError) throw new AppError(500, 'EASEL_ERR_CATALOG', error.message);
      throw error;
    }
  }

  async catalog(): Promise<CatalogItem[]> {
    const entries = await this.entries();
    return Promise.all(
      entries.map(async (entry) => ({
        id: entry.id,
        kind: entry.kind,
        name: entry.name,
        description: entry.description,
        family: entry.family ?? null,
        sizeBytes: entry.sizeBytes,
        homepage: entry.homepage,
        licence: entry.licence,
        needsConversion: entry.needsConversion,
        state: await catalogState(entry, this.opts.modelsDir),
        download: this.active.has(entry.id) ? { ...this.active.get(entry.id)!.view } : null,
      })),
    );
  }

  /** Starts (or resumes) a download; answers at once, the rest arrives as events. */
  async start(id: string): Promise<DownloadView> {
    const entry = await this.find(id);
    if (this.active.has(id)) throw new AppError(409, 'EASEL_ERR_DOWNLOAD_BUSY', `${entry.name} is already being downloaded`);
    if ((await catalogState(entry, this.opts.modelsDir)) === 'installed') {
      throw new AppError(409, 'EASEL_ERR_MODEL_INSTALLED', `${entry.name} is already installed`);
    }
    const view: DownloadView = {
      id, phase: 'downloading', received: 0, total: entry.sizeBytes, bytesPerSecond: 0, estimated: true, file: null, importId: null,
    };
    const controller = new AbortController();
    const active: Active = { view, controller, done: Promise.resolve() };
    this.active.set(id, active);
    active.done = this.install(entry, active).finally(() => this.active.delete(id));
    this.emit('event', { type: 'model.download.progress', download: { ...view } });
    return { ...view };
  }

  /** Stops a running download or conversion and deletes what it fetched; with none running, deletes a partial one. */
  async cancel(id: string): Promise<void> {
    const entry = await this.find(id);
    const active = this.active.get(id);
    if (active) {
      active.controller.abort();
      if (active.view.importId) this.opts.imports.cancel(active.view.importId);
      await active.done;
    }
    try {
      await discardCatalogModel(entry, this.opts.modelsDir);
    } catch (error) {
      if (error instanceof DownloadError) throw downloadAppError(error);
      throw error;
    }
  }

  async close(): Promise<void> {
    for (const active of this.active.values()) active.controller.abort();
    await Promise.all([...this.active.values()].map((a) => a.done));
  }

  private async find(id: string): Promise<CatalogEntry> {
    const entry = (await this.entries()).find((e) => e.id === id);
    if (!entry) throw notFound('EASEL_ERR_CATALOG_NOT_FOUND', `the catalog has no model "${id}"`);
    return entry;
  }

  private async install(entry: CatalogEntry, active: Active): Promise<void> {
    const { view, controller } = active;
    const progress = (p: ModelDownloadProgress): void => {
      Object.assign(view, { received: p.received, total: p.total ?? view.total, bytesPerSecond: p.bytesPerSecond, estimated: p.estimated, file: p.file.path });
      this.emit('event', { type: 'model.download.progress', download: { ...view } });
    };
    try {
      const fetched = await fetchCatalogModel(entry, this.opts.modelsDir, { signal: controller.signal, onProgress: progress, fetchImpl: this.opts.fetchImpl });
      if (fetched.needsConversion) {
        if (controller.signal.aborted) throw new DownloadError('EASEL_ERR_DOWNLOAD_ABORTED', 'the download was cancelled');
        const taken = await this.opts.takenNames();
        const prepared = await prepareImport({ path: fetched.dir, modelsFolder: this.opts.stableDiffusionDir, name: entry.id, taken: (n) => taken.has(n) });
        const queued = this.opts.imports.enqueue({ ...prepared, origin: 'download', removeSource: 'on-success' });
        Object.assign(view, { phase: 'converting', importId: queued.id, bytesPerSecond: 0 });
        this.emit('event', { type: 'model.download.progress', download: { ...view } });
        const finished = await this.opts.imports.whenFinished(queued.id);
        if (finished.view.error) throw new AppError(500, finished.view.error.code, `converting ${entry.name} failed: ${finished.view.error.message}`);
      }
      view.phase = 'done';
      this.emit('event', { type: 'model.download.done', download: { ...view } });
    } catch (error) {
      view.phase = 'failed';
      const info = error instanceof DownloadError && error.code === 'EASEL_ERR_DOWNLOAD_ABORTED'
        ? { code: error.code, message: `the download of ${entry.name} was cancelled` }
        : importErrorInfo(error);
      this.emit('event', { type: 'model.download.failed', download: { ...view }, error: info });
    }
  }
}
