// Nothing lost: the real server, killed with SIGKILL mid-queue, comes back with every job and every finished
// image, runs the interrupted and queued jobs, and shows all of it in the gallery.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/free-port.js';
import type { JobList, JobView, GalleryPage } from '../../server/src/http/schemas.js';
import { tinyModelStore } from '../helpers/tiny-model.js';

const root = join(import.meta.dirname, '..', '..');
const main = join(root, 'server', 'dist', 'main.js');
const skip = existsSync(main) ? false : 'server/dist/main.js is not built: run `npm run build` (npm test does it first)';

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('SIGKILL mid-queue loses no job and no image', { skip }, async () => {
  const { modelsDir } = await tinyModelStore();
  const data = await mkdtemp(join(tmpdir(), 'easel-kill-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const launch = () => spawn(process.execPath, [main, '--port', String(port), '--data', data, '--models', modelsDir, '--no-browser'], { cwd: root, stdio: 'ignore' });
  const get = async <T>(path: string) => (await (await fetch(base + path)).json()) as T;
  const post = async (body: object) =>
    ((await (await fetch(`${base}/api/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json()) as { id: string });

  let server = launch();
  await until('the server', () => get('/api/health'));
  const quick = await post({ prompt: 'finished before the crash', steps: 2, width: 64, height: 64, seed: 1 });
  await until('the first job', async () => ((await get<JobView>(`/api/jobs/${quick.id}`)).state === 'done' ? true : undefined));
  const long = await post({ prompt: 'interrupted', steps: 150, width: 64, height: 64, seed: 2 });
  const queued = [await post({ prompt: 'waiting one', steps: 2, width: 64, height: 64, seed: 3 }), await post({ prompt: 'waiting two', steps: 2, width: 64, height: 64, seed: 4 })];
  await until('the long job to be running', async () => ((await get<JobView>(`/api/jobs/${long.id}`)).progress?.step ?? 0) >= 2 || undefined);
  server.kill('SIGKILL');
  await new Promise((r) => server.once('exit', r));

  server = launch();
  await until('the restarted server', () => get('/api/health'));
  const before = await get<JobView>(`/api/jobs/${quick.id}`);
  assert.equal(before.state, 'done');
  assert.equal((await fetch(base + before.images[0]!.url)).status, 200, 'the finished image is still served');
  for (const job of [long, ...queued]) {
    const done = await until(`job ${job.id}`, async () => {
      const view = await get<JobView>(`/api/jobs/${job.id}`);
      return view.state === 'done' || view.state === 'failed' ? view : undefined;
    });
    assert.equal(done.state, 'done', `${done.request.prompt}: ${JSON.stringify(done.error)}`);
  }
  const list = await get<JobList>('/api/jobs');
  assert.equal(list.queue.length, 0);
  const gallery = await get<GalleryPage>('/api/gallery');
  assert.deepEqual(gallery.images.map((i) => i.prompt).sort(), ['finished before the crash', 'interrupted', 'waiting one', 'waiting two']);
  assert.equal((await fetch(`${base}/api/gallery?limit=0`)).status, 400);
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  await rm(data, { recursive: true, force: true });
});
