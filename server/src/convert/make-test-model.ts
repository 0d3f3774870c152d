// CLI: writes the tiny random-weight test pipeline.
//   node server/dist/convert/make-test-model.js <dir> [--seed N] [--fp16]   (npm run make-test-model -- <dir>)
import { readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import type { Precision } from './graph-builder.js';
import { writeTinyModel } from './tiny-model.js';

const USAGE = 'usage: npm run make-test-model -- <dir> [--seed N] [--fp16]\n' +
  '  Writes a tiny random-weight Stable Diffusion pipeline (diffusers ONNX layout) into <dir>.\n' +
  '  --fp16  float16 weights and compute, float32 inputs and outputs (as `import --fp16` writes)';

class UsageError extends Error {}

interface CliArgs {
  dir: string;
  seed: number;
  precision: Precision;
}

function parseCli(argv: string[]): CliArgs {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { seed: { type: 'string' }, fp16: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (positionals.length !== 1) {
    throw new UsageError(positionals.length === 0 ? 'missing <dir>' : 'expected exactly one <dir>');
  }
  const seed = values.seed === undefined ? 0 : Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new UsageError(`--seed must be an integer from 0 to ${0xffffffff}, got "${values.seed}"`);
  }
  return { dir: positionals[0], seed, precision: values.fp16 ? 'fp16' : 'fp32' };
}

async function listFiles(root: string): Promise<{ path: string; bytes: number }[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const files = entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
  const sized = await Promise.all(files.map(async (f) => ({ path: relative(root, f), bytes: (await stat(f)).size })));
  return sized.sort((a, b) => a.path.localeCompare(b.path));
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
}

async function main(): Promise<void> {
  let args: CliArgs;
  try {
    args = parseCli(process.argv.slice(2));
  } catch (err) {
    // parseArgs throws TypeErrors with a readable message for unknown options.
    console.error(`error: ${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  const start = performance.now();
  await writeTinyModel(args.dir, { seed: args.seed, precision: args.precision });
  const ms = performance.now() - start;
  const files = await listFiles(args.dir);
  console.log(`wrote tiny test model (seed ${args.seed}, ${args.precision}) to ${args.dir}`);
  for (const f of files) console.log(`  ${f.path.padEnd(36)} ${formatBytes(f.bytes).padStart(10)}`);
  const total = files.reduce((n, f) => n + f.bytes, 0);
  console.log(`total ${formatBytes(total)} in ${files.length} files, ${ms.toFixed(0)} ms`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack ?? err.message : err);
  process.exit(1);
});
