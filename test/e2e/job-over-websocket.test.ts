// The whole path over real sockets: HTTP job submission, then queue, progress, binary previews and done
// events on the websocket, then the PNG from /api/images and in the outputs folder.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { WebSocket } from 'ws';
import sharp from 'sharp';
import { decodePreviewFrame, type PreviewHeader, type WsEvent } from '../../server/src/http/events.js';
import type { JobView } from '../../server/src/http/schemas.js';
import { readPngText } from '../../server/src/images/png-text.js';
import { startTestServer, type TestServer } from '../helpers/easel-server.js';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.close();
});

interface Collected {
  events: WsEvent[];
  previews: { header: PreviewHeader; image: Uint8Array }[];
}

function watch(url: string): Promise<{ socket: WebSocket; seen: Collected; waitFor(pred: (e: WsEvent) => boolean): Promise<WsEvent> }> {
  const socket = new WebSocket(url.replace(/^http/, 'ws') + '/api/ws');
  const seen: Collected = { events: [], previews: [] };
  const waiters: { pred: (e: WsEvent) => boolean; resolve: (e: WsEvent) => void }[] = [];
  socket.on('message', (data, isBinary) => {
    if (isBinary) {
      seen.previews.push(decodePreviewFrame(new Uint8Array(data as Buffer)));
      return;
    }
    const event = JSON.parse(String(data)) as WsEvent;
    seen.events.push(event);
    for (const w of [...waiters]) if (w.pred(event)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(event);
    }
  });
  const waitFor = (pred: (e: WsEvent) => boolean) =>
    new Promise<WsEvent>((resolve) => {
      const earlier = seen.events.find(pred);
      if (earlier) resolve(earlier);
      else waiters.push({ pred, resolve });
    });
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve({ socket, seen, waitFor }));
    socket.once('error', reject);
  });
}

