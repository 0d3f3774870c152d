// Filters on an existing image: POST /api/filters queues a 'filter' job (same queue, same worker) whose result is a
// new gallery image that records its source; GET /api/filters says which filters and models the UI can offer.
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { availableFilters } from '../filters/available.js';
import { chainIsEmpty } from '../filters/filter-chain.js';
import { resolveFilterChain } from '../filters/resolve-filters.js';
import type { ImageInputs } from '../images/image-inputs.js';
import type { JobQueue } from '../queue/job-queue.js';
import type { ServerSettings } from '../settings/server-settings.js';
import { badRequest } from './errors.js';
import { identityOf } from './plugins/access.plugin.js';
import { AvailableFilters, ErrorBody, FilterRequest, JobCreated, type ResolvedJob } from './schemas.js';

export interface FilterRouteDeps {
  queue: JobQueue;
  images: ImageInputs;
  modelsDir: string;
  serverSettings: Pick<ServerSettings, 'filters'>;
}

/** Images made here are `<job id>-<index>`; the job tells how the source was made. */
const JOB_IMAGE = /^(.+)-(\d+)$/;

export function registerFilterRoutes(app: FastifyInstance, deps: FilterRouteDeps): void {
  app.get('/api/filters', { schema: { response: { 200: AvailableFilters } } }, async () => availableFilters(deps.modelsDir));

  app.post<{ Body: FilterRequest }>(
    '/api/filters',
    { schema: { body: FilterRequest, response: { 202: JobCreated, 400: ErrorBody } } },
    async (request, reply) => {
      const { image, ...fields } = request.body;
      if (chainIsEmpty(fields)) {
        throw badRequest('EASEL_ERR_INVALID', 'name at least one filter: upscale, faceRestore, nsfwFilter or watermark', 'upscale');
      }
      const sourceImage = await deps.images.resolve(image, 'image');
      const file = await deps.images.find(sourceImage);
      const meta = file ? await sharp(file.file).metadata() : undefined;
      if (!meta?.width || !meta.height) throw badRequest('EASEL_ERR_BAD_IMAGE', 'image could not be read', 'image');
      const chain = await resolveFilterChain(fields, deps.modelsDir, deps.serverSettings.filters, { width: meta.width, height: meta.height });

      const match = JOB_IMAGE.exec(sourceImage);
      const source = match ? deps.queue.get(match[1] as string) : undefined;
      const made = source?.request;
      const format = made?.outputFormat;
      const job: ResolvedJob = {
        prompt: made?.prompt ?? '',
        negativePrompt: made?.negativePrompt ?? '',
        model: made?.model ?? '',
        sampler: made?.sampler ?? '',
        steps: made?.steps ?? 0,
        cfgScale: made?.cfgScale ?? 0,
        width: meta.width,
        height: meta.height,
        seed: source?.images.find((i) => i.id === sourceImage)?.seed ?? made?.seed ?? 0,
        count: 1,
        outputFormat: format === 'jpeg' || format === 'webp' ? format : 'png',
        quality: made?.quality ?? 90,
        kind: 'filter',
        sourceImage,
        ...chain,
      };
      const view = deps.queue.submit(job, '', identityOf(request).user);
      return reply.status(202).send({ id: view.id, position: view.position });
    },
  );
}
