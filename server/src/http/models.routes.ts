// The model manager's routes: what is installed (by kind), the catalog and its downloads, and imports by path or
// upload. Long work answers 202 at once; progress and outcomes arrive as `model.*` websocket events.
import { rm } from 'node:fs/promises';
import { basename } from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { AppError, badRequest, notFound } from './errors.js';
import { ErrorBody, ModelInfo } from './schemas.js';
import {
  CatalogItem,
  DownloadRequest,
  DownloadView,
  IdParams,
  LISTED_KINDS,
  ImportCreated,
  ImportRequest,
  ImportView,
  ModelListQuery,
  UploadQuery,
} from './models.schemas.js';
import { receiveUpload } from '../models/checkpoint-upload.js';
import { prepareImport } from '../models/import-request.js';
import type { ListKind } from '../models/model-registry.js';
import type { ModelServices } from '../models/model-services.js';

export function registerModelRoutes(app: FastifyInstance, deps: { models: ModelServices }): void {
  const { models } = deps;
  const { registry, imports, downloads } = models;
  const errors = { 400: ErrorBody, 404: ErrorBody, 409: ErrorBody, 413: ErrorBody, 500: ErrorBody, 502: ErrorBody, 507: ErrorBody };

  app.get<{ Querystring: ModelListQuery }>(
    '/api/models',
    { schema: { querystring: ModelListQuery, response: { 200: Type.Array(ModelInfo) } } },
    async (request) => {
      // Listing is when dropped checkpoints are noticed; a failing scan must not hide what is installed.
      await models.autoImport.scan().catch((error: unknown) => request.log.warn({ err: error }, 'auto-import scan failed'));
      const kind = request.query.kind ?? 'stable-diffusion';
      if (!(LISTED_KINDS as readonly string[]).includes(kind)) {
        throw badRequest('EASEL_ERR_INVALID', `kind must be one of ${LISTED_KINDS.join(', ')}`, 'kind');
      }
      return (await registry.listKind(kind as ListKind)).map(({ dir: _dir, ...info }) => info);
    },
  );

  app.get('/api/models/catalog', { schema: { response: { 200: Type.Array(CatalogItem), 500: ErrorBody } } }, () => downloads.catalog());

  app.post<{ Body: DownloadRequest }>(
    '/api/models/downloads',
    { schema: { body: DownloadRequest, response: { 202: DownloadView, ...errors } } },
    async (request, reply) => reply.status(202).send(await downloads.start(request.body.id)),
  );

  app.delete<{ Params: IdParams }>('/api/models/downloads/:id', { schema: { params: IdParams, response: errors } }, async (request, reply) => {
    await downloads.cancel(request.params.id);
    return reply.status(204).send();
  });

  const enqueue = async (opts: { path: string; config?: string; name?: string; precision?: string; fileName?: string }, origin: 'path' | 'upload') => {
    const taken = await models.takenNames();
    const prepared = await prepareImport({ ...opts, modelsFolder: registry.stableDiffusionDir, taken: (n) => taken.has(n) });
    const upload = origin === 'upload';
    return imports.enqueue({ ...prepared, origin, removeSource: upload ? 'always' : undefined, sourceName: upload ? basename(opts.fileName ?? '') : undefined });
  };

  app.post<{ Body: ImportRequest }>(
    '/api/models/import',
    { schema: { body: ImportRequest, response: { 202: ImportCreated, ...errors } } },
    async (request, reply) => reply.status(202).send({ importId: (await enqueue(request.body, 'path')).id }),
  );

  // The upload's body is the raw .safetensors file: streamed to disk, never parsed or buffered. Its own scope, so
  // the catch-all body parser applies to this route only.
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, _payload, done) => done(null));
    scope.post<{ Querystring: UploadQuery }>(
      '/api/models/import/upload',
      { schema: { querystring: UploadQuery, response: { 202: ImportCreated, ...errors } } },
      async (request, reply) => {
        const path = await receiveUpload(request.raw, {
          dir: models.uploadsDir,
          limitBytes: models.uploadLimitBytes,
          declaredBytes: declaredLength(request),
        });
        try {
          const { name, config, precision, filename } = request.query;
          const fileName = filename ?? 'uploaded-model.safetensors';
          const queued = await enqueue({ path, name, config, precision, fileName }, 'upload');
          return await reply.status(202).send({ importId: queued.id });
        } catch (error) {
          await rm(path, { force: true });
          throw error;
        }
      },
    );
  });

  app.get('/api/models/imports', { schema: { response: { 200: Type.Array(ImportView) } } }, async () => imports.list());

  app.delete<{ Params: IdParams }>('/api/models/imports/:id', { schema: { params: IdParams, response: errors } }, async (request, reply) => {
    const view = imports.get(request.params.id);
    if (!view) throw notFound('EASEL_ERR_IMPORT_NOT_FOUND', `no import ${request.params.id}`);
    if (!imports.cancel(view.id)) throw new AppError(409, 'EASEL_ERR_IMPORT_FINISHED', `the import of ${view.name} is already ${view.state}`);
    return reply.status(204).send();
  });
}

function declaredLength(request: FastifyRequest): number | undefined {
  const value = request.headers['content-length'];
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}
