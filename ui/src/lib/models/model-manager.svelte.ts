// The model manager's state: installed models by kind, checkpoints waiting to be imported, the catalog with its
// downloads, imports and the upload in flight. Fed by HTTP reads and the model.* websocket events; components read
// it and call its intent-named methods.
import type { ErrorInfo, ModelInfo } from '../../../../server/src/http/schemas.js';
import type { CatalogItem, ImportView, ModelEvent } from '../../../../server/src/http/models.schemas.js';
import { toErrorInfo } from '../api.js';
import { modelsApi, type ImportChoices } from './models-api.js';

export interface Upload {
  file: string;
  fraction: number;
  controller: AbortController;
}

export class ModelManager {
  models = $state<ModelInfo[]>([]);
  catalog = $state<CatalogItem[]>([]);
  imports = $state<ImportView[]>([]);
  upload = $state<Upload | null>(null);
  /** Whether the first load finished (the "get a model" panel waits for it). */
  loaded = $state(false);
  error = $state<ErrorInfo | null>(null);
  /** The last failure of each catalog download, shown on its card. */
  downloadErrors = $state<Record<string, ErrorInfo>>({});

  stableDiffusion = $derived(this.models.filter((m) => m.kind === 'stable-diffusion'));
  checkpoints = $derived(this.models.filter((m) => m.kind === 'checkpoint'));
  others = $derived(this.models.filter((m) => m.kind !== 'stable-diffusion' && m.kind !== 'checkpoint'));
  hasModel = $derived(this.stableDiffusion.some((m) => m.ready));
  activeImports = $derived(this.imports.filter((i) => i.state === 'queued' || i.state === 'running'));
  busy = $derived(this.activeImports.length + this.catalog.filter((c) => c.download).length + (this.upload ? 1 : 0));

  /** Called when the installed models change, so the model picker reloads. */
  onchange: () => void = () => {};

  #refreshing = 0;

  async refresh(): Promise<void> {
    const ticket = ++this.#refreshing;
    const [models, catalog, imports] = await Promise.allSettled([modelsApi.all(), modelsApi.catalog(), modelsApi.imports()]);
    if (ticket !== this.#refreshing) return; // a newer refresh answers instead
    if (models.status === 'fulfilled') this.models = models.value;
    if (catalog.status === 'fulfilled') this.catalog = catalog.value;
    if (imports.status === 'fulfilled') this.imports = imports.value;
    const failed = [models, catalog, imports].find((r) => r.status === 'rejected');
    this.error = failed?.status === 'rejected' ? toErrorInfo(failed.reason) : null;
    this.loaded = true;
  }

  apply(event: ModelEvent): void {
    if (event.type.startsWith('model.import.') && 'import' in event) {
      const index = this.imports.findIndex((i) => i.id === event.import.id);
      if (index >= 0) this.imports[index] = event.import;
      else this.imports = [...this.imports, event.import];
      if (event.type !== 'model.import.progress') this.#changed();
      return;
    }
    if ('download' in event) {
      const item = this.catalog.find((c) => c.id === event.download.id);
      if (event.type === 'model.download.progress') {
        if (item) item.download = event.download;
        return;
      }
      if (event.type === 'model.download.failed') this.downloadErrors = { ...this.downloadErrors, [event.download.id]: event.error };
      this.#changed();
    }
  }

  async download(id: string): Promise<void> {
    const { [id]: _old, ...rest } = this.downloadErrors;
    this.downloadErrors = rest;
    await this.#try(async () => {
      const view = await modelsApi.download(id);
      const item = this.catalog.find((c) => c.id === id);
      if (item) item.download = view;
    });
  }

  async cancelDownload(id: string): Promise<void> {
    await this.#try(() => modelsApi.cancelDownload(id));
    await this.refresh();
  }

  /** Imports a file or folder on the server's disk; true when it was queued. */
  async importPath(path: string, choices: ImportChoices = {}): Promise<boolean> {
    return this.#try(async () => {
      await modelsApi.importPath({ path, ...choices });
    });
  }

  async uploadFile(file: File, choices: ImportChoices = {}): Promise<boolean> {
    const controller = new AbortController();
    this.upload = { file: file.name, fraction: 0, controller };
    try {
      return await this.#try(async () => {
        await modelsApi.upload(file, {
          ...choices,
          signal: controller.signal,
          onProgress: (fraction) => this.upload && (this.upload.fraction = fraction),
        });
      });
    } finally {
      this.upload = null;
    }
  }

  cancelUpload(): void {
    this.upload?.controller.abort();
  }

  async cancelImport(id: string): Promise<void> {
    await this.#try(() => modelsApi.cancelImport(id));
  }

  dismissError(): void {
    this.error = null;
  }

  async #try(action: () => Promise<unknown>): Promise<boolean> {
    try {
      await action();
      this.error = null;
      return true;
    } catch (error) {
      this.error = toErrorInfo(error);
      return false;
    }
  }

  #changed(): void {
    void this.refresh().then(() => this.onchange());
  }
}
