// A render backend that runs nothing: tests drive the queue by sending the worker's messages themselves.
import type { RenderBackend } from '../../server/src/queue/job-queue.js';
import type { FromWorker, RenderJob, WorkerSettings } from '../../server/src/worker/protocol.js';

export class FakeBackend implements RenderBackend {
  readonly runs: RenderJob[] = [];
  readonly cancels: string[] = [];
  /** Every settings message the worker would have been sent, in order. */
  readonly configured: WorkerSettings[] = [];
  private listener: ((message: FromWorker) => void) | undefined;

  run(job: RenderJob): void {
    this.runs.push(job);
  }

  cancel(jobId: string): void {
    this.cancels.push(jobId);
  }

  readonly skips: string[] = [];
  skip(jobId: string): void {
    this.skips.push(jobId);
  }

  configure(settings: WorkerSettings): void {
    this.configured.push(settings);
  }

  onMessage(listener: (message: FromWorker) => void): () => void {
    this.listener = listener;
    return () => (this.listener = undefined);
  }

  send(message: FromWorker): void {
    this.listener?.(message);
  }
}
