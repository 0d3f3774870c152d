// The model manager's parts, wired once: the registry, the import queue, catalog downloads and auto-import. buildApp
// creates one; the routes and the websocket take what they need from it. Its `event`s are the websocket's model.*.
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelEvent } from '../http/models.schemas.js';
import { AutoImporter } from './auto-import.js';
import type { CatalogEntry } from './catalog.js';
import { DEFAULT_UPLOAD_LIMIT_BYTES } from './checkpoint-upload.js';
import { DownloadManager } from './download-manager.js';
import { ImportManager } from './import-manager.js';
import type { ModelRegistry } from './model-registry.js';

export interface ModelServicesOptions {
  /** Uploads are kept in `<dataDir>/uploads/` while they are imported. */
  dataDir: string;
  /** The catalog's entries; models/catalog.json by default. Tests serve their own. */
  catalog?: () => Promise<CatalogEntry[]>;
  uploadLimitBytes?: number;
  /** How long a dropped file must stay unchanged before auto-import takes it (default 5 s). */
  autoImportQuietMs?: number;
  fetchImpl?: typeof fetch;
  log?: (message: string) => void;
}

export class ModelServices extends EventEmitter<{ event: [ModelEvent] }> {
  readonly imports = new ImportManager();
  readonly downloads: DownloadManager;
  readonly autoImport: AutoImporter;
  readonly uploadsDir: string;
  readonly uploadLimitBytes: number;
  private readonly log: ((message: string) => void) | undefined;

  constructor(
    readonly registry: ModelRegistry,
    opts: ModelServicesOptions,
  ) {
    super();
    this.uploadsDir = join(opts.dataDir, 'uploads');
    this.log = opts.log;
    this.uploadLimitBytes = opts.uploadLimitBytes ?? DEFAULT_UPLOAD_LIMIT_BYTES;
    const takenNames = () => this.takenNames();
    this.downloads = new DownloadManager({
      modelsDir: registry.modelsDir,
      stableDiffusionDir: registry.stableDiffusionDir,
      imports: this.imports,
      takenNames,
      catalog: opts.catalog,
      fetchImpl: opts.fetchImpl,
    });
    this.autoImport = new AutoImporter({
      folder: registry.stableDiffusionDir,
      imports: this.imports,
      takenNames,
      quietMs: opts.autoImportQuietMs,
      log: opts.log,
    });
    this.imports.on('event', (event) => this.emit('event', event));
    this.downloads.on('event', (event) => this.emit('event', event));
  }

  /**
   * Clears what a previous run left when it was killed mid-upload or mid-import (uploads, the importer's hidden work
   * folders), then looks for dropped checkpoints.
   */
  async start(): Promise<void> {
    await rm(this.uploadsDir, { recursive: true, force: true }).catch(() => undefined);
    const folder = this.registry.stableDiffusionDir;
    await mkdir(folder, { recursive: true }).catch(() => undefined);
    for (const name of await readdir(folder).catch(() => [])) {
      const pid = /^\..+\.importing-(\d+)$/.exec(name)?.[1];
      if (pid !== undefined && !processAlive(Number(pid))) await rm(join(folder, name), { recursive: true, force: true }).catch(() => undefined);
    }
    await this.autoImport.scan().catch((error: unknown) => this.log?.(`auto-import scan failed: ${(error as Error).message}`));
  }

  /** Model ids in use: installed models, folders in Easel's store, and imports on their way. */
  async takenNames(): Promise<Set<string>> {
    const names = new Set([...this.imports.pendingNames(), ...(await this.registry.list()).map((m) => m.id)]);
    const folder = this.registry.stableDiffusionDir;
    if (existsSync(folder)) for (const name of await readdir(folder)) names.add(name);
    return names;
  }

  async close(): Promise<void> {
    this.autoImport.close();
    await Promise.all([this.downloads.close(), this.imports.close()]);
  }
}

/** Whether a process runs (a CLI import in another process keeps its work folder). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
