// onnxruntime's graph optimizer takes most of a large model's load time (15–23 s of a SD 1.5 UNet's session
// creation on a 2-core machine). It can save the optimized graph (optimizedModelFilePath); loading that file with
// the optimizer off gives the same session in seconds. The saved graph holds CPU-specific layouts and fused
// kernels, so it is keyed by the source files, the CPU, the onnxruntime version and the options that shape it.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, renameSync, rmSync, statSync, mkdirSync } from 'node:fs';
import { arch, cpus, platform } from 'node:os';
import { basename, dirname, join } from 'node:path';

/** The subset of onnxruntime's session options this module reads and sets. */
export interface CacheableOptions {
  graphOptimizationLevel?: string;
  executionProviders?: unknown;
  optimizedModelFilePath?: string;
  logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
  extra?: Record<string, unknown>;
}

export async function createCached<O extends CacheableOptions, S>(
  path: string,
  options: O,
  cacheDir: string,
  create: (file: string, options: O) => Promise<S>,
  runtimeVersion = '',
): Promise<S> {
  // <model>-<component>-: a model's component has at most one entry; older ones are deleted when it is replaced.
  const prefix = `${basename(dirname(dirname(path)))}-${basename(dirname(path))}-`;
  const file = join(cacheDir, `${prefix}${cacheKey(path, options, runtimeVersion)}.onnx`);
  if (existsSync(file)) {
    try {
      return await create(file, { ...options, graphOptimizationLevel: 'disabled' });
    } catch {
      // A damaged or foreign file: forget it and optimize afresh below.
      rmSync(file, { force: true });
    }
  }
  try {
    mkdirSync(cacheDir, { recursive: true });
  } catch {
    return create(path, options);
  }
  // Written under a temporary name and renamed once the session exists, so a crash never leaves a half file
  // under the final name. The weights go to a side file (a UNet's exceed protobuf's 2 GB), named for the final
  // model because the model refers to it by name.
  const partial = `${file}.partial-${process.pid}`;
  const session = await create(path, {
    ...options,
    optimizedModelFilePath: partial,
    // Its warning that the saved graph suits only this CPU is what the cache key is for.
    logSeverityLevel: 3,
    extra: {
      ...options.extra,
      session: { optimized_model_external_initializers_file_name: `${basename(file)}.data`, optimized_model_external_initializers_min_size_in_bytes: '1024' },
    },
  });
  try {
    renameSync(partial, file);
    for (const name of readdirSync(cacheDir)) {
      if (name.startsWith(prefix) && !name.startsWith(basename(file))) rmSync(join(cacheDir, name), { force: true });
    }
  } catch {
    rmSync(partial, { force: true });
  }
  return session;
}

/** Hash of everything the optimized graph depends on. */
export function cacheKey(path: string, options: CacheableOptions, runtimeVersion: string): string {
  const hash = createHash('sha256');
  hash.update(`${runtimeVersion}\n${platform()}-${arch()}\n${cpuIdentity()}\n`);
  hash.update(JSON.stringify({ level: options.graphOptimizationLevel ?? 'all', providers: options.executionProviders ?? ['cpu'] }));
  // The model and its external data files: size and modification time, not contents (gigabytes).
  const dir = dirname(path);
  for (const name of readdirSync(dir).sort()) {
    const stat = statSync(join(dir, name));
    if (stat.isFile()) hash.update(`\n${name}:${stat.size}:${stat.mtimeMs}`);
  }
  hash.update(`\n${path}`);
  return hash.digest('hex').slice(0, 16);
}

/** The CPU model and its feature flags: the optimizer picks kernels and layouts by them. */
function cpuIdentity(): string {
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    return `${info.match(/^model name\s*:\s*(.*)$/m)?.[1] ?? ''}|${info.match(/^flags\s*:\s*(.*)$/m)?.[1] ?? ''}`;
  } catch {
    return cpus()[0]?.model ?? 'unknown-cpu';
  }
}
