// Which onnxruntime execution provider the render worker uses, and why, in words for /api/health. CUDA is chosen
// only when its libraries are installed and a tiny session really runs on it; otherwise the CPU, with the reason,
// so the health report never names a device that is not doing the work.
import * as ort from 'onnxruntime-node';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { SessionOptions } from './onnx-session.js';

export type ProviderName = NonNullable<SessionOptions['providers']>[number];

export interface Device {
  id: string;
  name: string;
  reason: string;
}

export interface ProviderChoice {
  /** In order of preference, as SessionOptions.providers takes them. */
  providers: ProviderName[];
  device: Device;
}

/** What the choice depends on; the tests pass their own. */
export interface ProviderFacts {
  /** `${process.platform}-${process.arch}` */
  platform: string;
  cudaLibrariesInstalled(): boolean;
  /** The first NVIDIA GPU's name, or undefined when nvidia-smi does not answer. */
  nvidiaGpu(): string | undefined;
  /** Creates and runs a tiny session on the CUDA provider; throws onnxruntime's error when it cannot. */
  tryCuda(): Promise<void>;
}

const cpu = (reason: string): ProviderChoice => ({ providers: ['cpu'], device: { id: 'cpu', name: 'CPU', reason: `CPU: ${reason}` } });

export async function chooseExecutionProvider(facts: ProviderFacts = systemFacts()): Promise<ProviderChoice> {
  // onnxruntime-node ships CUDA for Linux x64 only; its DirectML and CoreML providers are not wired into Easel yet.
  if (facts.platform !== 'linux-x64') return cpu(`Easel uses onnxruntime's CPU provider on ${facts.platform}`);
  if (!facts.cudaLibrariesInstalled()) {
    const gpu = facts.nvidiaGpu();
    return cpu(
      gpu
        ? `NVIDIA GPU found (${gpu}), but onnxruntime's CUDA libraries are not installed (delete node_modules and run ./start.sh again to fetch them)`
        : 'no NVIDIA GPU found',
    );
  }
  try {
    await facts.tryCuda();
  } catch (error) {
    return cpu(`onnxruntime's CUDA provider could not run a session: ${firstLine(error)}`);
  }
  const gpu = facts.nvidiaGpu() ?? 'NVIDIA GPU';
  return { providers: ['cuda', 'cpu'], device: { id: 'cuda', name: `CUDA (${gpu})`, reason: `CUDA: onnxruntime's CUDA provider runs on ${gpu}` } };
}

function firstLine(error: unknown): string {
  // onnxruntime's messages can carry its coloured log lines after the first.
  const text = (error instanceof Error ? error.message : String(error)).replace(/\x1b\[[0-9;]*m/g, '');
  return text.split('\n')[0]!.slice(0, 300);
}

/**
 * y = x + x over one float: the smallest graph whose node onnxruntime must place on the provider. Bytes of an ONNX
 * ModelProto (IR 8, opset 13; input x and output y, float32 [1]), written out so the probe needs no model file.
 */
export const PROBE_MODEL = Buffer.from(
  'CAg6OQoOCgF4CgF4EgF5IgNBZGQSBXByb2JlWg8KAXgSCgoICAESBAoCCAFiDwoBeRIKCggIARIECgIIAUIECgAQDQ==',
  'base64',
);

export async function runProbe(providers: ProviderName[]): Promise<number> {
  const session = await ort.InferenceSession.create(PROBE_MODEL, { executionProviders: providers, logSeverityLevel: 3 });
  try {
    const { y } = await session.run({ x: new ort.Tensor('float32', Float32Array.of(1.5), [1]) });
    return (y!.data as Float32Array)[0]!;
  } finally {
    await session.release();
  }
}

function onnxRuntimeBinDir(): string {
  // The package's main is dist/index.js; its native files live in bin/napi-v6/<os>/<arch>/.
  const main = createRequire(import.meta.url).resolve('onnxruntime-node');
  return join(dirname(dirname(main)), 'bin', 'napi-v6', process.platform, process.arch);
}

export function systemFacts(): ProviderFacts {
  return {
    platform: `${process.platform}-${process.arch}`,
    cudaLibrariesInstalled: () =>
      ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so'].every((file) => existsSync(join(onnxRuntimeBinDir(), file))),
    nvidiaGpu: () => {
      const result = spawnSync('nvidia-smi', ['--query-gpu=name', '--format=csv,noheader'], { encoding: 'utf8', timeout: 15_000 });
      return result.status === 0 ? result.stdout.trim().split('\n')[0] || 'NVIDIA GPU' : undefined;
    },
    tryCuda: async () => {
      if ((await runProbe(['cuda'])) !== 3) throw new Error('the CUDA probe session computed a wrong result');
    },
  };
}
