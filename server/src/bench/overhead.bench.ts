// Overhead: how much longer a job takes through the HTTP API than onnxruntime spends computing it.
// ratio = (POST /api/jobs → job.done on the websocket) ÷ (sum of the worker's run() times, JobView.timings.onnxMs).
// Each size first runs one job that is not counted (it loads the model and warms onnxruntime for that shape),
// then the measured ones.
import type { Bench, BenchContext } from './bench.js';
import { benchModelsDir, ensureBenchModel, type BenchModelId } from './bench-models.js';
import { fmt, median, table } from './report.js';
import { startServer, timedJob, WatchClient } from './server-harness.js';

interface Row {
  model: string;
  size: number;
  steps: number;
  firstMs: number;
  e2eMs: number;
  onnxMs: number;
  workerMs: number;
  runs: number;
}

export const overheadBench: Bench = {
  name: 'overhead',
  about: 'job time through the HTTP API ÷ time inside onnxruntime, tiny and SD 1.5 at 256² and 512²',
  async run(ctx: BenchContext): Promise<string> {
    const models = (ctx.models ?? (ctx.quick ? ['tiny'] : ['tiny', 'sd15'])) as BenchModelId[];
    const sizes = ctx.sizes ?? (ctx.quick ? [64, 128] : [256, 512]);
    const rows: Row[] = [];
    for (const model of models) {
      await ensureBenchModel(ctx.cacheDir, model, ctx.log);
      const server = await startServer({ modelsDir: benchModelsDir(ctx.cacheDir) });
      const client = await WatchClient.connect(server.url);
      try {
        for (const size of sizes) {
          const tiny = model === 'tiny';
          const steps = ctx.steps ?? (ctx.quick ? 4 : tiny ? 10 : 3);
          const repeats = ctx.quick ? 2 : tiny ? 5 : 1;
          const params = { model, width: size, height: size, steps };
          const first = await timedJob(server.url, client, params);
          const runs = [];
          for (let i = 0; i < repeats; i++) runs.push(await timedJob(server.url, client, { ...params, seed: 2 + i }));
          // The median job by end-to-end time, with its own onnx and worker times.
          const pick = runs.sort((a, b) => a.e2eMs - b.e2eMs)[Math.floor(runs.length / 2)]!;
          const t = pick.job.timings!;
          const row = { model, size, steps, firstMs: first.e2eMs, e2eMs: pick.e2eMs, onnxMs: t.onnxMs, workerMs: t.workerMs, runs: t.onnxRuns };
          ctx.log(`  ${model} ${size}²: first ${fmt.ms(row.firstMs)}, e2e ${fmt.ms(row.e2eMs)}, onnx ${fmt.ms(row.onnxMs)} → ${fmt.ratio(row.e2eMs / row.onnxMs)}`);
          rows.push(row);
        }
      } finally {
        client.close();
        await server.stop();
      }
    }
    return [
      `Euler, guidance 7.5 (the UNet runs batch 2), one image; the median of ${ctx.quick ? 2 : 5} jobs (tiny) / 1 job (SD 1.5) after one uncounted warm-up job per size.`,
      '',
      table(
        ['model', 'size', 'steps', 'first job', 'job (HTTP)', 'onnxruntime', 'worker', '**HTTP ÷ onnx**', 'worker ÷ onnx', 's/step (HTTP)', 'overhead/step'],
        rows.map((r) => [
          r.model,
          `${r.size}²`,
          r.steps,
          fmt.ms(r.firstMs),
          fmt.ms(r.e2eMs),
          `${fmt.ms(r.onnxMs)} (${r.runs} runs)`,
          fmt.ms(r.workerMs),
          `**${fmt.ratio(r.e2eMs / r.onnxMs)}**`,
          fmt.ratio(r.workerMs / r.onnxMs),
          fmt.s(r.e2eMs / r.steps),
          fmt.ms((r.e2eMs - r.onnxMs) / r.steps),
        ]),
      ),
    ].join('\n');
  },
};
