// What every benchmark gets and gives: the shared options in, a markdown section for docs/BENCHMARKS.md out.
import type { Precision } from '../convert/graph-builder.js';

export interface BenchContext {
  cacheDir: string;
  /** Tiny model only, a few seconds: a smoke test of the benchmark code itself. */
  quick: boolean;
  /** Model ids to run (bench-models.ts), when the command line narrows them. */
  models?: string[];
  sizes?: number[];
  steps?: number;
  /** Session-option sets to compare (compute.bench.ts SESSION_VARIANTS). */
  variants?: string[];
  /** compute: the execution provider to measure ('cuda' on a GPU machine; the CPU by default). */
  provider?: 'cpu' | 'cuda';
  /** compute: fp16 models (each model id's -fp16 twin) and fp16 MatMul ceilings. */
  precision?: Precision;
  log(line: string): void;
}

export interface Bench {
  name: string;
  /** One line for --help. */
  about: string;
  run(ctx: BenchContext): Promise<string>;
}
