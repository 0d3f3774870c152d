// The AUTOMATIC1111 web API under /sdapi/v1, so clients written for A1111 (SillyTavern, Open WebUI, the webuiapi
// Python client, chat bots, editor plugins) use Easel unchanged. One encapsulated Fastify scope with its own error
// shape and JSON parser (empty bodies allowed). Access control is the app-wide guard (http/plugins/access.plugin.ts):
// it is registered on the root before this scope, so it runs first on every /sdapi request, and it takes HTTP
// Basic there as A1111's --api-auth does; its 401s leave here in A1111's error shape.
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { EaselConfig } from '../../config/config.js';
import type { ImageInputs } from '../../images/image-inputs.js';
import type { ModelRegistry } from '../../models/model-registry.js';
import type { JobQueue } from '../../queue/job-queue.js';
import type { ServerSettings } from '../../settings/server-settings.js';
import { registerA1111ErrorHandler } from './a1111-errors.js';
import { ApiJobs } from './api-jobs.js';
import { registerGenerateRoutes } from './generate.routes.js';
import { registerListingRoutes } from './listings.routes.js';
import { registerOptionsRoutes } from './options.routes.js';
import { A1111Options } from './options-store.js';
import { registerPngInfoRoutes } from './png-info.routes.js';
import { registerProgressRoutes } from './progress.routes.js';

export interface A1111Deps {
  queue: JobQueue;
  registry: ModelRegistry;
  images: ImageInputs;
  version: string;
  config: EaselConfig;
  /** The owner's settings: an enforced NSFW check applies to A1111 jobs too. */
  serverSettings: Pick<ServerSettings, 'filters'>;
}

export interface A1111Context extends A1111Deps {
  options: A1111Options;
  jobs: ApiJobs;
}

export async function registerA1111Api(app: FastifyInstance, deps: A1111Deps): Promise<void> {
  const ctx: A1111Context = {
    ...deps,
    options: new A1111Options(join(deps.config.dataDir, 'a1111-options.json'), deps.registry),
    jobs: new ApiJobs(deps.queue),
  };
  await app.register(
    async (scope) => {
      registerA1111ErrorHandler(scope);
      registerGenerateRoutes(scope, ctx);
      registerProgressRoutes(scope, ctx);
      registerOptionsRoutes(scope, ctx);
      registerListingRoutes(scope, ctx);
      registerPngInfoRoutes(scope);
    },
    { prefix: '/sdapi/v1' },
  );
}
