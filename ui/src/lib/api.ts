// Thin typed wrappers over the HTTP API. The shapes come from the server's schemas (type-only imports).
import type {
  ErrorInfo,
  JobCreated,
  JobList,
  JobRequest,
  ModelInfo,
  SamplerInfo,
} from '../../../server/src/http/schemas.js';

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

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers: body === undefined ? undefined : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, { code: 'EASEL_UI_OFFLINE', message: 'Cannot reach the Easel server. Is it running?' });
  }
  const text = await response.text();
  const data: unknown = text ? safeJson(text) : undefined;
  if (!response.ok) throw new ApiError(response.status, errorInfo(data, response));
  return data as T;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function errorInfo(data: unknown, response: Response): ErrorInfo {
  const error = (data as { error?: Partial<ErrorInfo> } | undefined)?.error;
  if (error && typeof error.message === 'string') {
    return { code: error.code ?? `HTTP_${response.status}`, message: error.message, field: error.field };
  }
  return { code: `HTTP_${response.status}`, message: `The server answered ${response.status} ${response.statusText}.` };
}

export const api = {
  models: () => call<ModelInfo[]>('GET', '/api/models'),
  samplers: () => call<SamplerInfo[]>('GET', '/api/samplers'),
  jobs: () => call<JobList>('GET', '/api/jobs'),
  createJob: (request: JobRequest) => call<JobCreated>('POST', '/api/jobs', request),
  cancelJob: (id: string) => call<unknown>('DELETE', `/api/jobs/${encodeURIComponent(id)}`),
};
