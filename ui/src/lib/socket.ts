// The one owner of the websocket: connects to /api/ws, feeds every event and preview frame to the studio
// store, and reconnects with capped exponential backoff. The server resends the queue snapshot on connect.
import { decodePreviewFrame, type WsEvent } from '../../../server/src/http/events.js';
import { serverSettings } from './server-settings.svelte.js';
import type { Studio } from './studio.svelte.js';

const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 10_000;

export function socketUrl(location: Location): string {
  const protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${protocol}//${location.host}/api/ws`;
}

/** Connects and keeps connecting until the returned function is called. */
export function connectStudio(studio: Studio, url = socketUrl(window.location)): () => void {
  let socket: WebSocket | null = null;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let failures = 0;
  let stopped = false;

  const open = () => {
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    socket = ws;

    ws.onopen = () => {
      failures = 0;
      studio.setConnection('open');
    };
    ws.onmessage = (message: MessageEvent<string | ArrayBuffer>) => {
      if (socket !== ws) return; // a frame from a socket we already gave up on
      if (typeof message.data === 'string') {
        const event = parseEvent(message.data);
        if (event?.type === 'settings.server') serverSettings.current = event.settings;
        else if (event) studio.apply(event);
        return;
      }
      try {
        const { header, image } = decodePreviewFrame(new Uint8Array(message.data));
        studio.applyPreview(header, image);
      } catch (error) {
        console.warn('Easel: dropped a malformed preview frame', error);
      }
    };
    ws.onclose = () => {
      if (socket !== ws) return;
      socket = null;
      if (stopped) return;
      studio.setConnection('offline');
      const delay = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** failures++);
      // Jitter keeps a roomful of tabs from reconnecting in lockstep after a server restart.
      retryTimer = setTimeout(open, delay * (0.75 + Math.random() * 0.5));
    };
  };

  // Only the first attempt reads "connecting"; retries stay "offline" until one opens.
  studio.setConnection('connecting');
  open();
  return () => {
    stopped = true;
    clearTimeout(retryTimer);
    const ws = socket;
    socket = null;
    ws?.close();
  };
}

function parseEvent(text: string): WsEvent | null {
  try {
    const event = JSON.parse(text) as WsEvent;
    return typeof event?.type === 'string' ? event : null;
  } catch {
    console.warn('Easel: dropped a websocket message that is not JSON');
    return null;
  }
}
