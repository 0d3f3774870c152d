// Model events (model.import.*, model.download.*) for the model manager. The studio's socket (../socket.ts) feeds
// the studio store only, so the manager keeps a second connection to /api/ws and reads only its own events;
// it reconnects with capped backoff and refreshes after a reconnect, as events may have been missed.
import type { WsEvent } from '../../../../server/src/http/events.js';
import type { ModelEvent } from '../../../../server/src/http/models.schemas.js';

const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 15_000;

export function connectModelEvents(onEvent: (event: ModelEvent) => void, onReconnect: () => void): () => void {
  let socket: WebSocket | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let failures = 0;
  let stopped = false;
  const url = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/api/ws`;

  const open = (): void => {
    const ws = new WebSocket(url);
    socket = ws;
    ws.onopen = () => {
      if (failures > 0) onReconnect();
      failures = 0;
    };
    ws.onmessage = (message: MessageEvent<unknown>) => {
      if (typeof message.data !== 'string') return; // previews are the studio's
      try {
        const event = JSON.parse(message.data) as WsEvent;
        if (event.type.startsWith('model.')) onEvent(event as ModelEvent);
      } catch {
        // not JSON: ignore
      }
    };
    ws.onclose = () => {
      if (socket !== ws || stopped) return;
      timer = setTimeout(open, Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** failures++));
    };
  };
  open();
  return () => {
    stopped = true;
    clearTimeout(timer);
    socket?.close();
    socket = null;
  };
}
