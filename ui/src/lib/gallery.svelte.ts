// The gallery: every image made on this server, newest first, a page at a time, filtered by prompt text and
// model. Only the latest search is applied: a slow answer to an old query never overwrites a newer one.
import type { ErrorInfo, GalleryPage, JobView } from '../../../server/src/http/schemas.js';
import { api, toErrorInfo } from './api.js';

export type GalleryImage = GalleryPage['images'][number];

const PAGE_SIZE = 40;

export class Gallery {
  images = $state<GalleryImage[]>([]);
  q = $state('');
  model = $state('');
  loading = $state(false);
  error = $state<ErrorInfo | null>(null);
  /** Set once the first page of the current search has come back. */
  loaded = $state(false);
  #nextCursor = $state<string | null>(null);
  #ticket = 0;
  #abort: AbortController | null = null;
  /** New images were made since the list was loaded; the next look at the gallery reloads it. */
  #stale = false;

  hasMore = $derived(this.loaded && this.#nextCursor !== null);

  /** Starts the current search from its first page. */
  reload(): Promise<void> {
    this.#stale = false;
    this.#nextCursor = null;
    this.loaded = false;
    return this.#fetch(true);
  }

  /** The next page, if there is one and none is on its way. */
  loadMore(): Promise<void> {
    if (this.loading || !this.loaded || this.#nextCursor === null) return Promise.resolve();
    return this.#fetch(false);
  }

  /** A job finished: its images go on top when the list shows everything, else the next look reloads. */
  add(job: JobView): void {
    if (!job.images.length) return;
    if (!this.loaded || this.q.trim() || this.model) {
      this.#stale = true;
      return;
    }
    const fresh = galleryImagesOf(job).reverse(); // newest first: the job's last image on top
    const known = new Set(this.images.map((i) => i.id));
    this.images = [...fresh.filter((i) => !known.has(i.id)), ...this.images];
  }

  /** Reloads when images were made since the last load (the gallery was out of sight). */
  refreshIfStale(): Promise<void> {
    return this.#stale || !this.loaded ? this.reload() : Promise.resolve();
  }

  remove(imageId: string): void {
    this.images = this.images.filter((image) => image.id !== imageId);
  }

  async #fetch(first: boolean): Promise<void> {
    const ticket = ++this.#ticket;
    this.#abort?.abort();
    const abort = new AbortController();
    this.#abort = abort;
    this.loading = true;
    try {
      const filter = { q: this.q, model: this.model, limit: PAGE_SIZE, ...(first ? {} : { cursor: this.#nextCursor ?? undefined }) };
      const page = await api.gallery(filter, abort.signal);
      if (ticket !== this.#ticket) return;
      // A page may overlap the last one when images were deleted meanwhile: keep each id once.
      const known = new Set(first ? [] : this.images.map((image) => image.id));
      this.images = [...(first ? [] : this.images), ...page.images.filter((image) => !known.has(image.id))];
      this.#nextCursor = page.nextCursor;
      this.loaded = true;
      this.error = null;
    } catch (error) {
      if (ticket !== this.#ticket || abort.signal.aborted) return;
      this.error = toErrorInfo(error);
    } finally {
      if (ticket === this.#ticket) this.loading = false;
    }
  }
}

/** A finished job's images as gallery entries (what GET /api/gallery would list for them). */
export function galleryImagesOf(job: JobView): GalleryImage[] {
  const r = job.request;
  return job.images.map((image) => ({
    ...image,
    jobId: job.id,
    prompt: r.prompt,
    negativePrompt: r.negativePrompt,
    model: r.model,
    sampler: r.sampler,
    steps: r.steps,
    cfgScale: r.cfgScale,
    createdAt: job.finishedAt ?? job.createdAt,
    request: r,
  }));
}
