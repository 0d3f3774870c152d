// The main thread's side of the render worker: starts it, routes its messages, and restarts it if it dies
// (the running job then fails; the queue goes on).
import type { Worker } from 'node:worker_threads';
import { spawnWorker } from './spawn-worker.js';
import type { FromWorker, RenderJob, ToWorker, WorkerSettings } from './protocol.js';

type Listener = (message: FromWorker) => void;


// A worker that dies again and again (a broken install, say) is restarted ever more slowly, not in a hot loop.
const RESTART_DELAY_MS = { first: 250, max: 30_000 };

export class WorkerHost {
  private worker: Worker | undefined;
  private readonly listeners = new Set<Listener>();
  private runningJobId: string | undefined;
  private closing = false;
  private restartDelay = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private startedAt = 0;
  /** The owner's settings, given again to every worker this host starts, before any job. */
  private settings: WorkerSettings | undefined;
  devices: { id: string; name: string; reason: string }[] = [];

  start(): void {
    this.restartTimer = undefined;
    this.startedAt = Date.now();
    const worker = spawnWorker(import.meta.url, 'render-worker');
    if (this.settings) worker.postMessage({ type: 'settings', ...this.settings } satisfies ToWorker);
    worker.on('message', (message: FromWorker) => {
      if (message.type === 'ready') this.devices = message.devices;
      if (message.type === 'finished' || message.type === 'failed') this.runningJobId = undefined;
      for (const listener of this.listeners) listener(message);
    });
    let lastError: string | undefined;
    // 'error' is always followed by 'exit', so the restart happens once, there.
    worker.on('error', (error) => (lastError = error.message));
    worker.on('exit', (code) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      if (!this.closing) this.crashed(lastError ?? `the render worker stopped (exit code ${code})`);
    });
    this.worker = worker;
  }

  onMessage(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  run(job: RenderJob): void {
    this.runningJobId = job.id;
    this.post({ type: 'run', job });
  }

  cancel(jobId: string): void {
    this.post({ type: 'cancel', jobId });
  }

  skip(jobId: string): void {
    this.post({ type: 'skip', jobId });
  }

  /** Settings for the worker (low-memory mode): they apply from its next model load. */
  configure(settings: WorkerSettings): void {
    this.settings = settings;
    this.worker?.postMessage({ type: 'settings', ...settings } satisfies ToWorker);
  }

  /** Asks the worker to stop after the current step and exit; ends it by force after `graceMs`. */
  async close(graceMs = 5000): Promise<void> {
    this.closing = true;
    clearTimeout(this.restartTimer);
    const worker = this.worker;
    if (!worker) return;
    if (this.runningJobId) this.post({ type: 'cancel', jobId: this.runningJobId });
    this.post({ type: 'shutdown' });
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    const timer = setTimeout(() => void worker.terminate(), graceMs);
    await exited;
    clearTimeout(timer);
  }

  private post(message: ToWorker): void {
    if (!this.worker) {
      clearTimeout(this.restartTimer); // a job is waiting: try now rather than after the back-off
      this.start();
    }
    this.worker!.postMessage(message);
  }

  private crashed(reason: string): void {
    const jobId = this.runningJobId;
    this.runningJobId = undefined;
    if (jobId) {
      for (const listener of this.listeners) listener({ type: 'failed', jobId, error: { code: 'EASEL_ERR_WORKER', message: reason } });
    }
    // A worker that lived a while is restarted at once; one that keeps dying, with a growing delay.
    const livedLong = Date.now() - this.startedAt > RESTART_DELAY_MS.max;
    this.restartDelay = livedLong ? 0 : Math.min(RESTART_DELAY_MS.max, Math.max(RESTART_DELAY_MS.first, this.restartDelay * 2));
    this.restartTimer = setTimeout(() => this.start(), this.restartDelay);
    this.restartTimer.unref();
  }
}
