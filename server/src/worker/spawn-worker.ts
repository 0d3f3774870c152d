// Starts a worker thread from a module beside the caller. Compiled, the module is `<name>.js`. Under tsx (tests)
// it is `<name>.ts`, and worker threads do not inherit tsx's loader, so a two-line bootstrap registers tsx inside
// the worker before importing it.
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';

/** `callerUrl` is the caller's import.meta.url; `name` the worker module's name without extension. */
export function spawnWorker(callerUrl: string, name: string, options: WorkerOptions = {}): Worker {
  if (!callerUrl.endsWith('.ts')) return new Worker(fileURLToPath(new URL(`./${name}.js`, callerUrl)), options);
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = new URL(`./${name}.ts`, callerUrl).href;
  const bootstrap = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(bootstrap, { ...options, eval: true });
}
