// The gallery in a real browser: images made before a server restart are all there, newest first, a page at a
// time as you scroll; search narrows them; the viewer steps through with the arrow keys and closes with Esc; and
// every per-image action does what it says, delete included.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import type { GalleryPage, JobList } from '../../server/src/http/schemas.js';
import { imagesLoaded, openStudio, serverAndBrowser, skipWithoutChromium } from '../helpers/browser.js';
import { apiCall, runJob, startTestServer } from '../helpers/easel-server.js';

describe('the gallery in a browser', { skip: skipWithoutChromium }, () => {
  // The data folder outlives one server: the test restarts on it.
  const dataDir = skipWithoutChromium ? '' : mkdtempSync(join(tmpdir(), 'easel-gallery-'));
  const fx = serverAndBrowser({ dataDir });
  after(() => rmSync(dataDir, { recursive: true, force: true }));
  const get = <T>(path: string) => apiCall<T>(fx.server, 'GET', path);

  it('shows every image after a server restart, pages in more on scroll, and searches', async () => {
    // One image made through the page, plenty more through the API so the gallery needs a second page.
    const first = await openStudio(fx.browser, fx.server.url);
    await first.page.getByTestId('model').selectOption(fx.server.modelId);
    await first.page.getByTestId('steps').fill('3');
    await first.page.getByTestId('width').fill('64');
    await first.page.getByTestId('height').fill('64');
    await first.page.getByTestId('prompt').fill('a red lighthouse');
    await first.page.getByTestId('generate').click();
    await first.page.getByTestId('result').waitFor();
    assert.deepEqual(first.problems, []);
    await first.close();
    for (const [prompt, count] of [['filler one', 16], ['filler two', 16], ['filler three', 8]] as const) {
      await runJob(fx.server, { prompt, steps: 1, width: 64, height: 64, count });
    }
    await runJob(fx.server, { prompt: 'a blue whale', steps: 2, width: 64, height: 64, seed: 7 });

    await fx.server.close();
    fx.server = await startTestServer({ dataDir });

    const { page, problems, close } = await openStudio(fx.browser, fx.server.url, { hash: '#/gallery' });
    try {
      const tiles = page.getByTestId('gallery-item');
      await tiles.first().waitFor();
      assert.equal(await tiles.count(), 40, 'the first page');
      assert.match((await tiles.first().getAttribute('title')) ?? '', /blue whale/, 'newest first');
      await tiles.last().scrollIntoViewIfNeeded();
      await page.waitForFunction(() => document.querySelectorAll('[data-testid="gallery-item"]').length === 42);
      assert.ok(await page.getByText('Nothing here yet').count() === 0);

      await page.getByTestId('gallery-search').fill('lighthouse');
      await page.waitForFunction(() => document.querySelectorAll('[data-testid="gallery-item"]').length === 1);
      assert.match((await tiles.first().getAttribute('title')) ?? '', /red lighthouse/);
      await page.getByTestId('gallery-search').fill('no such prompt');
      await page.getByTestId('gallery-empty').waitFor();
      await page.getByTestId('gallery-search').fill('');
      await page.getByTestId('gallery-model').selectOption(fx.server.modelId);
      await page.waitForFunction(() => document.querySelectorAll('[data-testid="gallery-item"]').length === 40);
      await imagesLoaded(page, '[data-testid="gallery-item"] img');
      assert.deepEqual(problems, []);
    } finally {
      await close();
    }
  });

  it('views full size with arrow keys and Esc, and each image action works', async () => {
    const { page, problems, close } = await openStudio(fx.browser, fx.server.url, { hash: '#/gallery', permissions: ['clipboard-read', 'clipboard-write'] });
    const viewer = page.getByTestId('viewer');
    const counter = page.getByTestId('viewer-counter');
    const whale = (await get<GalleryPage>('/api/gallery?q=whale')).images[0];
    assert.ok(whale);
    const openWhale = async () => {
      await page.locator(`[data-testid="gallery-item"][data-image-id="${whale.id}"]`).click();
      await viewer.waitFor();
    };
    try {
      await page.getByTestId('gallery-item').first().waitFor();
      await openWhale();
      assert.match(await counter.innerText(), /^1 \/ \d+$/);
      assert.match(await page.getByTestId('details-prompt').innerText(), /blue whale/);
      await page.keyboard.press('ArrowRight');
      await page.waitForFunction(() => document.querySelector('[data-testid="viewer-counter"]')?.textContent?.startsWith('2 /'));
      assert.match(await page.getByTestId('details-prompt').innerText(), /filler three/);
      await page.keyboard.press('ArrowLeft');
      await page.waitForFunction(() => document.querySelector('[data-testid="viewer-counter"]')?.textContent?.startsWith('1 /'));
      await imagesLoaded(page, '[data-testid="viewer-image"]');
      await page.keyboard.press('Escape');
      await viewer.waitFor({ state: 'detached' });

      // Download links to the file; copy seed puts the seed on the clipboard.
      await openWhale();
      const download = page.getByTestId('action-download');
      assert.match((await download.getAttribute('href')) ?? '', /^\/api\/images\//);
      assert.match((await download.getAttribute('download')) ?? '', /^easel-7-.*\.png$/);
      await page.getByTestId('action-copy-seed').click();
      await page.getByTestId('toast').filter({ hasText: 'Seed 7 copied' }).waitFor();
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), '7');

      // Make similar: the same settings queued with a new seed.
      await page.getByTestId('action-similar').click();
      await page.getByTestId('toast').filter({ hasText: 'new seeds' }).waitFor();
      const list = await get<JobList>('/api/jobs');
      const similar = [...list.recent, ...list.queue].find((j) => j.request.prompt === 'a blue whale' && j.request.seed !== 7);
      assert.ok(similar, 'a job with the same prompt and another seed');
      assert.equal(similar.request.steps, 2);

      // Use these settings: back to the studio with the form filled and the seed fixed.
      await page.getByTestId('action-use-settings').click();
      await page.getByTestId('generate-form').waitFor();
      assert.equal(await page.getByTestId('prompt').inputValue(), 'a blue whale');
      assert.equal(await page.getByTestId('seed').inputValue(), '7');
      assert.equal(await page.getByTestId('seed-random').isChecked(), false);
      assert.equal(await page.getByTestId('steps').inputValue(), '2');

      // Use as initial image: the picture becomes the init, and the size follows it.
      await page.getByTestId('nav-gallery').click();
      await openWhale();
      await page.getByTestId('action-use-init').click();
      await page.getByTestId('init-preview').waitFor();
      assert.equal(await page.getByTestId('width').inputValue(), '64');

      await deleteWhale(page);
      assert.deepEqual(problems, []);
    } finally {
      await close();
    }

    async function deleteWhale(page: Page) {
      await page.getByTestId('nav-gallery').click();
      await openWhale();
      const before = await counter.innerText();
      const remove = page.getByTestId('action-delete');
      await remove.click();
      assert.match(await remove.innerText(), /Really delete\?/, 'the first click only asks');
      await remove.click();
      await page.getByTestId('toast').filter({ hasText: 'Image deleted' }).waitFor();
      await page.waitForFunction((b) => document.querySelector('[data-testid="viewer-counter"]')?.textContent !== b, before);
      await page.keyboard.press('Escape');
      assert.equal(await page.locator(`[data-image-id="${whale?.id}"]`).count(), 0, 'gone from the page');
      assert.equal((await fetch(`${fx.server.url}/api/images/${whale?.id}`)).status, 404, 'and from the server');
      const left = await get<GalleryPage>('/api/gallery?q=whale');
      assert.ok(left.images.every((i) => i.seed !== 7));
    }
  });
});
