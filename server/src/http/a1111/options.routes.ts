// GET/POST /options and GET /cmd-flags: A1111's settings dict and its command-line flags.
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { A1111Context } from './a1111-api.js';

const OptionsPatch = Type.Object({}, { additionalProperties: true });

export function registerOptionsRoutes(scope: FastifyInstance, ctx: A1111Context): void {
  scope.get('/options', async () => ctx.options.all());

  scope.post<{ Body: Record<string, unknown> }>('/options', { schema: { body: OptionsPatch } }, async (request, reply) => {
    await ctx.options.set(request.body);
    return reply.type('application/json').send('null');
  });

  // Clients read paths and the API flags from here; credentials are never echoed (A1111 would echo --api-auth).
  scope.get('/cmd-flags', async () => ({
    api: true,
    nowebui: false,
    listen: ctx.config.host !== '127.0.0.1' && ctx.config.host !== 'localhost' && ctx.config.host !== '::1',
    port: ctx.config.port,
    server_name: ctx.config.host,
    data_dir: ctx.config.dataDir,
    models_dir: ctx.config.modelsDir,
    ckpt_dir: ctx.registry.stableDiffusionDir,
    lora_dir: null,
    embeddings_dir: null,
    hypernetwork_dir: null,
    api_auth: null,
    api_log: false,
    skip_version_check: true,
  }));
}
