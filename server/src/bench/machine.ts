// What the numbers were measured on: a benchmark figure means nothing without the CPU, cores, memory and
// software versions beside it.
import * as ort from 'onnxruntime-node';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { physicalCores } from '../pipeline/onnx/cpu-cores.js';

export interface Machine {
  cpu: string;
  logicalCores: number;
  physicalCores: number;
  /** The SIMD features onnxruntime's MLAS picks kernels by. */
  simd: string[];
  ramGiB: number;
  os: string;
  node: string;
  onnxruntime: string;
  date: string;
}

export function describeMachine(): Machine {
  const info = readCpuinfo();
  const flags = new Set((info.match(/^flags\s*:\s*(.*)$/m)?.[1] ?? '').split(/\s+/));
  return {
    cpu: info.match(/^model name\s*:\s*(.*)$/m)?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown',
    logicalCores: availableParallelism(),
    physicalCores: physicalCores(),
    simd: ['avx2', 'fma', 'avx512f', 'avx512_vnni', 'avx512_bf16', 'amx_tile'].filter((f) => flags.has(f)),
    ramGiB: totalmem() / 2 ** 30,
    os: `${process.platform}-${process.arch}`,
    node: process.version,
    onnxruntime: ort.env.versions.node ?? ort.env.versions.common,
    date: new Date().toISOString().slice(0, 10),
  };
}

function readCpuinfo(): string {
  try {
    return readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return '';
  }
}

export function machineMarkdown(m: Machine): string {
  return [
    `- CPU: ${m.cpu}, ${m.physicalCores} physical / ${m.logicalCores} logical cores (${m.simd.join(', ') || 'no AVX'})`,
    `- RAM: ${m.ramGiB.toFixed(1)} GiB; ${m.os}`,
    `- Node ${m.node}, onnxruntime-node ${m.onnxruntime}`,
    `- measured ${m.date}`,
  ].join('\n');
}
