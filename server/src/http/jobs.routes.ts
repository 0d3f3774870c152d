import type { FastifyInstance } from 'fastify';
import { AppError, badRequest, notFound } from './errors.js';
import { ErrorBody, JobCreated, JobIdParams, JobList, JobRequest, JobView, QueueOrder, QueueState } from './schemas.js';
import type { JobQueue } from '../queue/job-queue.js';
import type { ModelRegistry } from '../models/model-registry.js';
import type { ImageInputs } from '../images/image-inputs.js';
import type { ServerSettings } from '../settings/server-settings.js';
import { resolveJob } from '../queue/resolve-job.js';
import { ownerKey } from '../queue/fair-order.js';
import { identityOf, requireOwner } from './plugins/access.plugin.js';

export function registerJobRoutes(
  app: FastifyInstance,
  deps: { queue: JobQueue; registry: ModelRegistry; images: ImageInputs; serverSettings: Pick<ServerSettings, 'filters'> },
): void {
  const { queue } = deps;

  app.post<{ Body: JobRequest }>(
    '/api/jobs',
    { schema: { body: JobRequest, response: { 202: JobCreated, 400: ErrorBody } } },
    async (request, reply) => {
      const { job, modelDir } = await resolveJob(request.body, deps);
      const view = queue.submit(job, modelDir, identityOf(request).user);
      return reply.status(202).send({ id: view.id, position: view.position });
    },
  );

  app.get('/api/jobs', { schema: { response: { 200: JobList } } }, async () => ({
    queue: queue.snapshot(),
    paused: queue.paused,
    recent: queue.recent(),
  }));

  const state = () => ({ queue: queue.snapshot(), paused: queue.paused });
  // Pausing and reordering affect everyone, so only the owner may; "stop all" stops only your own jobs unless
  // you are the owner.
  app.post('/api/queue/pause', { schema: { response: { 200: QueueState } } }, async (request) => (requireOwner(request), queue.pause(), state()));
  app.post('/api/queue/resume', { schema: { response: { 200: QueueState } } }, async (request) => (requireOwner(request), queue.resume(), state()));
  app.post('/api/queue/cancel-all', { schema: { response: { 200: QueueState } } }, async (request) => {
    const who = identityOf(request);
    if (who.admin) queue.cancelAll();
    else for (const job of queue.snapshot().reverse()) if (ownerKey(queue.ownerOf(job.id)) === who.user) queue.cancel(job.id);
    return state();
  });
  app.put<{ Body: QueueOrder }>(
    '/api/queue/order',
    { schema: { body: QueueOrder, response: { 200: QueueState, 400: ErrorBody } } },
    async (request) => {
      requireOwner(request);
      const unknown = queue.reorder(request.body.ids);
      if (unknown.length) throw badRequest('EASEL_ERR_NOT_QUEUED', `these jobs are not waiting in the queue: ${unknown.join(', ')}`, 'ids');
      return state();
    },
  );

  app.get<{ Params: JobIdParams }>(
    '/api/jobs/:id',
    { schema: { params: JobIdParams, response: { 200: JobView, 404: ErrorBody } } },
    async (request) => {
      const job = queue.get(request.params.id);
      if (!job) throw notFound('EASEL_ERR_JOB_NOT_FOUND', `no job with id ${request.params.id}`);
      return job;
    },
  );

  app.delete<{ Params: JobIdParams }>(
    '/api/jobs/:id',
    { schema: { params: JobIdParams, response: { 200: JobView, 403: ErrorBody, 404: ErrorBody } } },
    async (request) => {
      const who = identityOf(request);
      const owner = queue.ownerOf(request.params.id);
      if (owner !== undefined && !who.admin && ownerKey(owner) !== who.user) {
        throw new AppError(403, 'EASEL_ERR_NOT_YOUR_JOB', 'this job belongs to someone else; only they or the owner can cancel it');
      }
      const job = queue.cancel(request.params.id);
      if (!job) throw notFound('EASEL_ERR_JOB_NOT_FOUND', `no job with id ${request.params.id}`);
      return job;
    },
  );
}
