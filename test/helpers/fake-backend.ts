// A render backend that runs nothing: tests drive the queue by sending the worker's messages themselves.
import type { RenderBackend } from '../../server/src/queue/job-queue.js';
import type { FromWorker, RenderJob } from '../../server/src/worker/protocol.js';

export class FakeBackend implements RenderBackend {
  readonly runs: RenderJob[] = [];
  readonly cancels: string[] = [];
  private listener: ((message: FromWorker) => void) | undefined;

  run(job: RenderJob): void {
    this.runs.push(job);
  }

  cancel(jobId: string): void {
    this.cancels.push(jobId);
  }

  onMessage(listener: (message: FromWorker) => void): () => void {
    this.listener = listener;
    return () => (this.listener = undefined);
  }

  send(message: FromWorker): void {
    this.listener?.(message);
  }
}
