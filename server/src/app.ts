// buildApp: the whole HTTP server as one Fastify instance, plugins and routes registered explicitly.
// main.ts listens on it; tests build the same app.
import Fastify, { type FastifyInstance } from 'fastify';
import websocket from '@fastify/websocket';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { appRoot, type EaselConfig } from './config/config.js';
import { registerErrorHandler } from './http/errors.js';
import { registerFilterRoutes } from './http/filters.routes.js';
import { enforceOwnerNsfw } from './filters/resolve-filters.js';
import { registerImageInfoRoutes } from './http/image-info.routes.js';
import { registerImageRoutes } from './http/images.routes.js';
import { registerJobRoutes } from './http/jobs.routes.js';
import { registerStaticUi } from './http/static-ui.js';
import { registerSystemRoutes } from './http/system.routes.js';
import { registerTokenizeRoutes } from './http/tokenize.routes.js';
import { registerWsRoutes } from './http/ws.routes.js';
import { ImageInputs } from './images/image-inputs.js';
import { OutputStore } from './images/output-store.js';
import { ModelRegistry } from './models/model-registry.js';
import { ModelServices, type ModelServicesOptions } from './models/model-services.js';
import { registerModelRoutes } from './http/models.routes.js';
import { JobQueue, type RenderBackend } from './queue/job-queue.js';
import { JobStore } from './queue/job-store.js';
import { registerGalleryRoutes } from './http/gallery.routes.js';
import { registerA1111Api } from './http/a1111/a1111-api.js';
import { WorkerHost } from './worker/worker-host.js';
import type { WorkerSettings } from './worker/protocol.js';
import type { ServerSettingsView } from './http/schemas.js';
import { AccessControl } from './auth/access-control.js';
import { registerAccessGuard } from './http/plugins/access.plugin.js';
import { registerAuthRoutes } from './http/auth.routes.js';
import { registerSharingRoutes } from './http/sharing.routes.js';
import { registerSettingsRoutes } from './http/settings.routes.js';
import { ServerSettings } from './settings/server-settings.js';
import { SettingsStore } from './settings/settings-store.js';
import { SharingService } from './sharing/sharing-service.js';

export const version = (JSON.parse(readFileSync(join(appRoot, 'package.json'), 'utf8')) as { version: string }).version;

export interface AppDeps {
  /** The render backend; by default a real worker thread. */
  backend?: RenderBackend & {
    devices?: { id: string; name: string; reason: string }[];
    close?(): Promise<void>;
    /** The owner's settings the worker runs under (low-memory mode), at start and after every change. */
    configure?(settings: WorkerSettings): void;
  };
  logger?: boolean | object;
  /** Model manager settings (catalog source, upload limit, auto-import delay); tests serve their own catalog. */
  models?: Omit<ModelServicesOptions, 'dataDir'>;
}

// Room for an init image or mask as a data URL; anything bigger is refused with a 400.
const BODY_LIMIT = 32 * 1024 * 1024;

export async function buildApp(config: EaselConfig, deps: AppDeps = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: deps.logger ?? false,
    bodyLimit: BODY_LIMIT,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  });
  registerErrorHandler(app);

  const registry = new ModelRegistry(config.modelsDir);
  const models = new ModelServices(registry, { ...deps.models, dataDir: config.dataDir, log: (m) => app.log.info(m) });
  const images = new ImageInputs(new OutputStore(config.outputsDir), new OutputStore(join(config.dataDir, 'inputs')));
  let backend = deps.backend;
  if (!backend) {
    const host = new WorkerHost();
    host.start();
    backend = host;
  }
  const host = backend;
  const store = new JobStore(join(config.dataDir, 'easel.db'));
  const settings = new SettingsStore(config.dataDir);
  const serverSettings = new ServerSettings(settings, config.modelsDir);
  const queue = new JobQueue(
    host,
    { outputsDir: config.outputsDir, inputsDir: join(config.dataDir, 'inputs'), version, modelsDir: config.modelsDir },
    store,
    // A job queued before the owner forced the NSFW check gets it when it starts.
    (request) => enforceOwnerNsfw(request, serverSettings.filters, config.modelsDir),
  );

  const access = new AccessControl(settings);
  const sharing = new SharingService(app.server, config, settings, access);
  // The render worker's part of the settings, at start and after every change (worker/protocol.ts).
  const optimizedCacheDir = join(config.dataDir, 'cache', 'onnxruntime');
  const workerSettings = (view: ServerSettingsView): WorkerSettings => ({
    lowMemory: view.performance.lowMemory,
    optimizedCacheDir: view.performance.optimizedModelCache ? optimizedCacheDir : null,
    ownerFilters: { forceNsfwFilter: view.filters.forceNsfwFilter, nsfwModel: view.filters.nsfwModel },
    ...(config.batchSize !== undefined ? { batchSize: config.batchSize } : {}),
  });
  host.configure?.(workerSettings(serverSettings.view()));
  serverSettings.onChange((view) => host.configure?.(workerSettings(view)));

  // The door comes first: every route below, the websocket upgrade included, is behind it.
  registerAccessGuard(app, { access });
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });
  registerAuthRoutes(app, { access });
  registerSharingRoutes(app, { sharing });
  registerSettingsRoutes(app, { serverSettings });
  registerSystemRoutes(app, { registry, version, devices: () => host.devices ?? [] });
  registerJobRoutes(app, { queue, registry, images, serverSettings });
  registerFilterRoutes(app, { queue, images, modelsDir: config.modelsDir, serverSettings });
  registerImageRoutes(app, { images, queue });
  registerImageInfoRoutes(app, { images });
  registerTokenizeRoutes(app, { registry });
  registerGalleryRoutes(app, { store });
  registerModelRoutes(app, { models });
  registerWsRoutes(app, { queue, modelEvents: models, serverSettings });
  await registerA1111Api(app, { queue, registry, images, version, config, serverSettings });
  await registerStaticUi(app, config.uiDir);

  app.addHook('onClose', async () => {
    await models.close();
    await host.close?.();
    store.close();
  });
  // Jobs left queued (or interrupted) by the last run start again once everything is in place.
  queue.restore();
  // Checkpoints dropped into the store while Easel was stopped are imported now.
  await models.start();
  return app;
}
