// The job queue: lives in the main thread, hands one job at a time to the render worker, and turns the
// worker's messages into job state and events for the websocket.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { ImageRef, JobState, JobView, Progress, ResolvedJob, ErrorInfo } from '../http/schemas.js';
import type { PreviewHeader } from '../http/events.js';
import type { FromWorker, RenderJob } from '../worker/protocol.js';

/** What the queue needs from the worker host; tests may pass a fake. */
export interface RenderBackend {
  run(job: RenderJob): void;
  cancel(jobId: string): void;
  onMessage(listener: (message: FromWorker) => void): () => void;
}

export interface QueueEvents {
  queued: [JobView];
  started: [JobView];
  progress: [string, Progress];
  preview: [PreviewHeader, Uint8Array];
  done: [JobView];
  failed: [JobView, ErrorInfo];
  cancelled: [JobView];
  changed: [];
}

interface Job {
  id: string;
  state: JobState;
  request: ResolvedJob;
  modelDir: string;
  progress: Progress | null;
  images: ImageRef[];
  error: ErrorInfo | null;
  createdAt: Date;
  startedAt: Date | null;
  firstStepAt: number | null;
  finishedAt: Date | null;
  cancelRequested: boolean;
}

const RECENT_LIMIT = 200;

export class JobQueue extends EventEmitter<QueueEvents> {
  private readonly waiting: Job[] = [];
  private running: Job | undefined;
  private readonly finished: Job[] = [];
  private readonly byId = new Map<string, Job>();

  constructor(
    private readonly backend: RenderBackend,
    private readonly context: { outputsDir: string; inputsDir: string; version: string },
  ) {
    super();
    backend.onMessage((message) => this.handle(message));
  }

  submit(request: ResolvedJob, modelDir: string): JobView {
    const job: Job = {
      id: randomUUID(),
      state: 'queued',
      request,
      modelDir,
      progress: null,
      images: [],
      error: null,
      createdAt: new Date(),
      startedAt: null,
      firstStepAt: null,
      finishedAt: null,
      cancelRequested: false,
    };
    this.waiting.push(job);
    this.byId.set(job.id, job);
    this.emit('queued', this.view(job));
    this.emit('changed');
    this.pump();
    return this.view(job);
  }

  get(id: string): JobView | undefined {
    const job = this.byId.get(id);
    return job && this.view(job);
  }

  /** The running job first, then the queued ones in order. */
  snapshot(): JobView[] {
    return [...(this.running ? [this.running] : []), ...this.waiting].map((j) => this.view(j));
  }

  recent(): JobView[] {
    return this.finished.map((j) => this.view(j));
  }

  /** Cancels a job: a queued one is removed at once, a running one stops at its next step. */
  cancel(id: string): JobView | undefined {
    const job = this.byId.get(id);
    if (!job) return undefined;
    if (job.state === 'queued') {
      this.waiting.splice(this.waiting.indexOf(job), 1);
      this.finish(job, 'cancelled');
    } else if (job.state === 'running' && !job.cancelRequested) {
      job.cancelRequested = true;
      this.backend.cancel(job.id);
    }
    return this.view(job);
  }

  private pump(): void {
    if (this.running) return;
    const next = this.waiting.shift();
    if (!next) return;
    this.running = next;
    next.state = 'running';
    next.startedAt = new Date();
    this.backend.run({ ...next.request, id: next.id, modelDir: next.modelDir, ...this.context });
    this.emit('started', this.view(next));
    this.emit('changed');
  }

  private handle(message: FromWorker): void {
    if (message.type === 'ready') return;
    const job = this.byId.get(message.jobId);
    if (!job || job !== this.running) return;
    switch (message.type) {
      case 'started':
        break;
      case 'progress': {
        const now = Date.now();
        job.firstStepAt ??= now;
        const total = message.totalSteps * job.request.count;
        const done = message.image * message.totalSteps + message.step;
        const msPerStep = done > 1 ? (now - job.firstStepAt) / (done - 1) : now - (job.startedAt?.getTime() ?? now);
        job.progress = {
          step: message.step,
          totalSteps: message.totalSteps,
          image: message.image,
          count: job.request.count,
          etaMs: Math.round(msPerStep * (total - done)),
          msPerStep: Math.round(msPerStep),
        };
        this.emit('progress', job.id, job.progress);
        break;
      }
      case 'preview':
        this.emit(
          'preview',
          { jobId: job.id, image: message.image, step: message.step, totalSteps: message.totalSteps, mime: 'image/jpeg', width: message.width, height: message.height },
          message.jpeg,
        );
        break;
      case 'image':
        job.images.push({
          id: message.image.imageId,
          url: `/api/images/${message.image.imageId}`,
          seed: message.image.seed,
          width: message.image.width,
          height: message.image.height,
          ...(message.image.partial ? { partial: true } : {}),
        });
        break;
      case 'finished':
        this.finish(job, message.outcome);
        break;
      case 'failed':
        job.error = message.error;
        this.finish(job, 'failed');
        break;
    }
  }

  private finish(job: Job, state: 'done' | 'cancelled' | 'failed'): void {
    job.state = state;
    job.finishedAt = new Date();
    if (this.running === job) this.running = undefined;
    this.finished.unshift(job);
    for (const old of this.finished.splice(RECENT_LIMIT)) this.byId.delete(old.id);
    const view = this.view(job);
    if (state === 'done') this.emit('done', view);
    else if (state === 'cancelled') this.emit('cancelled', view);
    else this.emit('failed', view, job.error ?? { code: 'EASEL_ERR_RENDER', message: 'the job failed' });
    this.emit('changed');
    this.pump();
  }

  private view(job: Job): JobView {
    const { request } = job;
    return {
      id: job.id,
      state: job.state,
      position: job.state === 'queued' ? this.waiting.indexOf(job) + 1 : 0,
      progress: job.progress,
      images: [...job.images],
      error: job.error,
      request: { ...request },
      createdAt: job.createdAt.toISOString(),
      startedAt: job.startedAt?.toISOString() ?? null,
      finishedAt: job.finishedAt?.toISOString() ?? null,
    };
  }
}
