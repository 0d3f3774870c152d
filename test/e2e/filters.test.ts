// The filter chain over HTTP with the real worker and no network: a job that generates, upscales with the built-in
// ESRGAN-slim and runs the NSFW check; then POST /api/filters on the image it made and on an upload.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { WebSocket } from 'ws';
import type { WsEvent } from '../../server/src/http/events.js';
import type { AvailableFilters, JobView } from '../../server/src/http/schemas.js';
import type { RgbImage } from '../../server/src/images/encode.js';
import { readPngText } from '../../server/src/images/png-text.js';
import { upscale } from '../../server/src/filters/upscale.js';
import { startTestServer, type TestServer } from '../helpers/easel-server.js';

let server: TestServer;
let socket: WebSocket;
const events: WsEvent[] = [];
before(async () => {
  server = await startTestServer();
  socket = new WebSocket(`${server.url.replace(/^http/, 'ws')}/api/ws`);
  socket.on('message', (data, isBinary) => {
    if (!isBinary) events.push(JSON.parse(String(data)) as WsEvent);
  });
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
});
after(async () => {
  socket.close();
  await server.close();
});

async function post(path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function finished(id: string): Promise<JobView> {
  for (let i = 0; i < 600; i++) {
    const job = (await (await fetch(`${server.url}/api/jobs/${id}`)).json()) as JobView;
    if (job.state !== 'queued' && job.state !== 'running') return job;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`job ${id} did not finish`);
}

async function png(url: string): Promise<{ width: number; height: number; text: Record<string, string> }> {
  const bytes = new Uint8Array(await (await fetch(`${server.url}${url}`)).arrayBuffer());
  const meta = await sharp(bytes).metadata();
  return { width: meta.width ?? 0, height: meta.height ?? 0, text: readPngText(bytes) };
}

let generatedId = '';

test('GET /api/filters offers the built-ins with no download', async () => {
  const res = await fetch(`${server.url}/api/filters`);
  assert.equal(res.status, 200);
  const filters = (await res.json()) as AvailableFilters;
  assert.deepEqual(filters.upscalers.filter((u) => u.builtin).map((u) => u.id), ['esrgan-slim', 'lanczos']);
  assert.deepEqual(filters.nsfw.map((n) => n.id), ['nsfwjs']);
  assert.deepEqual(filters.upscaleFactors, [2, 3, 4]);
});

test('a job generates, upscales x2 with ESRGAN-slim and runs the NSFW check, reporting each stage', async () => {
  const created = await post('/api/jobs', { prompt: 'a red lighthouse', steps: 2, width: 64, height: 64, seed: 9, upscale: { factor: 2 }, nsfwFilter: true });
  assert.equal(created.status, 202, JSON.stringify(created.json));
  const id = created.json.id as string;
  const job = await finished(id);
  assert.equal(job.state, 'done', JSON.stringify(job.error));
  assert.deepEqual(job.request.upscale, { factor: 2, model: 'esrgan-slim' });
  assert.equal(job.request.nsfwFilter, true);
  const image = job.images[0]!;
  assert.deepEqual([image.width, image.height], [128, 128]);
  const file = await png(image.url);
  assert.deepEqual([file.width, file.height], [128, 128]);
  assert.match(file.text.parameters ?? '', /Seed: 9, .*Postprocess upscale by: 2, Postprocess upscaler: ESRGAN-slim 2x, NSFW filter: nsfwjs, NSFW result: (passed|blurred), Version: /);

  const stages = events.filter((e): e is Extract<WsEvent, { type: 'job.progress' }> => e.type === 'job.progress' && e.id === id && e.stage !== undefined);
  assert.deepEqual([...new Set(stages.map((e) => e.stage))], ['upscale', 'nsfw']);
  const upscaleDone = stages.filter((e) => e.stage === 'upscale' && e.step > 0);
  assert.ok(upscaleDone.length >= 1 && upscaleDone.at(-1)!.step === upscaleDone.at(-1)!.totalSteps, 'a progress event per tile, ending at the last');
  generatedId = image.id;
});

test('POST /api/filters turns an image made here into a new gallery image that names its source', async () => {
  assert.ok(generatedId, 'needs the image of the test before');
  const created = await post('/api/filters', { image: generatedId, upscale: { factor: 2, model: 'lanczos' } });
  assert.equal(created.status, 202, JSON.stringify(created.json));
  const job = await finished(created.json.id as string);
  assert.equal(job.state, 'done', JSON.stringify(job.error));
  assert.equal(job.request.kind, 'filter');
  assert.equal(job.request.sourceImage, generatedId);
  assert.equal(job.request.prompt, 'a red lighthouse', 'the source keeps telling how it was made');
  const file = await png(job.images[0]!.url);
  assert.deepEqual([file.width, file.height], [256, 256]);
  // The source's own infotext, with both upscales recorded.
  assert.match(file.text.parameters ?? '', /^a red lighthouse\n.*Postprocess upscaler: ESRGAN-slim 2x, .*Postprocess upscale by: 2, Postprocess upscaler: Lanczos/s);

  const gallery = (await (await fetch(`${server.url}/api/gallery`)).json()) as { images: { id: string }[] };
  assert.ok(gallery.images.some((i) => i.id === job.images[0]!.id), 'the result is in the gallery');
});

test('POST /api/filters on an uploaded picture', async () => {
  const upload = await sharp({ create: { width: 40, height: 30, channels: 3, background: '#3070c0' } }).png().toBuffer();
  const created = await post('/api/filters', { image: `data:image/png;base64,${upload.toString('base64')}`, upscale: { factor: 3 }, nsfwFilter: true });
  assert.equal(created.status, 202, JSON.stringify(created.json));
  const job = await finished(created.json.id as string);
  assert.equal(job.state, 'done', JSON.stringify(job.error));
  const file = await png(job.images[0]!.url);
  assert.deepEqual([file.width, file.height], [120, 90]);
  assert.match(file.text.parameters ?? '', /^Postprocess upscale by: 3, Postprocess upscaler: ESRGAN-slim 3x, NSFW filter: nsfwjs, NSFW result: passed$/);
});

test('filter requests that cannot run are 400s naming the field', async () => {
  const job = { prompt: 'x', steps: 1, width: 64, height: 64 };
  const cases: [string, unknown, string][] = [
    ['/api/jobs', { ...job, upscale: { factor: 2, model: 'no-such-upscaler' } }, 'upscale.model'],
    ['/api/jobs', { ...job, upscale: { factor: 5 } }, 'upscale.factor'],
    ['/api/jobs', { ...job, faceRestore: { strength: 0.5 } }, 'faceRestore'],
    ['/api/jobs', { ...job, width: 2048, height: 2048, upscale: { factor: 4 } }, 'upscale.factor'],
    ['/api/filters', { image: generatedId }, 'upscale'],
    ['/api/filters', { image: 'no-such-image', nsfwFilter: true }, 'image'],
  ];
  // Without the watermark module a watermark is refused; with it, a picture under 256×256 is.
  cases.push(['/api/jobs', { ...job, watermark: true }, 'watermark']);
  for (const [path, body, field] of cases) {
    const res = await post(path, body);
    assert.equal(res.status, 400, `${JSON.stringify(body)} → ${res.status}`);
    assert.equal((res.json.error as { field?: string }).field, field, JSON.stringify(res.json));
  }
});

test('the watermark goes on last: the result is the plain image upscaled, then marked', async (t) => {
  const available = (await (await fetch(`${server.url}/api/filters`)).json()) as AvailableFilters;
  if (!available.watermark) return t.skip('no watermark module in this build');
  const { embedWatermark } = (await import('../../server/src/filters/watermark.js' as string)) as {
    embedWatermark(image: RgbImage, text: string): RgbImage;
  };
  const base = { prompt: 'a marked picture', steps: 1, width: 64, height: 64, seed: 4 };
  const plain = await finished(((await post('/api/jobs', base)).json.id as string));
  const marked = await finished(((await post('/api/jobs', { ...base, upscale: { factor: 4, model: 'lanczos' }, watermark: true })).json.id as string));
  assert.equal(marked.state, 'done', JSON.stringify(marked.error));
  assert.deepEqual(marked.request.watermark, { text: 'StableDiffusionV1' });
  const expected = embedWatermark(await upscale(await pixels(plain.images[0]!.url), { factor: 4, model: 'lanczos' }, { modelsDir: '' }), 'StableDiffusionV1');
  const got = await pixels(marked.images[0]!.url);
  assert.deepEqual([got.width, got.height], [256, 256]);
  assert.ok(Buffer.from(got.pixels).equals(Buffer.from(expected.pixels)), 'upscale first, watermark last');
});

async function pixels(url: string): Promise<RgbImage> {
  const bytes = new Uint8Array(await (await fetch(`${server.url}${url}`)).arrayBuffer());
  const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, pixels: new Uint8Array(data) };
}
