// What a live preview costs per step: the linear map (what responsiveness.bench measures inside a job) against
// TAESD (full-size architecture, seeded random weights from the graph builder: the same convolutions a trained
// one runs), each through to the 256-px JPEG the worker sends. Step times are the UNet's measured ones from
// docs/BENCHMARKS.md (compute 07:39, sd15-fused, batch 2), not re-run here; the cadence is what the previewer's
// budget (pipeline/preview/preview-budget.ts) makes of these costs.
import { mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeModel } from '../convert/onnx-proto.js';
import { buildTaesdDecoder } from '../convert/taesd.js';
import { encodePreview } from '../images/encode.js';
import { physicalCores } from '../pipeline/onnx/cpu-cores.js';
import { latentsToRgb } from '../pipeline/preview/latent-preview.js';
import { DEFAULT_PREVIEW_SHARE } from '../pipeline/preview/previewer.js';
import { decodeSteps } from '../pipeline/preview/preview-budget.js';
import { TaesdDecoder } from '../pipeline/preview/taesd-decoder.js';
import { TorchGenerator } from '../pipeline/rng.js';
import type { Bench, BenchContext } from './bench.js';
import { countFlops } from './flops.js';
import { fmt, median, table } from './report.js';

// The render worker's preview size (worker/render-worker.ts).
const PREVIEW_SIDE = 256;
/** sd15-fused s/step (steady median, batch 2) by image side: docs/BENCHMARKS.md, compute 07:39. */
const SD15_STEP_MS: Record<number, number> = { 256: 2340, 512: 9900 };
const JOB_STEPS = 20;

export const previewBench: Bench = {
  name: 'preview',
  about: 'live preview cost per step: the linear map and TAESD (random full-size weights) against SD 1.5 step times',
  async run(ctx: BenchContext): Promise<string> {
    const sizes = ctx.sizes ?? (ctx.quick ? [256] : [256, 512]);
    // Its own store: in the benchmark models' store it would change the other benchmarks' previews.
    const path = join(ctx.cacheDir, 'preview-store', 'vae-approx', 'taesd', 'vae_decoder', 'model.onnx');
    if (!existsSync(path)) {
      await mkdir(dirname(path), { recursive: true });
      await writeModel(path, buildTaesdDecoder(undefined, { seed: 0 }));
    }
    const threads = physicalCores();
    const taesd = await TaesdDecoder.load(path, { threads });
    const rows: string[][] = [];
    try {
      for (const size of sizes) {
        const side = size / 8;
        const latents = new TorchGenerator(3).randn(4 * side * side);
        const linearMs = await timed(30, async () => encodePreview(latentsToRgb(latents, side, side), PREVIEW_SIDE));
        const runs = ctx.quick ? 2 : size >= 512 ? 5 : 9;
        const taesdMs = await timed(runs, async () => encodePreview(await taesd.decode(latents, side, side, PREVIEW_SIDE), PREVIEW_SIDE));
        const gflop = countFlops(buildTaesdDecoder(), { latent_sample: [1, 4, side, side] }).total / 1e9;
        const stepMs = SD15_STEP_MS[size];
        const cadence = stepMs ? decodeSteps(DEFAULT_PREVIEW_SHARE, stepMs, taesdMs, JOB_STEPS) : [];
        ctx.log(`  ${size}²: linear ${fmt.ms(linearMs)}, TAESD ${fmt.ms(taesdMs)} (${gflop.toFixed(0)} GFLOP)`);
        rows.push([
          `${size}²`,
          fmt.ms(linearMs),
          stepMs ? fmt.pct(linearMs / stepMs) : '—',
          `**${fmt.ms(taesdMs)}** (${(gflop / (taesdMs / 1000)).toFixed(0)} GFLOP/s)`,
          stepMs ? `${fmt.s(stepMs)}` : '—',
          stepMs ? `**${fmt.pct(taesdMs / stepMs)}**` : '—',
          stepMs ? `${cadence.join(', ') || 'none'} (${fmt.pct((cadence.length * taesdMs) / (JOB_STEPS * stepMs))})` : '—',
        ]);
      }
    } finally {
      await taesd.release();
    }
    return [
      `Per preview, median, in this process with ${threads} onnxruntime threads: latents → RGB → ${PREVIEW_SIDE}px JPEG. TAESD: the full-size decoder (1,222,531 parameters, ` +
        `seeded random weights), its 8× output box-averaged to ${PREVIEW_SIDE} px. Step: SD 1.5 (sd15-fused), batch 2, from the compute results above (not re-run). ` +
        `Cadence: the steps of a ${JOB_STEPS}-step job at which the previewer's budget (${fmt.pct(DEFAULT_PREVIEW_SHARE)} of the step time) runs TAESD, and what they add to the job.`,
      '',
      table(['size', 'linear preview', 'linear ÷ step', 'TAESD preview', 'SD 1.5 step', '**TAESD ÷ step**', `TAESD steps of ${JOB_STEPS} (added to the job)`], rows),
    ].join('\n');
  },
};

/** Median of `runs` timed calls after one untimed warm-up. */
async function timed(runs: number, fn: () => Promise<unknown>): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await fn();
    times.push(performance.now() - started);
  }
  return median(times);
}
