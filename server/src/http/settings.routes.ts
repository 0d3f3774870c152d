// The owner's server settings: anyone signed in may read them (the page shows an enforced NSFW filter as such);
// only the owner may change them.
import type { FastifyInstance } from 'fastify';
import type { ServerSettings } from '../settings/server-settings.js';
import { requireOwner } from './plugins/access.plugin.js';
import { ErrorBody, ServerSettingsUpdate, ServerSettingsView } from './schemas.js';

export function registerSettingsRoutes(app: FastifyInstance, deps: { serverSettings: ServerSettings }): void {
  const { serverSettings } = deps;

  app.get('/api/settings/server', { schema: { response: { 200: ServerSettingsView } } }, async () => serverSettings.view());

  app.patch<{ Body: ServerSettingsUpdate }>(
    '/api/settings/server',
    {
      schema: { body: ServerSettingsUpdate, response: { 200: ServerSettingsView, 400: ErrorBody, 403: ErrorBody } },
      // Before the body is checked: a guest hears "owner only", not what is wrong with a body it may not send.
      preValidation: async (request) => void requireOwner(request),
    },
    async (request) => serverSettings.update(request.body),
  );
}
