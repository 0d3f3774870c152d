// Batching: several images of one job in one UNet call (generateBatch), against the same images one at a time.
// Reports seconds per image, whole (text encoder, steps, decode) and for a steady UNet step alone, and how far a
// batched image's latents are from the same seed's image made alone. Its verdict sets the CPU's default batch
// size (config/batch-size.ts).
import { join } from 'node:path';
import { generateBatch } from '../pipeline/generate.js';
import { physicalCores } from '../pipeline/onnx/cpu-cores.js';
import { loadSdModel, releaseSdModel, type SdModel } from '../pipeline/sd-model.js';
import type { Bench, BenchContext } from './bench.js';
import { ensureBenchModel, withPrecision, type BenchModelId } from './bench-models.js';
import { fmt, median, table } from './report.js';

interface Run {
  /** Wall time of the whole generateBatch call. */
  ms: number;
  /** Time between step callbacks after the first (which also holds the text encoder). */
  steadySteps: number[];
  latents: Float32Array[];
}

const ROUNDS = 2;

interface Row {
  model: string;
  size: number;
  steps: number;
  batch: number;
  perImageMs: number;
  stepPerImageMs: number;
  /** Largest |batched − alone| over the latents, relative to the largest |latent|; undefined for batch 1. */
  difference?: number;
}

export const batchBench: Bench = {
  name: 'batch',
  about: 'seconds per image through generate with 1, 2 (and 4) images per UNet call, tiny and SD 1.5 at 256²/512²',
  async run(ctx: BenchContext): Promise<string> {
    const models = ((ctx.models ?? (ctx.quick ? ['tiny'] : ['tiny', 'sd15-fused'])) as BenchModelId[]).map((m) => withPrecision(m, ctx.precision));
    const providers = ctx.provider === 'cuda' ? (['cuda', 'cpu'] as const) : (['cpu'] as const);
    const rows: Row[] = [];
    for (const id of models) {
      const tiny = id.startsWith('tiny');
      const dir = await ensureBenchModel(ctx.cacheDir, id, ctx.log);
      const model = await loadSdModel(id, dir, { threads: physicalCores(), providers, optimizedCacheDir: join(ctx.cacheDir, 'onnxruntime-cache') });
      try {
        for (const size of ctx.sizes ?? (ctx.quick ? [64] : tiny ? [256] : [256, 512])) {
          const steps = ctx.steps ?? (ctx.quick ? 4 : tiny ? 10 : size >= 512 ? 2 : 4);
          const batches = tiny || ctx.provider === 'cuda' ? [1, 2, 4] : [1, 2];
          const seeds = Array.from({ length: Math.max(...batches) }, (_, i) => 100 + i);
          // onnxruntime's first calls at a new shape are slower: one uncounted 1-step run at each batch first.
          for (const batch of batches) await timedRun(model, size, 1, seeds.slice(0, batch));
          // Rounds alternate the batch sizes, so a neighbour's load on the shared machine falls on all of them.
          // Batch 1 makes every seed of the largest batch alone, so each batched image has its twin to compare.
          const runs = new Map<number, Run[][]>(batches.map((b) => [b, []]));
          for (let round = 0; round < (ctx.quick ? 1 : ROUNDS); round++) {
            for (const batch of batches) {
              const groups = batch === 1 ? seeds.map((seed) => [seed]) : [seeds.slice(0, batch)];
              const made: Run[] = [];
              for (const group of groups) made.push(await timedRun(model, size, steps, group));
              runs.get(batch)!.push(made);
            }
          }
          const alone = runs.get(1)![0]!.map((r) => r.latents[0]!);
          for (const batch of batches) {
            const rounds = runs.get(batch)!;
            const r: Row = { ...row(id, size, steps, batch, rounds), ...(batch > 1 ? { difference: largestDifference(rounds[0]![0]!.latents, alone) } : {}) };
            ctx.log(`  ${id} ${size}² batch ${batch}: ${fmt.s(r.perImageMs)}/image, steady step ${fmt.ms(r.stepPerImageMs)}/image`);
            rows.push(r);
          }
        }
      } finally {
        await releaseSdModel(model);
      }
    }
    return [
      `Euler, guidance 7.5 (each image is 2 rows of the UNet batch: negative and positive prompt), ${ctx.provider === 'cuda' ? 'CUDA' : `${physicalCores()} onnxruntime threads`}. ` +
        `Batch 1 makes each seed alone; batch n makes n seeds in one \`generateBatch\`; after an uncounted 1-step run at each shape, the batch sizes take turns (${ctx.quick ? 1 : ROUNDS} rounds). ` +
        '"s/image" = the whole call (text encoder, every step, one VAE decode per image) ÷ images, best round; "steady step" = median time between step callbacks after the first (which holds the text encoder), ÷ images. ' +
        '"vs alone" = the largest difference between a batched image’s final latents and the same seed’s made alone, relative to the largest latent.',
      '',
      table(
        ['model', 'size', 'steps', 'images per UNet call', 's/image', '**steady step ÷ images**', 'vs batch 1', 'vs alone'],
        rows.map((r) => {
          const base = rows.find((x) => x.model === r.model && x.size === r.size && x.batch === 1)!;
          return [
            r.model,
            `${r.size}²`,
            r.steps,
            r.batch,
            fmt.s(r.perImageMs),
            `**${fmt.ms(r.stepPerImageMs)}**`,
            r.batch === 1 ? '–' : `${fmt.ratio(r.stepPerImageMs / base.stepPerImageMs)} × the step, ${fmt.ratio(r.perImageMs / base.perImageMs)} × the image`,
            r.difference === undefined ? '–' : r.difference.toExponential(1),
          ];
        }),
      ),
    ].join('\n');
  },
};

async function timedRun(model: SdModel, size: number, steps: number, seeds: number[]): Promise<Run> {
  const stepTimes: number[] = [];
  let last = performance.now();
  const started = last;
  const results = await generateBatch(
    model,
    { prompt: 'a photograph of an astronaut riding a horse', negativePrompt: 'blurry', sampler: 'euler', steps, cfgScale: 7.5, width: size, height: size },
    seeds,
    {
      onStep: () => {
        const now = performance.now();
        stepTimes.push(now - last);
        last = now;
      },
    },
  );
  if (!results) throw new Error('the batch stopped before its first step');
  return { ms: performance.now() - started, steadySteps: stepTimes.slice(1), latents: results.map((r) => r.latents) };
}

/** Per image: the best round's whole time (load only ever adds), and the median steady step of every round. */
function row(model: string, size: number, steps: number, batch: number, rounds: Run[][]): Row {
  const perImage = rounds.map((round) => round.reduce((t, r) => t + r.ms, 0) / round.reduce((n, r) => n + r.latents.length, 0));
  return {
    model,
    size,
    steps,
    batch,
    perImageMs: Math.min(...perImage),
    stepPerImageMs: median(rounds.flat().flatMap((r) => r.steadySteps)) / batch,
  };
}

function largestDifference(batched: Float32Array[], alone: Float32Array[]): number {
  let worst = 0;
  let scale = 0;
  batched.forEach((latents, k) =>
    latents.forEach((v, i) => {
      const a = alone[k]![i] as number;
      worst = Math.max(worst, Math.abs(v - a));
      scale = Math.max(scale, Math.abs(a));
    }),
  );
  return worst / Math.max(scale, Number.MIN_VALUE);
}
