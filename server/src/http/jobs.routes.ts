import type { FastifyInstance } from 'fastify';
import { notFound } from './errors.js';
import { ErrorBody, JobCreated, JobIdParams, JobList, JobRequest, JobView } from './schemas.js';
import type { JobQueue } from '../queue/job-queue.js';
import type { ModelRegistry } from '../models/model-registry.js';
import type { ImageInputs } from '../images/image-inputs.js';
import { resolveJob } from '../queue/resolve-job.js';

export function registerJobRoutes(app: FastifyInstance, deps: { queue: JobQueue; registry: ModelRegistry; images: ImageInputs }): void {
  const { queue } = deps;

  app.post<{ Body: JobRequest }>(
    '/api/jobs',
    { schema: { body: JobRequest, response: { 202: JobCreated, 400: ErrorBody } } },
    async (request, reply) => {
      const { job, modelDir } = await resolveJob(request.body, deps);
      const view = queue.submit(job, modelDir);
      return reply.status(202).send({ id: view.id, position: view.position });
    },
  );

  app.get('/api/jobs', { schema: { response: { 200: JobList } } }, async () => ({
    queue: queue.snapshot(),
    recent: queue.recent(),
  }));

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
    { schema: { params: JobIdParams, response: { 200: JobView, 404: ErrorBody } } },
    async (request) => {
      const job = queue.cancel(request.params.id);
      if (!job) throw notFound('EASEL_ERR_JOB_NOT_FOUND', `no job with id ${request.params.id}`);
      return job;
    },
  );
}
