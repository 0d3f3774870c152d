// Websocket messages: JSON text frames for events, binary frames for step previews.
import type { ErrorInfo, JobView, Progress, ServerSettingsView } from './schemas.js';
import type { ModelEvent } from './models.schemas.js';

export type WsEvent =
  | { type: 'queue'; queue: JobView[]; paused: boolean }
  | { type: 'job.queued'; job: JobView }
  | { type: 'job.started'; job: JobView }
  | ({ type: 'job.progress'; id: string } & Progress)
  | { type: 'job.done'; job: JobView }
  | { type: 'job.failed'; job: JobView; error: ErrorInfo }
  | { type: 'job.cancelled'; job: JobView }
  // The owner's server settings, on connect and after each change (an enforced NSFW filter shows at once).
  | { type: 'settings.server'; settings: ServerSettingsView }
  // model.import.progress/done/failed, model.download.progress/done/failed (models.schemas.ts)
  | ModelEvent;

/** What a binary preview frame says about its picture. */
export interface PreviewHeader {
  jobId: string;
  image: number;
  step: number;
  totalSteps: number;
  mime: 'image/jpeg';
  width: number;
  height: number;
}

// Frame layout: 4-byte big-endian header length N, N bytes of UTF-8 JSON (PreviewHeader), then the image bytes.
export function encodePreviewFrame(header: PreviewHeader, image: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const frame = new Uint8Array(4 + json.length + image.length);
  new DataView(frame.buffer).setUint32(0, json.length, false);
  frame.set(json, 4);
  frame.set(image, 4 + json.length);
  return frame;
}

export function decodePreviewFrame(frame: Uint8Array): { header: PreviewHeader; image: Uint8Array } {
  if (frame.length < 4) throw new Error('preview frame too short');
  const length = new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(0, false);
  if (4 + length > frame.length) throw new Error('preview frame header overruns the frame');
  const header = JSON.parse(new TextDecoder().decode(frame.subarray(4, 4 + length))) as PreviewHeader;
  return { header, image: frame.subarray(4 + length) };
}
