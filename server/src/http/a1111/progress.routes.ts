// /progress, /interrupt and /skip. Progress follows A1111's formula, 0.01 + image/count + (step/steps)/count, so
// clients that wait for "progress == 0 and job_count == 0" see Easel idle exactly when no A1111 job is pending.
import type { FastifyInstance } from 'fastify';
import { identityOf } from '../plugins/access.plugin.js';
import { ProgressQuery } from './a1111-schemas.js';
import type { A1111Context } from './a1111-api.js';
import { jobTimestamp } from './generate-response.js';

const IDLE_STATE = {
  skipped: false,
  interrupted: false,
  stopping_generation: false,
  job: '',
  job_count: 0,
  job_timestamp: '0',
  job_no: 0,
  sampling_step: 0,
  sampling_steps: 0,
};

// FastAPI reads query booleans from these words.
const isTrue = (value: string | undefined) => ['1', 'true', 'yes', 'on'].includes((value ?? '').toLowerCase());

export function registerProgressRoutes(scope: FastifyInstance, ctx: A1111Context): void {
  scope.get<{ Querystring: ProgressQuery }>('/progress', { schema: { querystring: ProgressQuery } }, async (request) => {
    const current = ctx.jobs.current(identityOf(request).user);
    if (!current) return { progress: 0, eta_relative: 0, state: IDLE_STATE, current_image: null, textinfo: null, current_task: null };
    const { view } = current;
    const count = view.request.count;
    const image = view.progress?.image ?? 0;
    const step = view.progress?.step ?? 0;
    const steps = view.progress?.totalSteps ?? view.request.steps;
    // A batch's images advance together, so a step moves all of them.
    const together = view.progress?.images ?? 1;
    const preview = isTrue(request.query.skip_current_image) ? undefined : ctx.jobs.latestPreview(view.id);
    return {
      progress: Math.min(1, 0.01 + image / count + (step * together) / steps / count),
      eta_relative: (view.progress?.etaMs ?? 0) / 1000,
      state: {
        skipped: current.skipped,
        interrupted: current.interrupted,
        stopping_generation: false,
        job: `scripts_${current.kind}`,
        job_count: count,
        job_timestamp: jobTimestamp(view.startedAt ?? view.createdAt),
        job_no: image,
        sampling_step: step,
        sampling_steps: steps,
      },
      // A1111 sends its preview in samples_format; Easel's previews are JPEG, and clients sniff the bytes.
      current_image: preview ? Buffer.from(preview).toString('base64') : null,
      textinfo: view.state === 'queued' ? `Waiting in Easel's queue at position ${view.position}` : null,
      current_task: view.id,
    };
  });

  scope.post('/interrupt', async (request) => {
    ctx.jobs.stop('interrupt', identityOf(request).user);
    return {};
  });

  scope.post('/skip', async (request, reply) => {
    ctx.jobs.stop('skip', identityOf(request).user);
    return reply.type('application/json').send('null');
  });
}
