// The jobs this API submitted, on top of Easel's shared queue. A1111 runs one generation at a time and its
// /progress, /interrupt and /skip mean "the one running"; here other people's jobs share the queue, so they mean
// the caller's own A1111 job that is running, or else its first one waiting. Nobody else's job (a UI job, another
// LAN user's) is shown or stopped from here.
import type { JobView, ResolvedJob } from '../schemas.js';
import type { JobQueue } from '../../queue/job-queue.js';

export type ApiJobKind = 'txt2img' | 'img2img';

interface Pending {
  kind: ApiJobKind;
  owner: string;
  interrupted: boolean;
  /** Set by a skip, until a later image starts (A1111 resets it for its next image). */
  skipped: boolean;
  skippedImage?: number;
  settle(view: JobView): void;
}

export class ApiJobs {
  private readonly pending = new Map<string, Pending>();
  private preview: { jobId: string; jpeg: Uint8Array } | undefined;

  constructor(private readonly queue: JobQueue) {
    queue.on('preview', (header, jpeg) => {
      if (this.pending.has(header.jobId)) this.preview = { jobId: header.jobId, jpeg };
    });
    queue.on('progress', (id, progress) => {
      const entry = this.pending.get(id);
      if (entry?.skipped && !progress.stage && progress.image > (entry.skippedImage ?? 0)) entry.skipped = false;
    });
    const settle = (view: JobView) => this.pending.get(view.id)?.settle(view);
    queue.on('done', settle);
    queue.on('cancelled', settle);
    queue.on('failed', settle);
  }

  /** Submits a job to the shared queue and resolves once it is done, cancelled or failed. */
  run(job: ResolvedJob, modelDir: string, kind: ApiJobKind, owner: string): Promise<JobView> {
    const submitted = this.queue.submit(job, modelDir, owner);
    return new Promise((resolve) => {
      const entry: Pending = {
        kind,
        owner,
        interrupted: false,
        skipped: false,
        settle: (view) => {
          this.pending.delete(view.id);
          if (this.preview?.jobId === view.id) this.preview = undefined;
          resolve(view);
        },
      };
      this.pending.set(submitted.id, entry);
      // A backend that finishes before this line ran (a fake in tests) has already emitted its event.
      const now = this.queue.get(submitted.id);
      if (now && now.state !== 'queued' && now.state !== 'running') entry.settle(now);
    });
  }

  /** The A1111 job a client means by "the current one": its running one, else its first waiting. */
  current(owner: string): { view: JobView; kind: ApiJobKind; interrupted: boolean; skipped: boolean } | undefined {
    const view = this.queue.snapshot().find((j) => this.pending.get(j.id)?.owner === owner);
    const entry = view && this.pending.get(view.id);
    return view && entry ? { view, kind: entry.kind, interrupted: entry.interrupted, skipped: entry.skipped } : undefined;
  }

  /** The latest step preview (JPEG) of a job, while it runs. */
  latestPreview(jobId: string): Uint8Array | undefined {
    return this.preview?.jobId === jobId ? this.preview.jpeg : undefined;
  }

  /**
   * Interrupt stops the current job; it keeps the images it finished and the one in progress as a partial image.
   * Skip ends only the image in progress (partial) and the job goes on with the next.
   */
  stop(how: 'interrupt' | 'skip', owner: string): void {
    const current = this.current(owner);
    const entry = current && this.pending.get(current.view.id);
    if (!current || !entry) return;
    if (how === 'interrupt') {
      entry.interrupted = true;
      this.queue.cancel(current.view.id);
    } else if (current.view.state === 'running') {
      entry.skipped = true;
      entry.skippedImage = current.view.progress?.image ?? 0;
      this.queue.skip(current.view.id);
    }
  }
}
