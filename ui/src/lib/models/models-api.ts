// The model manager's HTTP calls: what is installed, the catalog, downloads and imports. Shapes come from the
// server's schemas. Uploads go through XMLHttpRequest, the one browser API that reports upload progress.
import type { ModelInfo } from '../../../../server/src/http/schemas.js';
import type { CatalogItem, DownloadView, ImportCreated, ImportRequest, ImportView } from '../../../../server/src/http/models.schemas.js';
import { ApiError, OFFLINE, call, failure } from '../api.js';

const id = (value: string) => encodeURIComponent(value);

/** What an import may say besides its source (the server's ImportRequest). */
export type ImportChoices = Omit<ImportRequest, 'path'>;

export interface UploadOptions extends ImportChoices {
  onProgress?: (fraction: number) => void;
  signal?: AbortSignal;
}

export const modelsApi = {
  /** Every kind at once: the manager splits them. */
  all: () => call<ModelInfo[]>('GET', '/api/models?kind=all'),
  catalog: () => call<CatalogItem[]>('GET', '/api/models/catalog'),
  imports: () => call<ImportView[]>('GET', '/api/models/imports'),
  download: (catalogId: string) => call<DownloadView>('POST', '/api/models/downloads', { id: catalogId }),
  cancelDownload: (catalogId: string) => call<void>('DELETE', `/api/models/downloads/${id(catalogId)}`),
  importPath: (body: ImportRequest) => call<ImportCreated>('POST', '/api/models/import', body),
  cancelImport: (importId: string) => call<void>('DELETE', `/api/models/imports/${id(importId)}`),

  /** Streams the file as the request body; resolves once the server has it and queued the import. */
  upload(file: File, opts: UploadOptions = {}): Promise<ImportCreated> {
    const query = new URLSearchParams({ filename: file.name });
    if (opts.name) query.set('name', opts.name);
    if (opts.config) query.set('config', opts.config);
    if (opts.precision) query.set('precision', opts.precision);
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('POST', `/api/models/import/upload?${query}`);
      xhr.setRequestHeader('content-type', 'application/octet-stream');
      xhr.upload.onprogress = (e) => e.lengthComputable && opts.onProgress?.(e.loaded / e.total);
      xhr.onload = () => (xhr.status === 202 ? resolve(JSON.parse(xhr.responseText) as ImportCreated) : reject(failure(xhr.status, xhr.statusText, xhr.responseText)));
      xhr.onerror = () => reject(new ApiError(0, OFFLINE));
      xhr.onabort = () => reject(new ApiError(0, { code: 'EASEL_UI_CANCELLED', message: 'The upload was cancelled.' }));
      opts.signal?.addEventListener('abort', () => xhr.abort(), { once: true });
      xhr.send(file);
    });
  },
};

/** "4.3 GB", "67 MB" (decimal units, as download sizes are quoted). */
export function formatSize(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes <= 0) return '–';
  const units = ['bytes', 'KB', 'MB', 'GB', 'TB'];
  const unit = Math.min(units.length - 1, Math.floor(Math.log10(bytes) / 3));
  const value = bytes / 1000 ** unit;
  return unit === 0 ? `${bytes} bytes` : `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}
