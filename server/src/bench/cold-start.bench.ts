// Cold start: from spawning the server process to /api/health answering, and to the first image of a model
// nothing has loaded yet. Run twice on the same data folder: the first start finds no optimized-model cache,
// the second finds the one the first wrote (pipeline/onnx/optimized-model-cache.ts).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bench, BenchContext } from './bench.js';
import { benchModelsDir, ensureBenchModel, type BenchModelId } from './bench-models.js';
import { fmt, table } from './report.js';
import { defaultEntry, freePort, startServer, timedJob, WatchClient } from './server-harness.js';

export const coldStartBench: Bench = {
  name: 'cold-start',
  about: 'process start → /api/health OK, and → first image with a cold model (without and with the optimized-model cache)',
  async run(ctx: BenchContext): Promise<string> {
    const models = (ctx.models ?? (ctx.quick ? ['tiny'] : ['tiny', 'sd15'])) as BenchModelId[];
    const entry = defaultEntry();
    const rows: string[][] = [];
    for (const model of models) {
      await ensureBenchModel(ctx.cacheDir, model, ctx.log);
      const size = ctx.sizes?.[0] ?? (model === 'tiny' ? 64 : 512);
      const steps = ctx.steps ?? 2;
      const dataDir = await mkdtemp(join(tmpdir(), 'easel-bench-cold-'));
      try {
        for (const start of ['first start', 'second start']) {
          const port = await freePort();
          const starting = startServer({ modelsDir: benchModelsDir(ctx.cacheDir), entry, dataDir, port });
          const healthAt = await pollHealth(`http://127.0.0.1:${port}`);
          const server = await starting;
          try {
            const client = await WatchClient.connect(server.url);
            const { e2eMs, job } = await timedJob(server.url, client, { model, width: size, height: size, steps });
            client.close();
            const imageAt = performance.now();
            const t = job.timings!;
            ctx.log(`  ${model} ${start}: health ${fmt.ms(healthAt - server.spawnedAt)}, first image ${fmt.ms(imageAt - server.spawnedAt)}`);
            rows.push([
              model,
              `${size}², ${steps} steps`,
              start,
              `**${fmt.ms(healthAt - server.spawnedAt)}**`,
              `**${fmt.s(imageAt - server.spawnedAt)}**`,
              fmt.s(e2eMs),
              fmt.s(t.workerMs - t.onnxMs),
              fmt.s(t.onnxMs),
            ]);
          } finally {
            await server.stop();
          }
        }
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    }
    return [
      `Server started as \`node ${entry === 'dist' ? 'server/dist/main.js' : '--import tsx server/src/main.ts'}\` (${entry === 'dist' ? 'compiled' : 'sources through tsx: the build was older than the sources'}); model files already in the OS page cache.`,
      '',
      table(['model', 'job', 'start', 'spawn → /api/health OK', 'spawn → first image', 'job (HTTP)', 'worker outside onnx (mostly loading)', 'inside onnx'], rows),
    ].join('\n');
  },
};

/** Polls until /api/health answers 200; returns when (performance.now()). */
async function pollHealth(url: string, timeoutMs = 120_000): Promise<number> {
  const until = performance.now() + timeoutMs;
  while (performance.now() < until) {
    try {
      const response = await fetch(`${url}/api/health`);
      if (response.ok) return performance.now();
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`${url}/api/health did not answer within ${timeoutMs / 1000} s`);
}
