// The generate form in a real browser: the live token counter, prompt expansion on the Make button, style
// modifiers, settings that survive a reload, reset and JSON copy/paste, settings read from a dropped PNG, and an
// initial image with an inpainting mask painted in the canvas editor.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import type { Page } from 'playwright-core';
import type { JobList, JobView, TokenizeResult } from '../../server/src/http/schemas.js';
import { addPngText } from '../../server/src/images/png-text.js';
import { openStudio, serverAndBrowser, skipWithoutChromium, TIMEOUT_MS } from '../helpers/browser.js';
import { apiCall, runJob } from '../helpers/easel-server.js';

describe('the generate form in a browser', { skip: skipWithoutChromium }, () => {
  const fx = serverAndBrowser();

  const get = <T>(path: string) => apiCall<T>(fx.server, 'GET', path);
  const post = <T>(path: string, body?: unknown) => apiCall<T>(fx.server, 'POST', path, body);

  async function pngWith(text: Record<string, string>, size = 128): Promise<Buffer> {
    const png = await sharp({ create: { width: size, height: size, channels: 3, background: '#3a6ea5' } }).png().toBuffer();
    return addPngText(png, text);
  }

  /** Drops a file on an element, as a file dragged from the desktop would be. */
  async function dropFile(page: Page, testid: string, name: string, bytes: Buffer) {
    await page.getByTestId(testid).evaluate(
      (target, file) => {
        const data = new DataTransfer();
        data.items.add(new File([Uint8Array.from(atob(file.base64), (c) => c.charCodeAt(0))], file.name, { type: 'image/png' }));
        for (const type of ['dragover', 'drop']) target.dispatchEvent(new DragEvent(type, { dataTransfer: data, bubbles: true, cancelable: true }));
      },
      { name, base64: bytes.toString('base64') },
    );
  }

  it('counts tokens live and shows how many images one click makes', async () => {
    const { page, problems, close } = await openStudio(fx.browser, fx.server.url);
    try {
      const tokenize = (text: string) => post<TokenizeResult>('/api/tokenize', { text, model: fx.server.modelId });
      const shows = (text: string) => page.waitForFunction((t) => document.querySelector('[data-testid="prompt-tokens"]')?.textContent?.trim() === t, text);
      await page.getByTestId('model').selectOption(fx.server.modelId);
      const short = 'a watercolor fox';
      await page.getByTestId('prompt').fill(short);
      const few = await tokenize(short);
      assert.equal(few.limit, 75);
      await shows(`${few.count}/75`);
      const long = 'a watercolor fox in the snow, '.repeat(12);
      await page.getByTestId('prompt').fill(long);
      const many = await tokenize(long);
      assert.ok(many.limit > 75, 'the long prompt takes more than one chunk');
      await shows(`${many.count}/${many.limit}`);

      await page.getByTestId('prompt').fill('a {red,blue} car | at night\nsecond line');
      await page.getByTestId('count').fill('2');
      assert.equal((await page.getByTestId('generate').innerText()).trim(), 'Make 10 images');
      assert.deepEqual(problems, []);
    } finally {
      await close();
    }
  });

  it('appends weighted style modifiers, and keeps settings across a reload, reset and JSON paste', async () => {
    const { page, problems, close } = await openStudio(fx.browser, fx.server.url, { permissions: ['clipboard-read', 'clipboard-write'] });
    await post('/api/queue/pause');
    try {
      await page.getByTestId('model').selectOption(fx.server.modelId);
      await page.getByTestId('prompt').fill('a fox');
      await page.getByTestId('modifiers-open').click();
      await page.getByTestId('modifier-option').filter({ hasText: /^watercolor$/ }).click();
      await page.getByTestId('modifier-option').filter({ hasText: /^golden hour$/ }).click();
      await page.getByTestId('custom-modifier').fill('my own look');
      await page.getByTestId('custom-modifier').press('Enter');
      await page.getByTestId('modifier-option').filter({ hasText: /^my own look$/ }).click();
      await page.getByTestId('modifier-done').click();
      const chips = page.getByTestId('modifier-chip');
      assert.deepEqual(await chips.allInnerTexts(), ['watercolor', 'golden hour', 'my own look']);
      await chips.nth(1).click();
      await page.getByRole('button', { name: 'More weight' }).click();
      await page.getByRole('button', { name: 'More weight' }).click();
      await page.getByRole('button', { name: 'Move earlier' }).click();
      await chips.nth(1).click(); // watercolor, now second
      await page.getByTestId('modifier-toggle').click();
      await page.getByTestId('width').fill('64');
      await page.getByTestId('height').fill('64');
      await page.getByTestId('steps').fill('33');
      await page.getByTestId('section-output').locator('summary').click();
      await page.getByTestId('format-webp').click();
      await page.getByTestId('generate').click();
      await page.getByTestId('queue-item').waitFor();
      const queued = (await get<JobList>('/api/jobs')).queue[0];
      assert.equal(queued?.request.prompt, 'a fox, (golden hour:1.2), my own look');
      assert.equal(queued?.request.outputFormat, 'webp');

      await page.reload();
      await page.locator('[data-testid="connection"][data-state="open"]').waitFor();
      assert.equal(await page.getByTestId('steps').inputValue(), '33');
      assert.equal(await page.getByTestId('prompt').inputValue(), 'a fox');
      assert.equal(await page.getByTestId('format-webp').getAttribute('aria-checked'), 'true');
      assert.deepEqual(await page.getByTestId('modifier-chip').allInnerTexts(), ['golden hour×1.2', 'watercolor', 'my own look']);

      await page.getByTestId('settings-copy').click();
      const copied = JSON.parse(await page.evaluate(() => navigator.clipboard.readText())) as Record<string, unknown>;
      assert.equal(copied.steps, 33);
      await page.getByTestId('settings-reset').click();
      assert.equal(await page.getByTestId('steps').inputValue(), '20');
      assert.equal(await page.getByTestId('width').inputValue(), '512');
      assert.equal(await page.getByTestId('prompt').inputValue(), 'a fox', 'reset keeps the prompt');

      await page.getByTestId('settings-paste').click();
      await page.getByTestId('settings-json').fill(JSON.stringify({ ...copied, steps: 44, cfgScale: 'loud' }));
      await page.getByTestId('settings-apply').click();
      assert.equal(await page.getByTestId('steps').inputValue(), '44');
      assert.equal(await page.getByTestId('width').inputValue(), '64');
      assert.equal(await page.getByTestId('cfg-scale').inputValue(), '7.5', 'a malformed value is ignored');
      assert.deepEqual(problems, []);
    } finally {
      await post('/api/queue/cancel-all');
      await post('/api/queue/resume');
      await close();
    }
  });

  it('fills the form from a dropped PNG made by AUTOMATIC1111, ComfyUI or Easel', async () => {
    const { page, problems, close } = await openStudio(fx.browser, fx.server.url);
    try {
      await page.getByTestId('model').selectOption(fx.server.modelId);
      const a1111 = await pngWith({ parameters: 'a castle on a hill\nNegative prompt: fog\nSteps: 31, Sampler: Euler a, CFG scale: 6.5, Seed: 1234, Size: 128x192, Model: tiny-test.safetensors' });
      await dropFile(page, 'generate-form', 'castle.png', a1111);
      await page.getByTestId('toast').filter({ hasText: 'AUTOMATIC1111' }).waitFor();
      assert.equal(await page.getByTestId('prompt').inputValue(), 'a castle on a hill');
      assert.equal(await page.getByTestId('negative-prompt').inputValue(), 'fog');
      assert.equal(await page.getByTestId('steps').inputValue(), '31');
      assert.equal(await page.getByTestId('cfg-scale').inputValue(), '6.5');
      assert.equal(await page.getByTestId('seed').inputValue(), '1234');
      assert.equal(await page.getByTestId('seed-random').isChecked(), false);
      assert.equal(await page.getByTestId('width').inputValue(), '128');
      assert.equal(await page.getByTestId('height').inputValue(), '192');
      assert.equal(await page.getByTestId('sampler').inputValue(), 'euler_a');

      const graph = {
        '3': { class_type: 'KSampler', inputs: { seed: 99, steps: 12, cfg: 5, sampler_name: 'ddim', scheduler: 'normal', denoise: 1, positive: ['6', 0], negative: ['7', 0], latent_image: ['5', 0] } },
        '5': { class_type: 'EmptyLatentImage', inputs: { width: 256, height: 128, batch_size: 1 } },
        '6': { class_type: 'CLIPTextEncode', inputs: { text: 'a comfy cat' } },
        '7': { class_type: 'CLIPTextEncode', inputs: { text: 'dogs' } },
      };
      await page.getByTestId('settings-image-file').setInputFiles({ name: 'comfy.png', mimeType: 'image/png', buffer: await pngWith({ prompt: JSON.stringify(graph) }) });
      await page.getByTestId('toast').filter({ hasText: 'ComfyUI' }).waitFor();
      assert.equal(await page.getByTestId('prompt').inputValue(), 'a comfy cat');
      assert.equal(await page.getByTestId('sampler').inputValue(), 'ddim');
      assert.equal(await page.getByTestId('width').inputValue(), '256');

      const job = await runJob(fx.server, { prompt: 'made right here', steps: 2, width: 64, height: 64, seed: 5, sampler: 'lms' });
      const ours = Buffer.from(await (await fetch(fx.server.url + (job.images[0]?.url ?? ''))).arrayBuffer());
      await dropFile(page, 'generate-form', 'ours.png', ours);
      await page.getByTestId('toast').filter({ hasText: '(Easel)' }).waitFor();
      assert.equal(await page.getByTestId('prompt').inputValue(), 'made right here');
      assert.equal(await page.getByTestId('seed').inputValue(), '5');
      assert.equal(await page.getByTestId('sampler').inputValue(), 'lms');

      await dropFile(page, 'generate-form', 'plain.png', await pngWith({}));
      await page.getByTestId('toast').filter({ hasText: 'No generation settings in plain.png' }).waitFor();

      // Dropped on the initial-image box, a picture is taken as the initial image, not read for settings.
      await page.getByTestId('section-init').locator('summary').click();
      await dropFile(page, 'init-zone', 'start.png', a1111);
      await page.getByTestId('init-preview').waitFor();
      assert.equal(await page.getByTestId('prompt').inputValue(), 'made right here');
      assert.deepEqual(problems, []);
    } finally {
      await close();
    }
  });

  it('inpaints with a mask painted in the canvas editor, with undo and redo', async () => {
    const { page, problems, close } = await openStudio(fx.browser, fx.server.url);
    try {
      await page.getByTestId('model').selectOption(fx.server.modelId);
      await page.getByTestId('prompt').fill('a red door');
      await page.getByTestId('steps').fill('4');
      // Ctrl+V of a picture anywhere on the page makes it the initial image.
      const picture = (await pngWith({}, 96)).toString('base64');
      await page.evaluate((base64) => {
        const data = new DataTransfer();
        data.items.add(new File([Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))], 'pasted.png', { type: 'image/png' }));
        document.body.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
      }, picture);
      await page.getByTestId('init-preview').waitFor();
      assert.equal(await page.getByTestId('width').inputValue(), '96', 'the size follows the picture');

      await page.getByTestId('init-inpaint').click();
      const surface = page.getByTestId('paint-surface');
      await surface.waitFor();
      await page.waitForFunction(() => !(document.querySelector('[data-testid="editor-save"]') as HTMLButtonElement).disabled);
      const box = await surface.boundingBox();
      assert.ok(box);
      const stroke = async (fromX: number, toX: number, y: number) => {
        await page.mouse.move(box.x + box.width * fromX, box.y + box.height * y);
        await page.mouse.down();
        await page.mouse.move(box.x + box.width * toX, box.y + box.height * y, { steps: 6 });
        await page.mouse.up();
      };
      await stroke(0.2, 0.8, 0.3);
      await stroke(0.2, 0.8, 0.7);
      await page.getByTestId('undo').click();
      await page.getByTestId('undo').click();
      assert.equal(await page.getByTestId('undo').isDisabled(), true);
      await page.getByTestId('redo').click();
      assert.equal(await page.getByTestId('redo').isDisabled(), false, 'one stroke still undone');
      await page.getByTestId('editor-save').click();
      await page.getByTestId('mask-preview').waitFor();

      await page.getByTestId('generate').click();
      await page.locator('img[data-testid="result"][alt="a red door"]').waitFor({ timeout: TIMEOUT_MS });
      const job = (await get<JobList>('/api/jobs')).recent.find((j: JobView) => j.request.prompt === 'a red door');
      assert.equal(job?.state, 'done');
      assert.ok(job?.request.initImage && job.request.mask, 'the job carried an initial image and a mask');
      // The mask is white where painted (the top stroke) and not elsewhere (the undone bottom one).
      const mask = await sharp(Buffer.from(await (await fetch(`${fx.server.url}/api/images/${job.request.mask}`)).arrayBuffer()))
        .flatten({ background: '#000' })
        .greyscale()
        .raw()
        .toBuffer({ resolveWithObject: true });
      const at = (x: number, y: number) => mask.data[Math.round(y * mask.info.height) * mask.info.width + Math.round(x * mask.info.width)];
      assert.ok((at(0.5, 0.3) ?? 0) > 200, 'painted: repaint');
      assert.ok((at(0.5, 0.7) ?? 255) < 50, 'undone: keep');
      assert.deepEqual(problems, []);
    } finally {
      await close();
    }
  });
});
