// LAN sharing: where others can reach this server (with QR codes for phones), and the owner's switch for it.
import type { FastifyInstance } from 'fastify';
import type { SharingService } from '../sharing/sharing-service.js';
import { qrDataUrl } from '../sharing/lan-addresses.js';
import { requireOwner } from './plugins/access.plugin.js';
import { ErrorBody } from './schemas.js';
import { SharingInfo, SharingSettingsUpdate, SharingSettingsView } from './sharing.schemas.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** main.ts asks it where to listen and prints the LAN addresses when sharing changes. */
    sharing: SharingService;
  }
}

export function registerSharingRoutes(app: FastifyInstance, deps: { sharing: SharingService }): void {
  const { sharing } = deps;
  app.decorate('sharing', sharing);

  app.get('/api/sharing', { schema: { response: { 200: SharingInfo } } }, async () => {
    const state = sharing.state();
    const addresses = await Promise.all(state.addresses.map(async (a) => ({ ...a, qr: await qrDataUrl(a.url) })));
    return { enabled: state.enabled, addresses };
  });

  app.get('/api/settings/sharing', { schema: { response: { 200: SharingSettingsView, 403: ErrorBody } } }, async (request) => {
    requireOwner(request);
    return sharing.state();
  });

  app.put<{ Body: SharingSettingsUpdate }>(
    '/api/settings/sharing',
    { schema: { body: SharingSettingsUpdate, response: { 200: SharingSettingsView, 400: ErrorBody, 403: ErrorBody, 409: ErrorBody } } },
    async (request) => {
      requireOwner(request);
      return sharing.update(request.body);
    },
  );
}
