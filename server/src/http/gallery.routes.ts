// The gallery: every image ever made here, newest first, searchable by prompt and filterable by model.
import type { FastifyInstance } from 'fastify';
import { badRequest } from './errors.js';
import { ErrorBody, GalleryPage, GalleryQuery } from './schemas.js';
import type { JobStore } from '../queue/job-store.js';

export function registerGalleryRoutes(app: FastifyInstance, deps: { store: JobStore }): void {
  app.get<{ Querystring: GalleryQuery }>(
    '/api/gallery',
    { schema: { querystring: GalleryQuery, response: { 200: GalleryPage, 400: ErrorBody } } },
    async (request) => {
      const { cursor, q, model } = request.query;
      const limit = request.query.limit === undefined ? 50 : Number(request.query.limit);
      if (limit < 1 || limit > 200) throw badRequest('EASEL_ERR_INVALID', 'limit must be from 1 to 200', 'limit');
      return deps.store.gallery({ limit, ...(cursor ? { cursor } : {}), ...(q?.trim() ? { q: q.trim() } : {}), ...(model ? { model } : {}) });
    },
  );
}
