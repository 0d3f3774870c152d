// The README's screenshots: the studio, gallery, viewer and canvas editor, on a desktop and a phone, dark and
// light. Runs only with EASEL_SCREENSHOTS=1 (it rewrites docs/screenshots/*.png), so CI leaves them alone.
// The tiny test model paints noise; small pictures shown large read as soft colour fields.
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import type { Page } from 'playwright-core';
import type { JobList } from '../../server/src/http/schemas.js';
import { imagesLoaded, openStudio, PHONE, screenshot, serverAndBrowser, skipWithoutChromium, TIMEOUT_MS } from '../helpers/browser.js';
import { apiCall, runJob } from '../helpers/easel-server.js';

const skip = skipWithoutChromium || (process.env.EASEL_SCREENSHOTS === '1' ? false : 'set EASEL_SCREENSHOTS=1 to rewrite docs/screenshots');

/** A simple scene (sky, sun, hills) for the editor's initial image. */
const SCENE = `<svg xmlns="http://www.w3.org/2000/svg" width="384" height="384">
  <defs><linearGradient id="s" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#1f2a5a"/><stop offset="1" stop-color="#f08a4b"/></linearGradient></defs>
  <rect width="384" height="384" fill="url(#s)"/><circle cx="250" cy="150" r="56" fill="#ffd27a"/>
  <path d="M0 270 Q96 200 192 260 T384 240 V384 H0Z" fill="#3b5b3a"/><path d="M0 320 Q120 280 230 320 T384 310 V384 H0Z" fill="#1d2b24" opacity="0.7"/></svg>`;

const PROMPTS = [
  'sunset over rolling hills, golden hour, oil painting',
  'a pale moon above misty blue mountains, watercolor',
  'pink dawn over a lavender field, pastel colors',
  'desert dunes at noon, vibrant colors, wide angle',
  'emerald valley after rain, soft light, highly detailed',
  'a red sun sinking into a stormy sea, dramatic shadows',
];

describe('screenshots for the README', { skip }, () => {
  const fx = serverAndBrowser();
  before(async () => {
    for (const [i, prompt] of PROMPTS.entries()) await runJob(fx.server, { prompt, steps: 6, width: 96, height: 96, count: 2, seed: 1000 + i });
  });

  async function prepareStudio(page: Page) {
    await page.getByTestId('model').selectOption(fx.server.modelId);
    await page.getByTestId('prompt').fill('a lighthouse on a cliff at {dusk,dawn}');
    await page.getByTestId('negative-prompt').fill('blurry, low quality');
    await page.getByTestId('modifiers-open').click();
    for (const name of ['oil painting', 'golden hour']) await page.getByTestId('modifier-option').filter({ hasText: new RegExp(`^${name}$`) }).click();
    await page.getByTestId('modifier-done').click();
    await page.getByTestId('steps').fill('150');
    await page.getByTestId('width').fill('128');
    await page.getByTestId('height').fill('128');
    await page.getByTestId('count').fill('2');
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    await imagesLoaded(page, 'img[data-testid="result"]');
    await page.waitForTimeout(400); // token counters settle
  }

  /** Queues the form's jobs and waits for the first one's live preview, so the live area has something to show. */
  async function startJobs(page: Page) {
    await page.getByTestId('generate').click();
    await page.getByTestId('preview').waitFor();
    await page.waitForFunction(() => /step ([3-9]|\d\d)/.test(document.querySelector('[data-testid="progress"]')?.textContent ?? ''));
  }

  async function stopJobs() {
    await apiCall(fx.server, 'POST', '/api/queue/cancel-all');
    for (const end = Date.now() + TIMEOUT_MS; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
      if ((await apiCall<JobList>(fx.server, 'GET', '/api/jobs')).queue.length === 0) return;
    }
  }

  for (const scheme of ['dark', 'light'] as const) {
    it(`desktop, ${scheme}`, async () => {
      const { page, close } = await openStudio(fx.browser, fx.server.url, { colorScheme: scheme });
      try {
        await prepareStudio(page);
        await startJobs(page);
        await screenshot(page, `studio-desktop-${scheme}`);
        await stopJobs();
        // Each screen once in each theme is plenty: the gallery dark, the viewer light.
        await page.getByTestId('nav-gallery').click();
        await imagesLoaded(page, '[data-testid="gallery-item"] img');
        if (scheme === 'dark') await screenshot(page, 'gallery-desktop-dark');
        await page.getByTestId('gallery-item').nth(1).click();
        await imagesLoaded(page, '[data-testid="viewer-image"]');
        if (scheme === 'light') await screenshot(page, 'viewer-desktop-light');
      } finally {
        await close();
      }
    });

    it(`phone, ${scheme}`, async () => {
      const { page, close } = await openStudio(fx.browser, fx.server.url, { ...PHONE, colorScheme: scheme });
      try {
        await prepareStudio(page);
        await screenshot(page, `studio-phone-${scheme}`);
        if (scheme === 'dark') {
          await page.getByTestId('result').scrollIntoViewIfNeeded();
          await screenshot(page, 'result-phone-dark');
        } else {
          await page.getByTestId('nav-gallery').tap();
          await imagesLoaded(page, '[data-testid="gallery-item"] img');
          await screenshot(page, 'gallery-phone-light');
        }
      } finally {
        await close();
      }
    });
  }

  it('canvas editor with a painted mask', async () => {
    const { page, close } = await openStudio(fx.browser, fx.server.url, { colorScheme: 'dark' });
    try {
      await page.getByTestId('section-init').locator('summary').click();
      await page.getByTestId('init-file').setInputFiles({ name: 'scene.png', mimeType: 'image/png', buffer: await sharp(Buffer.from(SCENE)).png().toBuffer() });
      await page.getByTestId('init-inpaint').click();
      const surface = page.getByTestId('paint-surface');
      await page.waitForFunction(() => !(document.querySelector('[data-testid="editor-save"]') as HTMLButtonElement).disabled);
      const box = await surface.boundingBox();
      if (!box) throw new Error('no surface');
      await page.mouse.move(box.x + box.width * 0.55, box.y + box.height * 0.3);
      await page.mouse.down();
      for (const [x, y] of [[0.75, 0.32], [0.78, 0.45], [0.6, 0.5], [0.55, 0.38], [0.7, 0.4]] as const) {
        await page.mouse.move(box.x + box.width * x, box.y + box.height * y, { steps: 6 });
      }
      await page.mouse.up();
      await screenshot(page, 'editor-desktop-dark');
    } finally {
      await close();
    }
  });
});
