// The lists A1111 clients read at start-up (models, samplers, schedulers, upscalers, ...) and the refresh and
// memory routes. Lists of things Easel does not have (VAEs, LoRAs, scripts) are empty rather than missing, so a
// client that fetches them all before it shows its UI does not fail.
import { freemem, totalmem } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { listSamplers } from '../../pipeline/schedulers/samplers.js';
import type { A1111Context } from './a1111-api.js';
import { UPSCALERS } from './extras.js';

const EMPTY_LISTS = ['sd-vae', 'hypernetworks', 'face-restorers', 'realesrgan-models', 'prompt-styles', 'latent-upscale-modes', 'loras', 'script-info', 'extensions'];

export function registerListingRoutes(scope: FastifyInstance, ctx: A1111Context): void {
  // A1111's title is `file.safetensors [hash]`; an Easel model is a folder, so its id is its title.
  scope.get('/sd-models', async () =>
    (await ctx.registry.list())
      .filter((m) => m.ready)
      .map((m) => ({ title: m.id, model_name: m.id, hash: null, sha256: null, filename: m.dir, config: null })),
  );

  scope.get('/samplers', async () =>
    listSamplers().map((s) => ({
      name: s.name,
      aliases: [s.id, ...s.aliases.filter((a) => a !== s.name)],
      options: s.id.endsWith('_karras') ? { scheduler: 'karras' } : {},
    })),
  );

  // Karras is the only schedule Easel can put under another sampler (DPM++ 2M); see samplerFor.
  scope.get('/schedulers', async () => [
    { name: 'automatic', label: 'Automatic', aliases: null, default_rho: -1, need_inner_model: false },
    { name: 'karras', label: 'Karras', aliases: null, default_rho: 7, need_inner_model: false },
  ]);

  scope.get('/upscalers', async () => UPSCALERS.map((u) => ({ name: u.name, model_name: null, model_path: null, model_url: null, scale: u.scale })));

  for (const name of EMPTY_LISTS) scope.get(`/${name}`, async () => []);
  scope.get('/embeddings', async () => ({ loaded: {}, skipped: {} }));
  scope.get('/scripts', async () => ({ txt2img: [], img2img: [] }));

  scope.get('/memory', async () => {
    const rss = process.memoryUsage().rss;
    return { ram: { free: freemem(), used: rss, total: totalmem() }, cuda: { error: 'unavailable' } };
  });

  // The registry scans the model folder on every call, so there is nothing to refresh; these exist for clients.
  for (const name of ['refresh-checkpoints', 'refresh-vae', 'refresh-embeddings']) {
    scope.post(`/${name}`, async (_request, reply) => reply.type('application/json').send('null'));
  }
  for (const name of ['unload-checkpoint', 'reload-checkpoint']) scope.post(`/${name}`, async () => ({}));
}
