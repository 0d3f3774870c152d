// The job queue: lives in the main thread, hands one job at a time to the render worker, turns the worker's
// messages into job state and events for the websocket, and writes every change through to the job store so a
// restart picks up where the last process stopped.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { ErrorInfo, JobView, Progress, ResolvedJob } from '../http/schemas.js';
import type { PreviewHeader } from '../http/events.js';
import type { FromWorker, JobTimings, RenderJob } from '../worker/protocol.js';
import type { JobStore, StoredJob } from './job-store.js';
import { fairOrder, ownerKey } from './fair-order.js';

/** What the queue needs from the worker host; tests may pass a fake. */
export interface RenderBackend {
  run(job: RenderJob): void;
  cancel(jobId: string): void;
  /** Ends the running job's current image (its batch) early, keeping it as a partial image; the job goes on. */
  skip(jobId: string): void;
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

interface Job extends StoredJob {
  timings?: JobTimings;
  firstStepAt: number | null;
  /** Image-steps done at the first progress message (a batch of n does n at once). */
  firstDone?: number;
  cancelRequested: boolean;
  /** When the running filter stage began (its progress message with step 0). */
  stageStartedAt?: number;
}

const RECENT_LIMIT = 200;
/** A job that was running when the process died runs once more; dying twice means it is the job's fault. */
const MAX_ATTEMPTS = 2;

export class JobQueue extends EventEmitter<QueueEvents> {
  private readonly waiting: Job[] = [];
  private running: Job | undefined;
  private readonly finished: Job[] = [];
  private readonly byId = new Map<string, Job>();
  /** Each owner's last turn (see fair-order.ts): `waiting` keeps submission order, turns decide who is next. */
  private readonly lastTurn = new Map<string, number>();
  private turns = 0;
  /** While paused, the running job finishes but no new one starts. */
  paused = false;

  constructor(
    private readonly backend: RenderBackend,
    private readonly context: { outputsDir: string; inputsDir: string; version: string; modelsDir?: string },
    private readonly store?: JobStore,
    /** Last changes to a request as it starts (the owner's enforced NSFW check, which may be newer than the job). */
    private readonly prepare: (request: ResolvedJob) => ResolvedJob = (request) => request,
  ) {
    super();
    backend.onMessage((message) => this.handle(message));
  }

  /** Picks up what a previous process left: queued jobs in order, and an interrupted one re-queued first, once. */
  restore(): void {
    if (!this.store) return;
    for (const stored of this.store.recent(RECENT_LIMIT).reverse()) this.remember(this.fromStore(stored), 'finished');
    for (const stored of this.store.unfinished()) {
      const job = this.fromStore(stored);
      if (job.state === 'running') {
        if (job.attempts >= MAX_ATTEMPTS) {
          job.error = { code: 'EASEL_ERR_INTERRUPTED', message: `Easel stopped while this job ran, ${job.attempts} times; it was not tried again` };
          job.state = 'failed';
          job.finishedAt = new Date().toISOString();
          this.persist(job);
          this.remember(job, 'finished');
          continue;
        }
        job.state = 'queued';
        job.progress = null;
        job.images = []; // the re-run makes them again, under the same ids, pixel for pixel
        this.persist(job);
      }
      this.remember(job, 'waiting');
    }
    this.pump();
  }

  submit(request: ResolvedJob, modelDir: string, owner: string | null = null): JobView {
    const job: Job = {
      id: randomUUID(),
      state: 'queued',
      request,
      modelDir,
      owner,
      attempts: 0,
      progress: null,
      images: [],
      error: null,
      createdAt: new Date().toISOString(),
      startedAt: null,
      finishedAt: null,
      firstStepAt: null,
      cancelRequested: false,
    };
    this.remember(job, 'waiting');
    this.persist(job);
    this.emit('queued', this.view(job));
    this.emit('changed');
    this.pump();
    return this.view(job);
  }

  get(id: string): JobView | undefined {
    const job = this.byId.get(id);
    if (job) return this.view(job);
    const stored = this.store?.get(id);
    return stored && this.view(this.fromStore(stored));
  }

  /** The running job first, then the queued ones in the order they will run. */
  snapshot(): JobView[] {
    const order = this.queued();
    return [...(this.running ? [this.running] : []), ...order].map((j) => this.view(j, order));
  }

  /** Who submitted a job (null for jobs from before owners were recorded); undefined when unknown. */
  /** Who submitted the job that made an image (undefined when the image is unknown). */
  imageOwner(imageId: string): string | null | undefined {
    const jobId = this.store?.jobOfImage(imageId);
    return jobId === undefined ? undefined : this.ownerOf(jobId);
  }

  ownerOf(id: string): string | null | undefined {
    const job = this.byId.get(id) ?? this.store?.get(id);
    return job ? job.owner : undefined;
  }

  recent(): JobView[] {
    return this.finished.map((j) => this.view(j));
  }

  /** Cancels a job: a queued one is removed at once, a running one stops at its next step. */
  cancel(id: string): JobView | undefined {
    const job = this.byId.get(id);
    if (!job) return this.get(id);
    if (job.state === 'queued') {
      this.waiting.splice(this.waiting.indexOf(job), 1);
      this.finish(job, 'cancelled');
    } else if (job.state === 'running' && !job.cancelRequested) {
      job.cancelRequested = true;
      this.backend.cancel(job.id);
    }
    return this.view(job);
  }

