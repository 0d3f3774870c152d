// Serves the built Svelte app; any non-API path falls back to index.html so client routes survive reloads.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';

export async function registerStaticUi(app: FastifyInstance, uiDir: string): Promise<void> {
  if (!existsSync(join(uiDir, 'index.html'))) {
    app.get('/', async (_request, reply) =>
      reply.type('text/html').send('<!doctype html><title>Easel</title><p>The Easel UI is not built yet: run <code>npm run build</code> (./start.sh does it for you).</p>'),
    );
    return;
  }
  await app.register(fastifyStatic, { root: uiDir, prefix: '/', wildcard: false });
  app.get('/*', async (request, reply) => {
    if (request.url.startsWith('/api/')) {
      return reply.status(404).send({ error: { code: 'EASEL_ERR_NOT_FOUND', message: `no route ${request.method} ${request.url}` } });
    }
    return reply.sendFile('index.html');
  });
}
