// The render worker batching a job's images (EASEL_BATCH_SIZE=2) through the real server: fewer UNet calls, the
// same pictures as one-image jobs, progress per batch and previews of its newest image, and partial images for a whole stopped batch.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import sharp from 'sharp';
import { decodePreviewFrame, type PreviewHeader, type WsEvent } from '../../server/src/http/events.js';
import type { JobView } from '../../server/src/http/schemas.js';
import { readPngText } from '../../server/src/images/png-text.js';
import { apiCall, runJob, startTestServer, type TestServer } from '../helpers/easel-server.js';
import { watchEvents } from '../helpers/ws-events.js';

let server: TestServer;
before(async () => {
  server = await startTestServer({ env: { EASEL_BATCH_SIZE: '2' } });
});
after(() => server.close());

async function pixels(url: string): Promise<Buffer> {
  return sharp(Buffer.from(await (await fetch(`${server.url}${url}`)).arrayBuffer())).raw().toBuffer();
}

function previewsOf(url: string): Promise<{ socket: WebSocket; headers: PreviewHeader[] }> {
  const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/api/ws`);
  const headers: PreviewHeader[] = [];
  socket.on('message', (data, isBinary) => {
    if (isBinary) headers.push(decodePreviewFrame(new Uint8Array(data as Buffer)).header);
  });
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve({ socket, headers }));
    socket.once('error', reject);
  });
}

test('three images in batches of two: 6 UNet calls instead of 9, seeds s+i in order, each equal to its one-image job', async () => {
  const events = await watchEvents(server.url);
  const previews = await previewsOf(server.url);
  const request = { prompt: 'three of a kind', negativePrompt: 'blur', steps: 3, width: 64, height: 64, seed: 40 };
  const job = await runJob(server, { ...request, count: 3 });
  assert.equal(job.state, 'done', JSON.stringify(job));
  // Text encoder: prompt and negative once for the job; UNet: 3 steps × 2 batches; VAE decoder: one per image.
  assert.equal(job.timings?.onnxRuns, 2 + 3 * 2 + 3, JSON.stringify(job.timings));
  assert.deepEqual(job.images.map((i) => i.seed), [40, 41, 42]);
  assert.deepEqual(job.images.map((i) => i.id), [0, 1, 2].map((i) => `${job.id}-${i}`));
  for (const [i, image] of job.images.entries()) {
    const png = new Uint8Array(await (await fetch(`${server.url}${image.url}`)).arrayBuffer());
    assert.match(readPngText(png).parameters ?? '', new RegExp(`Seed: ${40 + i},`));
  }

  const progress = events.events.filter((e): e is Extract<WsEvent, { type: 'job.progress' }> => e.type === 'job.progress' && e.id === job.id);
  assert.deepEqual(
    progress.map((p) => [p.image, p.images ?? 1, p.step]),
    [[0, 2, 1], [0, 2, 2], [0, 2, 3], [2, 1, 1], [2, 1, 2], [2, 1, 3]],
    'progress names the first image of the batch and how many advance together',
  );
  assert.deepEqual(
    previews.headers.filter((h) => h.jobId === job.id).map((h) => [h.image, h.step]),
    [[1, 1], [1, 2], [1, 3], [2, 1], [2, 2], [2, 3]],
    'each step previews the batch’s last image, the one the page shows',
  );

  for (const index of [1, 2]) {
    const alone = await runJob(server, { ...request, seed: 40 + index });
    const [a, b] = [await pixels(job.images[index]!.url), await pixels(alone.images[0]!.url)];
    let worst = 0;
    a.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - (b[i] as number)))));
    assert.ok(worst <= 1, `image ${index} differs from its one-image job by ${worst} levels`);
  }
  events.close();
  previews.socket.close();
});

test('cancelling a batch mid-way keeps a partial image for each of its images', async () => {
  const events = await watchEvents(server.url);
  const { id } = await apiCall<{ id: string }>(server, 'POST', '/api/jobs', { prompt: 'stop us', steps: 150, width: 64, height: 64, seed: 5, count: 4 });
  await events.waitFor((e) => e.type === 'job.progress' && e.id === id && e.step >= 2);
  await apiCall(server, 'DELETE', `/api/jobs/${id}`);
  const cancelled = (await events.waitFor((e) => e.type === 'job.cancelled' && e.job.id === id)) as { job: JobView };
  assert.deepEqual(cancelled.job.images.map((i) => [i.seed, i.partial]), [[5, true], [6, true]], 'the first batch, both partial; no later batch');
  events.close();
});
