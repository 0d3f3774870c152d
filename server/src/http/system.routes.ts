import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { Health, SamplerInfo } from './schemas.js';
import type { ModelRegistry } from '../models/model-registry.js';
import { listSamplers } from '../pipeline/schedulers/samplers.js';

export interface SystemDeps {
  registry: ModelRegistry;
  version: string;
  devices: () => { id: string; name: string; reason: string }[];
}

export function registerSystemRoutes(app: FastifyInstance, deps: SystemDeps): void {
  app.get('/api/health', { schema: { response: { 200: Health } } }, async () => ({
    status: 'ok' as const,
    version: deps.version,
    devices: deps.devices(),
    models: (await deps.registry.list()).length,
  }));

  // GET /api/models (by kind, with auto-import of dropped checkpoints) is in models.routes.ts.
  app.get('/api/samplers', { schema: { response: { 200: Type.Array(SamplerInfo) } } }, async () => listSamplers());
}
