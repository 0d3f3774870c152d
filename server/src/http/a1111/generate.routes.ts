// POST /txt2img and /img2img: map the body, resolve it as any native job, queue it on the shared queue (so it
// shows in Easel's queue, previews and gallery), and answer once it has finished, as A1111 does.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { resolveJob } from '../../queue/resolve-job.js';
import { identityOf } from '../plugins/access.plugin.js';
import { Img2ImgBody, Txt2ImgBody, type GenerateBody } from './a1111-schemas.js';
import type { A1111Context } from './a1111-api.js';
import type { ApiJobKind } from './api-jobs.js';
import { toJobRequest } from './generate-request.js';
import { buildResponse } from './generate-response.js';

export function registerGenerateRoutes(scope: FastifyInstance, ctx: A1111Context): void {
  const generate = (kind: ApiJobKind) => async (request: FastifyRequest<{ Body: GenerateBody }>) => {
    const { job, modelDir } = await resolveJob(await toJobRequest(request.body, kind, ctx), ctx);
    // A client that hangs up does not cancel the job (A1111 does not either); it lands in the gallery.
    const finished = await ctx.jobs.run(job, modelDir, kind, identityOf(request).user);
    return buildResponse(finished, request.body, kind, ctx);
  };
  scope.post<{ Body: Txt2ImgBody }>('/txt2img', { schema: { body: Txt2ImgBody } }, generate('txt2img'));
  scope.post<{ Body: Img2ImgBody }>('/img2img', { schema: { body: Img2ImgBody } }, generate('img2img'));
}
