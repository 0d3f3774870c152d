// Memory: peak resident memory to load a model and make one image, in normal and low-memory mode, beside the
// size of the weights it loads. Each configuration runs in a fresh process (memory-probe.ts): peak RSS is
// per process and onnxruntime does not give memory back.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bench, BenchContext } from './bench.js';
import { ensureBenchModel, txt2imgComponents, type BenchModelId } from './bench-models.js';
import type { MemoryProbeArgs, MemoryProbeResult } from './memory-probe.js';
import { fmt, table } from './report.js';

const PROBE = fileURLToPath(new URL(`./memory-probe${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url));

export const memoryBench: Bench = {
  name: 'memory',
  about: 'peak RSS to load and run SD 1.5 (normal and low-memory mode) beside the weight size',
  async run(ctx: BenchContext): Promise<string> {
    const models = (ctx.models ?? (ctx.quick ? ['tiny'] : ['sd15'])) as BenchModelId[];
    const sizes = ctx.sizes ?? (ctx.quick ? [128] : [512]);
    const steps = ctx.steps ?? 2;
    const modes = ctx.variants ?? ['normal', 'low-memory'];
    const rows: string[][] = [];
    for (const model of models) {
      const dir = await ensureBenchModel(ctx.cacheDir, model, ctx.log);
      const weights = txt2imgComponents().reduce((n, c) => n + folderBytes(join(dir, c)), 0);
      for (const size of sizes) {
        for (const mode of modes) {
          const lowMemory = mode.startsWith('low-memory');
          // "normal:no-arena" and the like: a session variant after the colon; "vae-whole", "vae-tiled": the decoder alone.
          const variant = mode.split(':')[1] ?? 'default';
          const vae = mode.startsWith('vae-') ? (mode.split(':')[0]!.slice(4) as 'whole' | 'tiled') : undefined;
          const optimizedCacheDir = join(ctx.cacheDir, 'onnxruntime-cache');
          const r = await probe({ modelDir: dir, size, steps, lowMemory, variant, optimizedCacheDir, ...(vae ? { vae } : {}) });
          ctx.log(`  ${model} ${size}² ${mode}: load peak ${fmt.gib(r.loadPeak)}, run peak ${fmt.gib(r.runPeak)}, ${fmt.s(r.runMs)}`);
          rows.push([
            model,
            `${size}²`,
            mode,
            fmt.gib(vae ? folderBytes(join(dir, 'vae_decoder')) : weights),
            fmt.gib(r.startRss),
            fmt.gib(r.loadPeak),
            `**${fmt.gib(r.runPeak)}**`,
            (r.runPeak / (vae ? folderBytes(join(dir, 'vae_decoder')) : weights)).toFixed(2),
            fmt.s(r.loadMs),
            fmt.s(r.runMs),
          ]);
        }
      }
    }
    return [
      `One image, Euler, ${steps} steps, guidance 7.5; each row is a fresh process (its peak RSS, VmHWM), loading through the optimized-model cache as the server does (the first row of a model writes it). Weights: text encoder + UNet + VAE decoder files (the decoder's alone for vae-* rows: random latents decoded whole or in 512-px tiles).`,
      '',
      table(['model', 'size', 'mode', 'weights', 'process before load', 'peak after load', '**peak after image**', 'peak ÷ weights', 'load', 'image'], rows),
    ].join('\n');
  },
};

function folderBytes(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((n, e) => n + (e.isFile() ? statSync(join(dir, e.name)).size : 0), 0);
}

function probe(args: MemoryProbeArgs): Promise<MemoryProbeResult> {
  const runner = PROBE.endsWith('.ts') ? ['--import', 'tsx'] : [];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...runner, PROBE, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('PROBE '));
      if (code === 0 && line) resolve(JSON.parse(line.slice(6)) as MemoryProbeResult);
      else reject(new Error(`memory probe failed (exit ${code}):\n${out.slice(-2000)}`));
    });
  });
}
