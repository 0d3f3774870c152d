// Thin typed wrappers over the HTTP API. The shapes come from the server's schemas (type-only imports).
import type {
  AvailableFilters,
  ErrorInfo,
  GalleryPage,
  Health,
  JobCreated,
  JobList,
  JobRequest,
  ModelInfo,
  PngInfoResult,
  QueueState,
  SamplerInfo,
  TokenizeResult,
  FilterRequest,
  ServerSettingsUpdate,
  ServerSettingsView,
} from '../../../server/src/http/schemas.js';
import type { SessionInfo, SharingInfo, SharingSettingsUpdate, SharingSettingsView } from '../../../server/src/http/sharing.schemas.js';

/** A non-2xx answer, carrying the server's `{ error: { code, message, field } }` when it sent one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly info: ErrorInfo,
  ) {
    super(info.message);
    this.name = 'ApiError';
  }
}

/** Any thrown thing as the server's error shape, so the page shows every failure the same way. */
export function toErrorInfo(error: unknown): ErrorInfo {
  if (error instanceof ApiError) return error.info;
  return { code: 'EASEL_UI_ERROR', message: error instanceof Error ? error.message : String(error) };
}

export const OFFLINE: ErrorInfo = { code: 'EASEL_UI_OFFLINE', message: 'Cannot reach the Easel server. Is it running?' };

/** One JSON request; failures become ApiError with the server's own code and message. */
export async function call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers: body === undefined ? undefined : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new ApiError(0, OFFLINE);
  }
  const text = await response.text();
  if (!response.ok) throw failure(response.status, response.statusText, text);
  return (text ? safeJson(text) : undefined) as T;
}

/** The ApiError for a non-2xx answer's body (fetch or XMLHttpRequest alike). */
export function failure(status: number, statusText: string, text: string): ApiError {
  return new ApiError(status, errorInfo(text ? safeJson(text) : undefined, status, statusText));
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function errorInfo(data: unknown, status: number, statusText: string): ErrorInfo {
  const error = (data as { error?: Partial<ErrorInfo> } | undefined)?.error;
  if (error && typeof error.message === 'string') {
    return { code: error.code ?? `HTTP_${status}`, message: error.message, field: error.field };
  }
  return { code: `HTTP_${status}`, message: `The server answered ${status}${statusText ? ` ${statusText}` : ''}.` };
}

export interface GalleryFilter {
  q?: string;
  model?: string;
  cursor?: string;
  limit?: number;
}

function galleryPath(filter: GalleryFilter): string {
  const query = new URLSearchParams();
  if (filter.cursor) query.set('cursor', filter.cursor);
  if (filter.q?.trim()) query.set('q', filter.q.trim());
  if (filter.model) query.set('model', filter.model);
  if (filter.limit) query.set('limit', String(filter.limit));
  const text = query.toString();
  return text ? `/api/gallery?${text}` : '/api/gallery';
}

const id = (value: string) => encodeURIComponent(value);

export const api = {
  health: () => call<Health>('GET', '/api/health'),
  models: () => call<ModelInfo[]>('GET', '/api/models'),
  samplers: () => call<SamplerInfo[]>('GET', '/api/samplers'),
  jobs: () => call<JobList>('GET', '/api/jobs'),
  createJob: (request: JobRequest) => call<JobCreated>('POST', '/api/jobs', request),
  runFilters: (request: FilterRequest) => call<JobCreated>('POST', '/api/filters', request),
  session: () => call<SessionInfo>('GET', '/api/auth/session'),
  sharing: () => call<SharingInfo>('GET', '/api/sharing'),
  sharingSettings: () => call<SharingSettingsView>('GET', '/api/settings/sharing'),
  updateSharing: (update: SharingSettingsUpdate) => call<SharingSettingsView>('PUT', '/api/settings/sharing', update),
  filters: () => call<AvailableFilters>('GET', '/api/filters'),
  serverSettings: () => call<ServerSettingsView>('GET', '/api/settings/server'),
  updateServerSettings: (change: ServerSettingsUpdate) => call<ServerSettingsView>('PATCH', '/api/settings/server', change),
  cancelJob: (jobId: string) => call<unknown>('DELETE', `/api/jobs/${id(jobId)}`),
  pauseQueue: () => call<QueueState>('POST', '/api/queue/pause'),
  resumeQueue: () => call<QueueState>('POST', '/api/queue/resume'),
  cancelAll: () => call<QueueState>('POST', '/api/queue/cancel-all'),
  reorderQueue: (ids: string[]) => call<QueueState>('PUT', '/api/queue/order', { ids }),
  gallery: (filter: GalleryFilter, signal?: AbortSignal) => call<GalleryPage>('GET', galleryPath(filter), undefined, signal),
  deleteImage: (imageId: string) => call<unknown>('DELETE', `/api/images/${id(imageId)}`),
  pngInfo: (image: string) => call<PngInfoResult>('POST', '/api/png-info', { image }),
  tokenize: (text: string, model: string | undefined, signal?: AbortSignal) =>
    call<TokenizeResult>('POST', '/api/tokenize', model ? { text, model } : { text }, signal),
};
