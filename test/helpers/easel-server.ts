// Starts the real Easel server (real worker thread, real onnxruntime) on an ephemeral port for e2e and
// browser tests, with the tiny test model in a temp model store.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../../server/src/app.js';
import { loadConfig } from '../../server/src/config/config.js';
import type { JobRequest, JobView } from '../../server/src/http/schemas.js';
import { tinyModelStore } from './tiny-model.js';

export interface TestServer {
  url: string;
  modelId: string;
  outputsDir: string;
  dataDir: string;
  close(): Promise<void>;
}

/**
 * `dataDir` reuses a data folder (a restart); the caller then owns it and close() leaves it in place.
 * Without it the server gets a fresh temp folder that close() removes. `env` is the EASEL_* environment the
 * config reads (none by default).
 */
export async function startTestServer(opts: { steps?: number; dataDir?: string; env?: NodeJS.ProcessEnv } = {}): Promise<TestServer> {
  const { modelsDir, modelId } = await tinyModelStore();
  const ownsData = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'easel-data-')));
  const config = loadConfig(['--port', '0', '--host', '127.0.0.1', '--models', modelsDir, '--data', dataDir, '--no-browser'], opts.env ?? {});
  const app = await buildApp(config);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('server has no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    modelId,
    outputsDir: config.outputsDir,
    dataDir,
    async close() {
      await app.close();
      if (ownsData) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** GET or send JSON to the server; the body parsed. */
export async function apiCall<T>(server: TestServer, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(server.url + path, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

/** Posts a job and waits until it is over (done, failed or cancelled). */
export async function runJob(server: TestServer, request: JobRequest, timeoutMs = 60_000): Promise<JobView> {
  const { id } = await apiCall<{ id: string }>(server, 'POST', '/api/jobs', request);
  return waitForJob(server, id, timeoutMs);
}

export async function waitForJob(server: TestServer, id: string, timeoutMs = 60_000): Promise<JobView> {
  for (const end = Date.now() + timeoutMs; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
    const job = await apiCall<JobView>(server, 'GET', `/api/jobs/${id}`);
    if (job.state !== 'queued' && job.state !== 'running') return job;
  }
  throw new Error(`job ${id} did not finish in ${timeoutMs} ms`);
}
