// npm run bench -- [names…] [--quick] [--models a,b] [--sizes 256,512] [--steps N] [--fp16] [--cache DIR] [--no-write]
// Runs the named benchmarks (all when none is named) and writes each one's section of docs/BENCHMARKS.md.
// --quick: the tiny model only, in seconds, printed but not written (unless --write): a smoke test of this code.
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Bench, BenchContext } from './bench.js';
import { batchBench } from './batch.bench.js';
import { defaultCacheDir } from './bench-models.js';
import { coldStartBench } from './cold-start.bench.js';
import { computeBench } from './compute.bench.js';
import { describeMachine, machineMarkdown } from './machine.js';
import { memoryBench } from './memory.bench.js';
import { overheadBench } from './overhead.bench.js';
import { previewBench } from './preview.bench.js';
import { writeSection } from './report.js';
import { responsivenessBench } from './responsiveness.bench.js';
import { repoRoot } from './server-harness.js';

const BENCHES: Bench[] = [overheadBench, computeBench, memoryBench, responsivenessBench, coldStartBench, batchBench, previewBench];

const USAGE = `usage: npm run bench -- [${BENCHES.map((b) => b.name).join('|')} …] [options]
${BENCHES.map((b) => `  ${b.name.padEnd(15)} ${b.about}`).join('\n')}
options:
  --quick           tiny model only, seconds; prints, writes nothing unless --write
  --models a,b      model ids: tiny, sd15, sd15-fused, and each one's fp16 twin (sd15-fused-fp16, …)
  --sizes 256,512   image sides
  --steps N         denoising steps per job (compute: timed UNet calls)
  --variants a,b    compute: session options to compare (default, no-arena, no-mempattern, threads-1)
  --cache DIR       where the generated models are kept (default $EASEL_BENCH_CACHE or <tmp>/easel-bench)
  --provider cuda   compute: run on onnxruntime's CUDA provider (GPU machines; see docs/BENCHMARKS.md)
  --fp16            compute: the models' fp16 twins (float16 weights and compute) and fp16 MatMul ceilings
  --no-write        print only; --write forces writing docs/BENCHMARKS.md`;

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      quick: { type: 'boolean' },
      models: { type: 'string' },
      sizes: { type: 'string' },
      steps: { type: 'string' },
      variants: { type: 'string' },
      provider: { type: 'string' },
      fp16: { type: 'boolean' },
      cache: { type: 'string' },
      write: { type: 'boolean' },
      'no-write': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const unknown = positionals.filter((n) => !BENCHES.some((b) => b.name === n));
  if (unknown.length > 0) throw new Error(`unknown benchmark ${unknown.join(', ')}\n${USAGE}`);
  const selected = positionals.length > 0 ? BENCHES.filter((b) => positionals.includes(b.name)) : BENCHES;
  const list = (text: string | undefined) => text?.split(',').map((s) => s.trim()).filter(Boolean);
  const quick = values.quick ?? false;
  const write = values['no-write'] ? false : (values.write ?? !quick);
  const ctx: BenchContext = {
    cacheDir: values.cache ?? defaultCacheDir(),
    quick,
    log: (line) => console.log(line),
    ...(values.models ? { models: list(values.models) } : {}),
    ...(values.sizes ? { sizes: list(values.sizes)!.map(Number) } : {}),
    ...(values.steps ? { steps: Number(values.steps) } : {}),
    ...(values.variants ? { variants: list(values.variants) } : {}),
    ...(values.provider ? { provider: parseProvider(values.provider) } : {}),
    ...(values.fp16 ? { precision: 'fp16' as const } : {}),
  };
  const doc = join(repoRoot, 'docs', 'BENCHMARKS.md');
  // A GPU or fp16 run has sections of its own, so it never overwrites the CPU figures (or their machine).
  const suffix = `${ctx.provider === 'cuda' ? '-cuda' : ''}${ctx.precision === 'fp16' ? '-fp16' : ''}`;
  const machine = machineMarkdown(describeMachine());
  console.log(machine);
  if (write) writeSection(doc, `machine${ctx.provider === 'cuda' ? '-cuda' : ''}`, machine);
  for (const bench of selected) {
    console.log(`\n## ${bench.name}`);
    const started = performance.now();
    const loadBefore = loadavg()[0]!;
    const body = await bench.run(ctx);
    const took = `_Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, took ${((performance.now() - started) / 1000).toFixed(0)} s; load average ${loadBefore.toFixed(1)} before, ${loadavg()[0]!.toFixed(1)} after, on ${availableParallelism()} cores_ (\`npm run bench -- ${[bench.name, ...process.argv.slice(2).filter((a) => !BENCHES.some((b) => b.name === a))].join(' ')}\`).`;
    const section = `${body}\n\n${took}`;
    console.log(`\n${section}`);
    if (write) writeSection(doc, `${bench.name}${suffix}`, section);
  }
}

function parseProvider(value: string): 'cpu' | 'cuda' {
  if (value !== 'cpu' && value !== 'cuda') throw new Error(`--provider must be cpu or cuda, got "${value}"`);
  return value;
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
