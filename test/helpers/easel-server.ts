// Starts the real Easel server (real worker thread, real onnxruntime) on an ephemeral port for e2e and
// browser tests, with the tiny test model in a temp model store.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../../server/src/app.js';
import { loadConfig } from '../../server/src/config/config.js';
import { tinyModelStore } from './tiny-model.js';

export interface TestServer {
  url: string;
  modelId: string;
  outputsDir: string;
  close(): Promise<void>;
}

export async function startTestServer(_opts: { steps?: number } = {}): Promise<TestServer> {
  const { modelsDir, modelId } = await tinyModelStore();
  const dataDir = await mkdtemp(join(tmpdir(), 'easel-data-'));
  const config = loadConfig(['--port', '0', '--host', '127.0.0.1', '--models', modelsDir, '--data', dataDir, '--no-browser'], {});
  const app = await buildApp(config);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('server has no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    modelId,
    outputsDir: config.outputsDir,
    async close() {
      await app.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
