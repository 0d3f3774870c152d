// The studio's live state: the queue, recent jobs and the step preview, fed by the websocket (socket.ts) and
// by a few HTTP reads. Components read it; only intent-named methods change it.
import type { WsEvent, PreviewHeader } from '../../../server/src/http/events.js';
import type { JobView } from '../../../server/src/http/schemas.js';

export type Connection = 'connecting' | 'open' | 'offline';

export interface Preview {
  jobId: string;
  image: number;
  step: number;
  totalSteps: number;
  width: number;
  height: number;
  /** An object URL; the store revokes it when a newer preview replaces it. */
  url: string;
}

const RECENT_LIMIT = 24;
const FINISHED = new Set<JobView['state']>(['done', 'failed', 'cancelled']);

export class Studio {
  queue = $state<JobView[]>([]);
  /** While paused the running job finishes and no new one starts (the server's `queue` event says). */
  paused = $state(false);
  recent = $state<JobView[]>([]);
  preview = $state<Preview | null>(null);
  connection = $state<Connection>('connecting');
  /** A finished job the user picked to look at; a newly started job takes the stage back. */
  selectedId = $state<string | null>(null);

  running = $derived(this.queue.find((job) => job.state === 'running') ?? null);
  selected = $derived(this.recent.find((job) => job.id === this.selectedId) ?? null);
  /** What the stage shows: the picked job, else the running one, else the newest finished one. */
  current = $derived(this.selected ?? this.running ?? this.recent[0] ?? null);

  // Ids of jobs known to be over, so late progress or preview frames for them are dropped.
  #finished = new Set<string>();
  #recentRequest = 0;

  /** Called when the recent list may be stale (a reconnect, jobs gone from the queue unseen); set by its loader. */
  onStale: () => void = () => {};
  /** Called when a job finishes while the page watches, with images or not; the gallery listens. */
  onFinished: (job: JobView) => void = () => {};

  setConnection(state: Connection): void {
    // Back after a drop: jobs may have finished unseen. The queue snapshot arrives by itself; the recent list not.
    if (state === 'open' && this.connection === 'offline') this.onStale();
    this.connection = state;
  }

  select(id: string | null): void {
    this.selectedId = id;
  }

  apply(event: WsEvent): void {
    switch (event.type) {
      case 'queue':
        this.paused = event.paused;
        return this.#replaceQueue(event.queue);
      case 'job.queued':
      case 'job.started':
        if (this.#finished.has(event.job.id)) return;
        if (event.type === 'job.started') this.selectedId = null;
        return this.#upsert(event.job);
      case 'job.progress': {
        const job = this.queue.find((j) => j.id === event.id);
        if (!job || this.#finished.has(event.id)) return;
        const { type: _type, id: _id, ...progress } = event;
        const old = job.progress;
        if (old && (old.image > progress.image || (old.image === progress.image && old.step > progress.step))) return;
        job.progress = progress;
        if (job.state === 'queued') job.state = 'running';
        return;
      }
      case 'job.done':
      case 'job.failed':
      case 'job.cancelled':
        return this.#finish(event.type === 'job.failed' ? { ...event.job, error: event.error } : event.job);
    }
  }

  /** A decoded binary frame: keep it only if it is newer than what is shown. */
  applyPreview(header: PreviewHeader, bytes: Uint8Array): void {
    if (this.#finished.has(header.jobId)) return;
    const shown = this.preview;
    if (
      shown &&
      shown.jobId === header.jobId &&
      (shown.image > header.image || (shown.image === header.image && shown.step >= header.step))
    ) {
      return;
    }
    const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: header.mime }));
    this.#setPreview({
      jobId: header.jobId,
      image: header.image,
      step: header.step,
      totalSteps: header.totalSteps,
      width: header.width,
      height: header.height,
      url,
    });
  }

  /** Forgets a deleted image wherever a finished job shows it. */
  removeImage(imageId: string): void {
    this.recent = this.recent.map((job) =>
      job.images.some((i) => i.id === imageId) ? { ...job, images: job.images.filter((i) => i.id !== imageId) } : job,
    );
  }

  /** The queue as the user dragged it, shown at once; the server's next snapshot confirms or corrects it. */
  showOrder(ids: readonly string[]): void {
    const rank = new Map(ids.map((id, i) => [id, i]));
    const running = this.queue.filter((job) => job.state === 'running');
    const queued = this.queue.filter((job) => job.state === 'queued');
    queued.sort((a, b) => (rank.get(a.id) ?? ids.length) - (rank.get(b.id) ?? ids.length));
    this.queue = renumber([...running, ...queued]);
  }

  /** Starts a load of the recent list; only the latest load is applied. */
  beginRecentLoad(): number {
    return ++this.#recentRequest;
  }

  applyRecent(ticket: number, jobs: JobView[]): void {
    if (ticket !== this.#recentRequest) return;
    for (const job of jobs) this.#finished.add(job.id);
    // Jobs that finished while the request was in flight are newer than the answer: keep them.
    const known = new Map(jobs.map((job) => [job.id, job]));
    for (const job of this.recent) if (!known.has(job.id)) known.set(job.id, job);
    this.recent = [...known.values()].sort(byFinishedDesc).slice(0, RECENT_LIMIT);
  }

  #replaceQueue(queue: JobView[]): void {
    const active = queue.filter((job) => !FINISHED.has(job.state));
    for (const job of active) this.#finished.delete(job.id);
    const missing = this.queue.some((old) => !active.some((job) => job.id === old.id));
    this.queue = active;
    if (this.preview && !active.some((job) => job.id === this.preview?.jobId)) this.#setPreview(null);
    if (missing) this.onStale();
  }

  #upsert(job: JobView): void {
    const old = this.queue.find((j) => j.id === job.id);
    const merged = { ...job, progress: job.progress ?? old?.progress ?? null };
    const next = old ? this.queue.map((j) => (j.id === job.id ? merged : j)) : [...this.queue, merged];
    this.queue = renumber(next.sort(byQueueOrder));
  }

  #finish(job: JobView): void {
    this.#finished.add(job.id);
    const last = this.queue.find((j) => j.id === job.id);
    const finished = { ...job, progress: job.progress ?? last?.progress ?? null };
    this.queue = renumber(this.queue.filter((j) => j.id !== job.id));
    this.recent = [finished, ...this.recent.filter((j) => j.id !== job.id)].slice(0, RECENT_LIMIT);
    if (this.preview?.jobId === job.id) this.#setPreview(null);
    this.onFinished(finished);
  }

  #setPreview(next: Preview | null): void {
    const old = this.preview;
    this.preview = next;
    if (old && old.url !== next?.url) URL.revokeObjectURL(old.url);
  }
}

function byQueueOrder(a: JobView, b: JobView): number {
  const rank = (job: JobView) => (job.state === 'running' ? 0 : job.position || Number.MAX_SAFE_INTEGER);
  return rank(a) - rank(b);
}

/** Queued jobs move up as others leave; events only carry the job that changed, so count positions here. */
function renumber(queue: JobView[]): JobView[] {
  let position = 0;
  return queue.map((job) => (job.state === 'queued' ? { ...job, position: ++position } : job));
}

function byFinishedDesc(a: JobView, b: JobView): number {
  return (b.finishedAt ?? b.createdAt).localeCompare(a.finishedAt ?? a.createdAt);
}
