// What the buttons under an image do, in one place for the stage, the viewer and the gallery: each works on a
// ViewerItem (an image with the request that made it), whichever list it came from.
import type { FilterInfo } from './filters.js';
import type { ImageRef, JobView } from '../../../server/src/http/schemas.js';
import { api } from './api.js';
import { copyText } from './clipboard.js';
import type { JobForm } from './form.svelte.js';
import type { Gallery, GalleryImage } from './gallery.svelte.js';
import { repeatRequest } from './settings.js';
import type { Studio } from './studio.svelte.js';
import type { Toasts } from './toasts.svelte.js';

export interface ViewerItem {
  image: ImageRef;
  request: JobView['request'];
  jobId: string;
  createdAt: string;
}

export function itemsOfJob(job: JobView): ViewerItem[] {
  return job.images.map((image) => ({ image, request: job.request, jobId: job.id, createdAt: job.finishedAt ?? job.createdAt }));
}

export function itemOfGallery(image: GalleryImage): ViewerItem {
  const { jobId, request, createdAt } = image;
  return { image: { id: image.id, url: image.url, seed: image.seed, width: image.width, height: image.height, ...(image.partial ? { partial: true } : {}) }, request, jobId, createdAt };
}

export function downloadName(item: ViewerItem): string {
  const ext = item.request.outputFormat === 'jpeg' ? 'jpg' : item.request.outputFormat || 'png';
  return `easel-${item.image.seed}-${item.image.id}.${ext}`;
}

export interface ImageActions {
  copySeed(item: ViewerItem): Promise<void>;
  useSettings(item: ViewerItem): void;
  useAsInit(item: ViewerItem): void;
  makeSimilar(item: ViewerItem): Promise<void>;
  remove(item: ViewerItem): Promise<boolean>;
  /** Whether the server offers this post-processing filter. */
  canFilter(id: 'upscale' | 'fix-faces'): boolean;
  /** Queues the filter on this image; the result is a new gallery image linked to it. */
  runFilter(item: ViewerItem, id: 'upscale' | 'fix-faces'): Promise<void>;
}

export function createImageActions(deps: {
  form: JobForm;
  studio: Studio;
  gallery: Gallery;
  toasts: Toasts;
  showStudio: () => void;
  /** The filters the server offers (read when the buttons render, so they appear once known). */
  filters: () => readonly FilterInfo[];
}): ImageActions {
  const { form, studio, gallery, toasts, showStudio } = deps;
  return {
    canFilter(id) {
      return deps.filters().some((f) => f.id === id);
    },
    async runFilter(item, id) {
      try {
        await api.runFilters(id === 'upscale' ? { image: item.image.id, upscale: { factor: 2 } } : { image: item.image.id, faceRestore: {} });
        toasts.info(id === 'upscale' ? 'Queued: upscale ×2.' : 'Queued: fix faces.');
      } catch (error) {
        toasts.error(error);
      }
    },
    async copySeed(item) {
      const ok = await copyText(String(item.image.seed));
      if (ok) toasts.info(`Seed ${item.image.seed} copied.`);
      else toasts.error(new Error('The browser did not allow copying.'));
    },
    useSettings(item) {
      // The image's own seed, not the job's first: image i of a job used seed + i.
      form.useRequest({ ...item.request, seed: item.image.seed });
      showStudio();
      toasts.info('Settings loaded into the form.');
    },
    useAsInit(item) {
      form.useAsInit(item.image);
      showStudio();
      toasts.info('Image set as the initial image.');
    },
    async makeSimilar(item) {
      try {
        await api.createJob(repeatRequest(item.request, { seed: -1 }));
        toasts.info('Queued: same settings, new seeds.');
      } catch (error) {
        toasts.error(error);
      }
    },
    async remove(item) {
      try {
        await api.deleteImage(item.image.id);
      } catch (error) {
        toasts.error(error);
        return false;
      }
      gallery.remove(item.image.id);
      studio.removeImage(item.image.id);
      toasts.info('Image deleted.');
      return true;
    },
  };
}