  /**
   * Skips the image a running job is making (A1111's skip): it is kept as a partial image and the job goes on
   * with the next one. A queued job has no image in progress and a filter job no images to go on to: as in A1111
   * when nothing is sampling, nothing happens.
   */
  skip(id: string): JobView | undefined {
    const job = this.byId.get(id);
    if (job?.state === 'running' && !job.cancelRequested && job.request.kind !== 'filter') this.backend.skip(job.id);
    return this.get(id);
  }

  /** Deletes an image from the gallery and from its job; false when no such image is known. */
  deleteImage(imageId: string): boolean {
    const jobId = this.store?.deleteImage(imageId);
    if (!jobId) return false;
    const stored = this.byId.get(jobId) ?? this.store?.get(jobId);
    if (stored) {
      const job = this.byId.get(jobId) ?? this.fromStore(stored);
      job.images = job.images.filter((i) => i.id !== imageId);
      this.persist(job);
    }
    return true;
  }

  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.emit('changed');
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.emit('changed');
    this.pump();
  }

  /** Stop all: every queued job is cancelled and the running one stops at its next step. */
  cancelAll(): void {
    for (const job of [...this.waiting].reverse()) this.cancel(job.id);
    if (this.running) this.cancel(this.running.id);
  }

  /**
   * Puts the queued jobs named in `ids` in that order, ahead of any queued job not named (whose order is kept).
   * Returns the ids that are not queued, if any, and then changes nothing. With several owners waiting they still
   * take turns; this order holds within each owner's jobs.
   */
  reorder(ids: readonly string[]): string[] {
    const unknown = ids.filter((id) => this.byId.get(id)?.state !== 'queued');
    if (unknown.length) return unknown;
    const named = ids.map((id) => this.byId.get(id) as Job);
    const rest = this.waiting.filter((j) => !ids.includes(j.id));
    this.waiting.splice(0, this.waiting.length, ...named, ...rest);
    this.emit('changed');
    return [];
  }

  private remember(job: Job, where: 'waiting' | 'finished'): void {
    this.byId.set(job.id, job);
    if (where === 'waiting') this.waiting.push(job);
    else {
      this.finished.unshift(job);
      for (const old of this.finished.splice(RECENT_LIMIT)) this.byId.delete(old.id);
    }
  }

  private pump(): void {
    if (this.running || this.paused) return;
    const next = this.queued()[0];
    if (!next) return;
    this.waiting.splice(this.waiting.indexOf(next), 1);
    this.lastTurn.set(ownerKey(next.owner), ++this.turns);
    this.running = next;
    next.state = 'running';
    next.startedAt = new Date().toISOString();
    next.attempts += 1;
    next.request = this.prepare(next.request);
    this.persist(next);
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
        if (message.stage) {
          // A filter after decoding (tiles of an upscale…): its own units and pace, apart from the denoising ETA.
          if (message.step === 0) job.stageStartedAt = now;
          const perUnit = message.step > 0 ? (now - (job.stageStartedAt ?? now)) / message.step : 0;
          const { step, totalSteps, image, stage } = message;
          job.progress = { step, totalSteps, image, count: job.request.count, etaMs: Math.round(perUnit * (totalSteps - step)), msPerStep: Math.round(perUnit), stage };
          this.emit('progress', job.id, job.progress);
          break;
        }
        const total = message.totalSteps * job.request.count;
        // A batch's images (worker/protocol.ts `images`) each advance a step at once.
        const done = message.image * message.totalSteps + message.step * (message.images ?? 1);
        job.firstStepAt ??= now;
        job.firstDone ??= done;
        const startedAt = job.startedAt ? Date.parse(job.startedAt) : now;
        // Per image-step: timed from the first step on (loading and the prompt come before it), until then the
        // first step's own time shared by the images it advanced.
        const msPerStep = done > job.firstDone ? (now - job.firstStepAt) / (done - job.firstDone) : (now - startedAt) / done;
        job.progress = {
          step: message.step,
          totalSteps: message.totalSteps,
          image: message.image,
          ...(message.images && message.images > 1 ? { images: message.images } : {}),
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
      case 'image': {
        const image = {
          id: message.image.imageId,
          url: `/api/images/${message.image.imageId}`,
          seed: message.image.seed,
          width: message.image.width,
          height: message.image.height,
          ...(message.image.partial ? { partial: true } : {}),
        };
        job.images.push(image);
        this.store?.addImage(job, image);
        this.persist(job);
        break;
      }
      case 'finished':
        if (message.timings) job.timings = message.timings;
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
    job.finishedAt = new Date().toISOString();
    if (this.running === job) this.running = undefined;
    this.persist(job);
    this.remember(job, 'finished');
    const view = this.view(job);
    if (state === 'done') this.emit('done', view);
    else if (state === 'cancelled') this.emit('cancelled', view);
    else this.emit('failed', view, job.error ?? { code: 'EASEL_ERR_RENDER', message: 'the job failed' });
    this.emit('changed');
    this.pump();
  }

  private persist(job: Job): void {
    this.store?.save(job);
  }

  private fromStore(stored: StoredJob): Job {
    return { ...stored, firstStepAt: null, cancelRequested: false };
  }

  /** The queued jobs in the order they will run: owners take turns. */
  private queued(): Job[] {
    return fairOrder(this.waiting, this.lastTurn);
  }

  private view(job: Job, order?: readonly Job[]): JobView {
    return {
      id: job.id,
      state: job.state,
      position: job.state === 'queued' ? (order ?? this.queued()).indexOf(job) + 1 : 0,
      progress: job.progress,
      images: [...job.images],
      error: job.error,
      request: { ...job.request },
      createdAt: job.createdAt,
      startedAt: job.startedAt,
      finishedAt: job.finishedAt,
      ...(job.timings ? { timings: job.timings } : {}),
    };
  }
}