async function submit(body: unknown): Promise<{ id: string; position: number }> {
  const res = await fetch(`${server.url}/api/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(res.status, 202, await res.clone().text());
  return (await res.json()) as { id: string; position: number };
}

test('a job sends progress, previews and done over the websocket and ends as a PNG', async () => {
  const ws = await watch(server.url);
  const first = ws.seen.events[0] ?? (await ws.waitFor((e) => e.type === 'queue'));
  assert.equal(first.type, 'queue', 'the snapshot comes first');

  const { id } = await submit({ prompt: 'a lighthouse at dusk', negativePrompt: 'fog', steps: 5, width: 64, height: 96, seed: 77 });
  const done = (await ws.waitFor((e) => e.type === 'job.done' && e.job.id === id)) as { job: JobView };

  const progress = ws.seen.events.filter((e): e is Extract<WsEvent, { type: 'job.progress' }> => e.type === 'job.progress' && e.id === id);
  assert.deepEqual(progress.map((p) => p.step), [1, 2, 3, 4, 5]);
  assert.ok(progress.every((p) => p.totalSteps === 5 && p.etaMs >= 0));
  const previews = ws.seen.previews.filter((p) => p.header.jobId === id);
  assert.equal(previews.length, 5, 'one preview a step');
  const meta = await sharp(previews[0]!.image).metadata();
  assert.equal(meta.format, 'jpeg');
  assert.equal(meta.width! * 96, meta.height! * 64, 'the preview keeps the aspect ratio');
  assert.ok(ws.seen.events.some((e) => e.type === 'job.started' && e.job.id === id));

  assert.equal(done.job.images.length, 1);
  const t = done.job.timings;
  assert.ok(t && t.onnxRuns === 2 + 5 + 1 && t.onnxMs > 0 && t.onnxMs <= t.workerMs, `timings ${JSON.stringify(t)}`);
  const image = done.job.images[0]!;
  assert.equal(image.seed, 77);
  const res = await fetch(`${server.url}${image.url}`);
  assert.equal(res.headers.get('content-type'), 'image/png');
  const png = new Uint8Array(await res.arrayBuffer());
  const size = await sharp(png).metadata();
  assert.deepEqual([size.width, size.height], [64, 96]);
  const text = readPngText(png);
  assert.match(text.parameters ?? '', /^a lighthouse at dusk\nNegative prompt: fog\nSteps: 5, Sampler: Euler, CFG scale: 7.5, Seed: 77, Size: 64x96/);
  assert.equal((JSON.parse(text.easel ?? '{}') as { prompt: string }).prompt, 'a lighthouse at dusk');
  assert.ok(existsSync(server.outputsDir) && readdirSync(server.outputsDir).includes(`${image.id}.png`));
  ws.socket.close();
});

test('cancelling a running job stops it; the next queued job still runs', async () => {
  const ws = await watch(server.url);
  const long = await submit({ prompt: 'a long one', steps: 150, width: 64, height: 64, seed: 1 });
  const next = await submit({ prompt: 'the next one', steps: 2, width: 64, height: 64, seed: 2 });
  assert.equal(next.position, 1);
  await ws.waitFor((e) => e.type === 'job.progress' && e.id === long.id && e.step >= 2);
  const res = await fetch(`${server.url}/api/jobs/${long.id}`, { method: 'DELETE' });
  assert.equal(res.status, 200);
  const cancelled = (await ws.waitFor((e) => e.type === 'job.cancelled' && e.job.id === long.id)) as { job: JobView };
  assert.equal(cancelled.job.state, 'cancelled');
  assert.ok((cancelled.job.progress?.step ?? 150) < 150, 'it stopped early');
  const done = (await ws.waitFor((e) => e.type === 'job.done' && e.job.id === next.id)) as { job: JobView };
  assert.equal(done.job.images.length, 1);
  ws.socket.close();
});

test('a reconnecting client gets the queue snapshot and the running job\'s progress at once', async () => {
  const ws = await watch(server.url);
  const { id } = await submit({ prompt: 'watch me', steps: 150, width: 64, height: 64, seed: 3 });
  await ws.waitFor((e) => e.type === 'job.progress' && e.id === id && e.step >= 1);
  const late = await watch(server.url);
  const snapshot = (await late.waitFor((e) => e.type === 'queue')) as { queue: JobView[] };
  assert.equal(snapshot.queue[0]?.id, id);
  await late.waitFor((e) => e.type === 'job.progress' && e.id === id);
  await fetch(`${server.url}/api/jobs/${id}`, { method: 'DELETE' });
  await ws.waitFor((e) => e.type === 'job.cancelled' && e.job.id === id);
  ws.socket.close();
  late.socket.close();
});

test('img2img over HTTP: an uploaded init image, strength and preserved colours end in a PNG that records them', async () => {
  const ws = await watch(server.url);
  const init = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#c04020' } }).png().toBuffer();
  const { id } = await submit({
    prompt: 'a red barn',
    steps: 10,
    width: 64,
    height: 64,
    seed: 5,
    initImage: `data:image/png;base64,${init.toString('base64')}`,
    strength: 0.5,
    preserveColors: true,
  });
  const done = (await ws.waitFor((e) => (e.type === 'job.done' || e.type === 'job.failed') && e.job.id === id)) as { job: JobView };
  assert.equal(done.job.state, 'done', JSON.stringify(done.job.error));
  const progress = ws.seen.events.filter((e) => e.type === 'job.progress' && e.id === id);
  assert.equal(progress.length, 5, 'steps × strength UNet steps');
  const png = new Uint8Array(await (await fetch(`${server.url}${done.job.images[0]!.url}`)).arrayBuffer());
  assert.match(readPngText(png).parameters ?? '', /Denoising strength: 0\.5/);
  ws.socket.close();
});

test('image i of a job uses seed s+i, as A1111 does: it equals a one-image job with that seed', async () => {
  const ws = await watch(server.url);
  const pixels = async (url: string) => sharp(Buffer.from(await (await fetch(`${server.url}${url}`)).arrayBuffer())).raw().toBuffer();
  const batch = await submit({ prompt: 'two of a kind', steps: 3, width: 64, height: 64, seed: 10, count: 2 });
  const single = await submit({ prompt: 'two of a kind', steps: 3, width: 64, height: 64, seed: 11 });
  const a = (await ws.waitFor((e) => e.type === 'job.done' && e.job.id === batch.id)) as { job: JobView };
  const b = (await ws.waitFor((e) => e.type === 'job.done' && e.job.id === single.id)) as { job: JobView };
  assert.deepEqual(a.job.images.map((i) => i.seed), [10, 11]);
  assert.deepEqual(await pixels(a.job.images[1]!.url), await pixels(b.job.images[0]!.url));
  assert.notDeepEqual(await pixels(a.job.images[0]!.url), await pixels(a.job.images[1]!.url));
  ws.socket.close();
});
