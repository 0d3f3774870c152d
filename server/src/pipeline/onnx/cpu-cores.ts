// How many threads onnxruntime should use on the CPU: one per physical core. SMT siblings share a core's vector
// units, so a second thread per core only adds contention to MLAS's GEMM kernels (onnxruntime's own default is the
// physical count too; Node's availableParallelism() counts logical CPUs).
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** Distinct (physical id, core id) pairs of /proc/cpuinfo on Linux; the logical count where that is unknown. */
export function physicalCores(cpuinfo: string = readCpuinfo()): number {
  const pairs = new Set<string>();
  for (const block of cpuinfo.split(/\n\s*\n/)) {
    const core = block.match(/^core id\s*:\s*(\d+)/m)?.[1];
    if (core !== undefined) pairs.add(`${block.match(/^physical id\s*:\s*(\d+)/m)?.[1] ?? 0}:${core}`);
  }
  return pairs.size > 0 ? Math.min(pairs.size, availableParallelism()) : availableParallelism();
}

function readCpuinfo(): string {
  try {
    return readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return '';
  }
}
