import { createReadStream } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { ImageInputs } from '../images/image-inputs.js';
import type { JobQueue } from '../queue/job-queue.js';
import { ownerKey } from '../queue/fair-order.js';
import { AppError, notFound } from './errors.js';
import { identityOf } from './plugins/access.plugin.js';

const ImageParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) });

export function registerImageRoutes(app: FastifyInstance, deps: { images: ImageInputs; queue: JobQueue }): void {
  app.get<{ Params: { id: string } }>('/api/images/:id', { schema: { params: ImageParams } }, async (request, reply) => {
    const found = await deps.images.find(request.params.id);
    if (!found) throw notFound('EASEL_ERR_IMAGE_NOT_FOUND', `no image with id ${request.params.id}`);
    return reply.type(found.mime).header('cache-control', 'private, max-age=31536000, immutable').send(createReadStream(found.file));
  });

  app.delete<{ Params: { id: string } }>('/api/images/:id', { schema: { params: ImageParams } }, async (request, reply) => {
    const who = identityOf(request);
    const owner = deps.queue.imageOwner(request.params.id);
    if (owner !== undefined && !who.admin && ownerKey(owner) !== who.user) {
      throw new AppError(403, 'EASEL_ERR_NOT_YOUR_IMAGE', 'this image was made by someone else; only they or the owner can delete it');
    }
    const known = deps.queue.deleteImage(request.params.id);
    const removed = await deps.images.removeOutput(request.params.id);
    if (!known && !removed) throw notFound('EASEL_ERR_IMAGE_NOT_FOUND', `no image with id ${request.params.id}`);
    return reply.status(204).send();
  });
}
