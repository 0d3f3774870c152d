// A websocket client for tests: collects every JSON event from /api/ws and waits for the first one matching a
// predicate (including events that arrived before the wait began).
import { WebSocket } from 'ws';
import type { WsEvent } from '../../server/src/http/events.js';

export interface EventWatcher {
  events: WsEvent[];
  waitFor<E extends WsEvent>(pred: (e: WsEvent) => e is E, timeoutMs?: number): Promise<E>;
  waitFor(pred: (e: WsEvent) => boolean, timeoutMs?: number): Promise<WsEvent>;
  close(): void;
}

export async function watchEvents(baseUrl: string): Promise<EventWatcher> {
  const socket = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/api/ws`);
  const events: WsEvent[] = [];
  const waiters: { pred: (e: WsEvent) => boolean; resolve: (e: WsEvent) => void }[] = [];
  socket.on('message', (data, isBinary) => {
    if (isBinary) return;
    const event = JSON.parse(String(data)) as WsEvent;
    events.push(event);
    for (const w of [...waiters]) {
      if (!w.pred(event)) continue;
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(event);
    }
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  const waitFor = (pred: (e: WsEvent) => boolean, timeoutMs = 60_000): Promise<WsEvent> =>
    new Promise((resolve, reject) => {
      const earlier = events.find(pred);
      if (earlier) return resolve(earlier);
      const timer = setTimeout(() => reject(new Error(`no matching event within ${timeoutMs} ms; saw ${events.map((e) => e.type).join(', ')}`)), timeoutMs);
      waiters.push({ pred, resolve: (e) => (clearTimeout(timer), resolve(e)) });
    });
  return { events, waitFor: waitFor as EventWatcher['waitFor'], close: () => socket.close() };
}
