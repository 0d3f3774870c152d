// Responsiveness while a job runs: the main thread must stay quick although onnxruntime keeps every core busy.
//   - GET /api/jobs latency, idle and during a job;
//   - websocket event delay: POST /api/queue/pause (or resume) → the `queue` event it causes, as a client sees it;
//   - preview cost per step (latents → RGB → JPEG, what the worker adds to each step) against the step time;
//   - 50 websocket clients watching one job: how far apart the clients receive each event, and whether all get all.
import { encodePreview } from '../images/encode.js';
import { latentsToRgb } from '../pipeline/preview/latent-preview.js';
import { TorchGenerator } from '../pipeline/rng.js';
import type { Bench, BenchContext } from './bench.js';
import { benchModelsDir, ensureBenchModel, type BenchModelId } from './bench-models.js';
import { fmt, median, percentile, table } from './report.js';
import { postJob, startServer, timedJob, WatchClient, type JobParams } from './server-harness.js';

const CLIENTS = 50;
// The render worker's preview size (worker/render-worker.ts).
const PREVIEW_SIDE = 256;

export const responsivenessBench: Bench = {
  name: 'responsiveness',
  about: 'GET /api/jobs and websocket event latency during a job, preview cost per step, 50 watching clients',
  async run(ctx: BenchContext): Promise<string> {
    const model = (ctx.models?.[0] ?? (ctx.quick ? 'tiny' : 'sd15')) as BenchModelId;
    const size = ctx.sizes?.[0] ?? (ctx.quick ? 64 : 256);
    const steps = ctx.steps ?? (ctx.quick ? 20 : 8);
    await ensureBenchModel(ctx.cacheDir, model, ctx.log);
    const server = await startServer({ modelsDir: benchModelsDir(ctx.cacheDir) });
    const watcher = await WatchClient.connect(server.url);
    const params: JobParams = { model, width: size, height: size, steps };
    try {
      await timedJob(server.url, watcher, { ...params, steps: 2 }); // loads the model and warms this shape
      const idle = await sampleGets(server.url, 50);

      // One job, probed all the way through.
      const during: number[] = [];
      const eventDelays: number[] = [];
      const since = performance.now();
      const id = await postJob(server.url, params);
      await watcher.next((m) => m.event?.type === 'job.started', since);
      const done = watcher.finished(id, since);
      let finished = false;
      void done.then(() => (finished = true), () => (finished = true));
      for (let i = 0; !finished; i++) {
        during.push(...(await sampleGets(server.url, 1)));
        if (i % 10 === 5) eventDelays.push(await queueEventDelay(server.url, watcher, i % 20 === 5 ? 'pause' : 'resume'));
        await sleep(25);
      }
      await done;
      await fetch(`${server.url}/api/queue/resume`, { method: 'POST' });
      const progress = watcher.messages.filter((m) => m.at >= since && m.event?.type === 'job.progress');
      const stepGaps = progress.slice(1).map((m, i) => m.at - progress[i]!.at);
      const stepMs = median(stepGaps);
      const previewMs = await previewCost(size / 8);

      // 50 clients watching one job.
      const clients = await Promise.all(Array.from({ length: CLIENTS }, () => WatchClient.connect(server.url)));
      const fanStart = performance.now();
      const fanId = await postJob(server.url, { ...params, seed: 7 });
      const duringFan: number[] = [];
      let fanDone = false;
      const fanFinished = Promise.all(clients.map((c) => c.finished(fanId, fanStart)));
      void fanFinished.then(() => (fanDone = true), () => (fanDone = true));
      while (!fanDone) {
        duringFan.push(...(await sampleGets(server.url, 1)));
        await sleep(25);
      }
      await fanFinished;
      const perClient = clients.map((c) => c.messages.filter((m) => m.at >= fanStart));
      const progressCounts = perClient.map((ms) => ms.filter((m) => m.event?.type === 'job.progress').length);
      const previewCounts = perClient.map((ms) => ms.filter((m) => !m.event).length);
      // Spread of each progress event's arrival over the clients: the fan-out time.
      const spreads: number[] = [];
      for (let step = 1; step <= steps; step++) {
        const arrivals = perClient
          .map((ms) => ms.find((m) => m.event?.type === 'job.progress' && m.event.step === step)?.at)
          .filter((t): t is number => t !== undefined);
        if (arrivals.length > 0) spreads.push(Math.max(...arrivals) - Math.min(...arrivals));
      }
      for (const c of clients) c.close();

      const dist = (xs: number[]) => `${fmt.ms(percentile(xs, 50))} / ${fmt.ms(percentile(xs, 99))} (n=${xs.length})`;
      ctx.log(`  GET /api/jobs idle ${dist(idle)}, during a job ${dist(during)}; event delay ${dist(eventDelays)}`);
      return [
        `${model} at ${size}², ${steps} steps, guidance 7.5; server in its own process, clients in the benchmark's process (both on this machine's cores).`,
        '',
        table(
          ['measure', 'p50 / p99'],
          [
            ['GET /api/jobs, idle', dist(idle)],
            ['GET /api/jobs, during a job', dist(during)],
            ['websocket event delay during a job (POST pause/resume → `queue` event)', dist(eventDelays)],
            [`GET /api/jobs during a job with ${CLIENTS} websocket clients`, dist(duringFan)],
            [`spread of a progress event's arrival over ${CLIENTS} clients`, dist(spreads)],
          ],
        ),
        '',
        table(
          ['measure', 'value'],
          [
            ['step time (between progress events)', fmt.ms(stepMs)],
            [`preview per step (latents → RGB → ${PREVIEW_SIDE}px JPEG, median of 30)`, fmt.ms(previewMs)],
            ['**preview ÷ step**', `**${fmt.pct(previewMs / stepMs)}**`],
            [`${CLIENTS} clients: progress events received per client (min–max, of ${steps})`, `${Math.min(...progressCounts)}–${Math.max(...progressCounts)}`],
            [`${CLIENTS} clients: previews received per client (min–max)`, `${Math.min(...previewCounts)}–${Math.max(...previewCounts)}`],
          ],
        ),
      ].join('\n');
    } finally {
      watcher.close();
      await server.stop();
    }
  },
};

async function sampleGets(url: string, count: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    const response = await fetch(`${url}/api/jobs`);
    await response.arrayBuffer();
    out.push(performance.now() - started);
  }
  return out;
}

async function queueEventDelay(url: string, client: WatchClient, action: 'pause' | 'resume'): Promise<number> {
  const started = performance.now();
  const event = client.next((m) => m.event?.type === 'queue' && m.event.paused === (action === 'pause'), started, 60_000);
  const response = await fetch(`${url}/api/queue/${action}`, { method: 'POST' });
  if (!response.ok) throw new Error(`POST /api/queue/${action} answered ${response.status}`);
  return (await event).at - started;
}

/** What the worker does for each step's preview, timed in this process. */
async function previewCost(latentSide: number): Promise<number> {
  const latents = new TorchGenerator(3).randn(4 * latentSide * latentSide);
  const times: number[] = [];
  for (let i = 0; i < 33; i++) {
    const started = performance.now();
    await encodePreview(latentsToRgb(latents, latentSide, latentSide), PREVIEW_SIDE);
    if (i >= 3) times.push(performance.now() - started);
  }
  return median(times);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
