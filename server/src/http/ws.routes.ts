// The one websocket: JSON events for every queue change, binary frames for step previews. A client that
// falls behind skips previews rather than growing the server's buffers.
import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import { encodePreviewFrame, type WsEvent } from './events.js';
import type { JobQueue } from '../queue/job-queue.js';
import type { ModelEvent } from './models.schemas.js';
import type { ServerSettings } from '../settings/server-settings.js';

const MAX_BUFFERED_BYTES = 1 << 20;

export function registerWsRoutes(
  app: FastifyInstance,
  deps: {
    queue: JobQueue;
    /** model.import.* and model.download.* (models/model-services.ts) */
    modelEvents?: { on(name: 'event', listener: (event: ModelEvent) => void): unknown };
    serverSettings?: ServerSettings;
  },
): void {
  const { queue } = deps;
  const clients = new Set<WebSocket>();

  const broadcast = (event: WsEvent): void => {
    const text = JSON.stringify(event);
    for (const socket of clients) if (socket.readyState === socket.OPEN) socket.send(text);
  };

  queue.on('queued', (job) => broadcast({ type: 'job.queued', job }));
  queue.on('started', (job) => broadcast({ type: 'job.started', job }));
  queue.on('progress', (id, progress) => broadcast({ type: 'job.progress', id, ...progress }));
  queue.on('done', (job) => broadcast({ type: 'job.done', job }));
  queue.on('failed', (job, error) => broadcast({ type: 'job.failed', job, error }));
  queue.on('cancelled', (job) => broadcast({ type: 'job.cancelled', job }));
  queue.on('changed', () => broadcast({ type: 'queue', queue: queue.snapshot(), paused: queue.paused }));
  deps.modelEvents?.on('event', broadcast);
  deps.serverSettings?.onChange((settings) => broadcast({ type: 'settings.server', settings }));
  queue.on('preview', (header, jpeg) => {
    const frame = encodePreviewFrame(header, jpeg);
    for (const socket of clients) {
      if (socket.readyState === socket.OPEN && socket.bufferedAmount < MAX_BUFFERED_BYTES) socket.send(frame, { binary: true });
    }
  });

  app.get('/api/ws', { websocket: true }, (socket) => {
    clients.add(socket);
    socket.on('close', () => clients.delete(socket));
    const snapshot = queue.snapshot();
    socket.send(JSON.stringify({ type: 'queue', queue: snapshot, paused: queue.paused } satisfies WsEvent));
    if (deps.serverSettings) socket.send(JSON.stringify({ type: 'settings.server', settings: deps.serverSettings.view() } satisfies WsEvent));
    const running = snapshot.find((j) => j.state === 'running');
    if (running?.progress) socket.send(JSON.stringify({ type: 'job.progress', id: running.id, ...running.progress } satisfies WsEvent));
  });

  app.addHook('onClose', async () => {
    for (const socket of clients) socket.close(1001, 'server shutting down');
  });
}
