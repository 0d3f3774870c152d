// The owner's server settings with the real worker: an enforced NSFW check runs on a job that asked for none (with
// the catalog ViT's contract as a tiny model in the store), and its saved image, its record and the A1111 answer
// say so; a check forced while a job runs reaches that job's image; jobs keep finishing as low-memory mode is
// switched both ways (the reload rule itself is unit-tested in warm-models.test.ts); turning the model cache off
// makes the worker delete it.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { JobView, ServerSettingsView } from '../../server/src/http/schemas.js';
import { readPngText } from '../../server/src/images/png-text.js';
import { apiCall, runJob, startTestServer, type TestServer } from '../helpers/easel-server.js';
import { installTinyNsfwVit } from '../helpers/nsfw-model.js';
import { tinyModelStore } from '../helpers/tiny-model.js';

let server: TestServer;
before(async () => {
  await installTinyNsfwVit((await tinyModelStore()).modelsDir);
  server = await startTestServer();
});
after(() => server.close());

const job = { prompt: 'a lighthouse at dusk', steps: 2, width: 64, height: 64, seed: 5 };
const NSFW_CHECK = /, NSFW filter: nsfw-marqo-384, NSFW result: (blurred|passed), Version: /;

async function settings(change: object): Promise<ServerSettingsView> {
  const res = await fetch(`${server.url}/api/settings/server`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify(change) });
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()) as ServerSettingsView;
}

async function done(request: Parameters<typeof runJob>[1]): Promise<JobView> {
  const view = await runJob(server, request);
  assert.equal(view.state, 'done', JSON.stringify(view.error));
  return view;
}

async function pngText(url: string): Promise<Record<string, string>> {
  return readPngText(new Uint8Array(await (await fetch(server.url + url)).arrayBuffer()));
}

test('enforced by the owner: a job that asked for no NSFW check is checked with the ViT, and its image says so', async () => {
  const before = await pngText((await done({ ...job, nsfwFilter: false })).images[0]!.url);
  assert.doesNotMatch(before.parameters ?? '', /NSFW/, 'not enforced yet: no check');

  const view = await settings({ filters: { forceNsfwFilter: true } });
  assert.deepEqual(view.filters, { forceNsfwFilter: true, nsfwModel: 'auto' });
  const checked = await done({ ...job, nsfwFilter: false });
  assert.deepEqual([checked.request.nsfwFilter, checked.request.nsfwEnforced, checked.request.nsfwClassifier], [true, true, 'nsfw-marqo-384']);
  const text = await pngText(checked.images[0]!.url);
  assert.match(text.parameters ?? '', NSFW_CHECK);
  const recorded = JSON.parse(text.easel ?? '{}') as Record<string, unknown>;
  assert.deepEqual([recorded.nsfwFilter, recorded.nsfwEnforced, recorded.nsfwClassifier], [true, true, 'nsfw-marqo-384']);
});

test('A1111 txt2img under the enforced check: the info infotext is the file’s own, NSFW entries included', async () => {
  const res = await fetch(`${server.url}/sdapi/v1/txt2img`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'a red fox', steps: 2, width: 64, height: 64, seed: 7 }),
  });
  assert.equal(res.status, 200);
  const body = (await res.json()) as { images: string[]; info: string };
  const info = JSON.parse(body.info) as { infotexts: string[] };
  const own = readPngText(new Uint8Array(Buffer.from(body.images[0]!, 'base64'))).parameters;
  assert.match(info.infotexts[0]!, NSFW_CHECK);
  assert.equal(info.infotexts[0], own);
});

test('low-memory mode switched between jobs: the warm model is loaded again in the new mode, and jobs still finish', async () => {
  for (const lowMemory of ['on', 'off', 'auto'] as const) {
    assert.equal((await settings({ performance: { lowMemory } })).performance.lowMemory, lowMemory);
    await done({ ...job, count: 2 });
  }
  assert.equal((await apiCall<ServerSettingsView>(server, 'GET', '/api/settings/server')).performance.lowMemory, 'auto');
});

test('a check forced while a job runs reaches that job: its image is checked', async () => {
  await settings({ filters: { forceNsfwFilter: false } });
  const { id } = await apiCall<{ id: string }>(server, 'POST', '/api/jobs', { ...job, steps: 150, nsfwFilter: false });
  for (let i = 0; i < 2000; i++) {
    const view = await apiCall<JobView>(server, 'GET', `/api/jobs/${id}`);
    if (view.state === 'running' && (view.progress?.step ?? 0) >= 1) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  await settings({ filters: { forceNsfwFilter: true } });
  let view = await apiCall<JobView>(server, 'GET', `/api/jobs/${id}`);
  for (let i = 0; i < 2000 && (view.state === 'running' || view.state === 'queued'); i++) {
    await new Promise((r) => setTimeout(r, 10));
    view = await apiCall<JobView>(server, 'GET', `/api/jobs/${id}`);
  }
  assert.equal(view.state, 'done', JSON.stringify(view.error));
  assert.notEqual(view.request.nsfwFilter, true, 'it was queued and started without the check');
  assert.match((await pngText(view.images[0]!.url)).parameters ?? '', NSFW_CHECK, 'yet its image was checked');
});

test('turning the optimized-model cache off: the worker deletes it after the job in progress, and jobs go on without it', async () => {
  const cache = join(server.dataDir, 'cache', 'onnxruntime');
  await settings({ performance: { optimizedModelCache: true } });
  await done(job);
  assert.ok(existsSync(cache), 'loading the model wrote its optimized copy');
  await settings({ performance: { optimizedModelCache: false } });
  for (let i = 0; i < 500 && existsSync(cache); i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(existsSync(cache), false, 'the copies are gone');
  await done(job);
  assert.equal(existsSync(cache), false, 'and no new ones are written');
  await settings({ performance: { optimizedModelCache: true } });
});
