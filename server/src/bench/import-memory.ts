// Measures what importing and loading a full-size model costs: writes an SD 1.5-shaped single-file checkpoint from
// random weights (float16, as most shared checkpoints are: 2.1 GB), imports it, loads the result in onnxruntime,
// and prints time and peak resident memory of each step. Each step runs in a fresh process, so each peak is its own.
// Needs about 6.5 GB of free disk in the temp folder; everything is deleted afterwards.
//   node --import tsx server/src/bench/import-memory.ts [--dir <temp parent>] [--keep]
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, freemem, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { builtinConfig } from '../convert/sd-config.js';
import { writeRandomCheckpoint } from './random-checkpoint.js';

interface Measured {
  ms: number;
  /** Peak resident set of the whole process (all threads), bytes. */
  peakRss: number;
  /** Resident set at the end of the step, bytes. */
  endRss: number;
  note?: string;
}

const GB = 1e9;
const report = (m: Measured): void => console.log(JSON.stringify(m));
const peak = (): number => process.resourceUsage().maxRSS * 1024;

async function phase(name: string, args: { source?: string; out?: string }): Promise<void> {
  const start = performance.now();
  if (name === 'write') {
    const bytes = await writeRandomCheckpoint(args.source!, { config: builtinConfig('sd15'), family: 'sd1', dtype: 'F16', seed: 1 });
    report({ ms: performance.now() - start, peakRss: peak(), endRss: process.memoryUsage().rss, note: `${(bytes / GB).toFixed(2)} GB` });
  } else if (name === 'import') {
    const { importCheckpoint } = await import('../convert/import-checkpoint.js');
    const result = await importCheckpoint({ source: args.source!, outDir: args.out! });
    const bytes = Object.values(result.components).reduce((n, c) => n + c.modelBytes + c.externalDataBytes, 0);
    report({ ms: performance.now() - start, peakRss: peak(), endRss: process.memoryUsage().rss, note: `${(bytes / GB).toFixed(2)} GB written` });
  } else if (name === 'load') {
    const { loadSdModel, releaseSdModel } = await import('../pipeline/sd-model.js');
    const model = await loadSdModel('bench', args.out!, { threads: cpus().length });
    const ms = performance.now() - start;
    const endRss = process.memoryUsage().rss;
    await releaseSdModel(model);
    report({ ms, peakRss: peak(), endRss });
  }
}

function runPhase(name: string, args: string[]): Measured {
  const self = fileURLToPath(import.meta.url);
  const child = spawnSync(process.execPath, [...process.execArgv, self, '--phase', name, ...args], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (child.status !== 0) throw new Error(`${name} failed (exit ${child.status}): ${child.stderr}`);
  const line = child.stdout.trim().split('\n').pop()!;
  return JSON.parse(line) as Measured;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { phase: { type: 'string' }, source: { type: 'string' }, out: { type: 'string' }, dir: { type: 'string' }, keep: { type: 'boolean' } },
  });
  if (values.phase) return phase(values.phase, values);

  const dir = await mkdtemp(join(values.dir ?? tmpdir(), 'easel-import-memory-'));
  const source = join(dir, 'sd15-random.safetensors');
  const out = join(dir, 'stable-diffusion', 'sd15-random');
  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model}, ${(totalmem() / GB).toFixed(1)} GB RAM (${(freemem() / GB).toFixed(1)} GB free)`);
  try {
    const steps: [string, Measured][] = [];
    for (const [name, args] of [['write', ['--source', source]], ['import', ['--source', source, '--out', out]], ['load', ['--out', out]]] as const) {
      const measured = runPhase(name, [...args]);
      steps.push([name, measured]);
      console.log(`${name}: ${(measured.ms / 1000).toFixed(1)} s, peak RSS ${(measured.peakRss / 2 ** 20).toFixed(0)} MiB${measured.note ? ` (${measured.note})` : ''}`);
    }
    console.log('\n| step | time | peak RSS | RSS at the end |\n| --- | --- | --- | --- |');
    for (const [name, m] of steps) {
      console.log(`| ${name} | ${(m.ms / 1000).toFixed(1)} s | ${(m.peakRss / 2 ** 20).toFixed(0)} MiB | ${(m.endRss / 2 ** 20).toFixed(0)} MiB |`);
    }
  } finally {
    if (values.keep) console.log(`kept ${dir}`);
    else await rm(dir, { recursive: true, force: true });
  }
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
