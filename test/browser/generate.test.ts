// A real browser against the real server: type a prompt, press Make, watch per-step previews replace each
// other, and see the finished image. Runs on Debian's chromium through playwright-core; skips without it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { serverAndBrowser, skipWithoutChromium as skip, TIMEOUT_MS } from '../helpers/browser.js';

const OUT_DIR = fileURLToPath(new URL('./.out/', import.meta.url));

declare global {
  interface Window {
    /** Every src the preview image has had, in order, recorded by the init script below. */
    __previewSrcs: string[];
  }
}

// Runs in the page before the app: previews can come and go faster than a poll, so record each src as it lands.
// A string, not a function: tsx would wrap a function's inner names in a helper that the page does not have.
const RECORD_PREVIEW_SOURCES = `
  window.__previewSrcs = [];
  const record = (img) => {
    const src = img.getAttribute('src');
    if (src && window.__previewSrcs.at(-1) !== src) window.__previewSrcs.push(src);
  };
  new MutationObserver((mutations) => {
    for (const mutation of mutations) {
      const nodes = mutation.type === 'attributes' ? [mutation.target] : [...mutation.addedNodes];
      for (const node of nodes) {
        if (!(node instanceof Element)) continue;
        if (node.matches('img[data-testid="preview"]')) record(node);
        for (const img of node.querySelectorAll('img[data-testid="preview"]')) record(img);
      }
    }
  }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['src'] });
`;

describe('the studio page in a browser', { skip }, () => {
  const fx = serverAndBrowser();

  async function openStudio(): Promise<{ page: Page; problems: string[] }> {
    const page = await fx.browser.newPage({ viewport: { width: 1280, height: 860 } });
    page.setDefaultTimeout(TIMEOUT_MS);
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
    });
    await page.addInitScript({ content: RECORD_PREVIEW_SOURCES });
    await page.goto(fx.server.url);
    // The model picker fills from GET /api/models; choosing the test model also waits for that.
    await page.getByTestId('model').selectOption(fx.server.modelId);
    await page.locator('[data-testid="connection"][data-state="open"]').waitFor();
    return { page, problems };
  }

  it('streams step previews while generating, then shows the finished image and its seed', async () => {
    const { page, problems } = await openStudio();
    try {
      await page.getByTestId('prompt').fill('a watercolor fox in the snow');
      await page.getByTestId('steps').fill('8');
      await page.getByTestId('generate').click();

      // The first preview, or the job's failure, which the stage shows with the server's message.
      await page.waitForFunction(
        () => window.__previewSrcs.length >= 1 || document.querySelector('[data-testid="job-error"]') !== null,
        null,
        { timeout: TIMEOUT_MS },
      );
      const failure = page.getByTestId('job-error');
      if ((await failure.count()) > 0) assert.fail(`the job failed: ${await failure.innerText()}`);
      const first = await page.evaluate(() => window.__previewSrcs[0]);
      assert.match(first, /^blob:/, 'the preview is drawn from an object URL of the websocket frame');

      // Per-step previews: the src changes at least twice after the first one.
      await page.waitForFunction(() => new Set(window.__previewSrcs).size >= 3, null, { timeout: TIMEOUT_MS });

      const result = page.getByTestId('result').first();
      await result.waitFor({ state: 'visible' });
      await page.waitForFunction(
        () => {
          const img = document.querySelector<HTMLImageElement>('img[data-testid="result"]');
          return img !== null && img.complete && img.naturalWidth > 0;
        },
        null,
        { timeout: TIMEOUT_MS },
      );
      assert.match((await result.getAttribute('src')) ?? '', /^\/api\/images\//);
      assert.equal(await page.getByTestId('preview').count(), 0, 'the preview gives way to the result');

      const progress = (await page.getByTestId('progress').innerText()).trim();
      assert.ok(/\b8 \/ 8\b/.test(progress) || /done/i.test(progress), `progress text ends finished: "${progress}"`);
      assert.match(await page.getByTestId('result-seed').innerText(), /Seed \d+/);
      await page.getByTestId('recent-item').first().waitFor();
      assert.equal(await page.getByTestId('queue-item').count(), 0, 'the queue is empty again');
      assert.deepEqual(problems, []);

      mkdirSync(OUT_DIR, { recursive: true });
      await page.screenshot({ path: `${OUT_DIR}generate.png` });

      // The built-in upscaler is offered under the result and queues a filter job whose image is twice the size.
      await page.getByTestId('action-upscale').first().click();
      const api = async <T>(path: string) => (await (await fetch(fx.server.url + path)).json()) as T;
      type Jobs = { queue: { request: { kind?: string } }[]; recent: { state: string; request: { kind?: string }; images: { width: number }[] }[] };
      const deadline = Date.now() + TIMEOUT_MS;
      let upscaled: Jobs['recent'][number] | undefined;
      while (!upscaled && Date.now() < deadline) {
        upscaled = (await api<Jobs>('/api/jobs')).recent.find((j) => j.request.kind === 'filter');
        if (!upscaled) await new Promise((r) => setTimeout(r, 250));
      }
      assert.equal(upscaled?.state, 'done');
      assert.equal(upscaled?.images[0]?.width, 1024, 'a 512² result upscaled ×2');
    } finally {
      await page.close();
    }
  });

  it('shows the server’s 400 next to the form, naming the field', async () => {
    const { page, problems } = await openStudio();
    try {
      await page.getByTestId('prompt').fill('a lighthouse at dusk');
      await page.getByTestId('steps').fill('500');
      await page.getByTestId('prompt').press('Control+Enter');

      const error = page.getByTestId('error');
      await error.waitFor();
      assert.match(await error.innerText(), /Steps/);
      assert.match(await error.innerText(), /150/);
      assert.equal(await page.getByTestId('steps').getAttribute('aria-invalid'), 'true');
      assert.equal(await page.getByTestId('queue-item').count(), 0, 'nothing was queued');
      // The browser logs the refused request itself; nothing else may go wrong.
      assert.deepEqual(
        problems.filter((p) => !/status of 400/.test(p)),
        [],
      );
    } finally {
      await page.close();
    }
  });
});
