// The live area in a real browser against the real server: one click queues a job per prompt, the queue pauses,
// reorders by drag and cancels; stop-all keeps a partial picture; a reload mid-job picks the running job back up.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { JobList, JobView } from '../../server/src/http/schemas.js';
import { openStudio, serverAndBrowser, skipWithoutChromium, TIMEOUT_MS } from '../helpers/browser.js';
import { apiCall } from '../helpers/easel-server.js';

describe('the queue in a browser', { skip: skipWithoutChromium }, () => {
  const fx = serverAndBrowser();

  const jobs = () => apiCall<JobList>(fx.server, 'GET', '/api/jobs');
  const queuedPrompts = async () => (await jobs()).queue.map((j) => j.request.prompt);

  async function setSettings(page: Page, settings: { steps: number; size: number; prompt: string }) {
    await page.getByTestId('model').selectOption(fx.server.modelId);
    await page.getByTestId('steps').fill(String(settings.steps));
    await page.getByTestId('width').fill(String(settings.size));
    await page.getByTestId('height').fill(String(settings.size));
    await page.getByTestId('prompt').fill(settings.prompt);
  }

  /** Drags a queued job's handle onto another item, with the mouse (pointer events, as a finger would). */
  async function drag(page: Page, from: number, to: number) {
    const handle = page.getByTestId('queue-handle').nth(from);
    const target = page.locator('[data-testid="queue-item"][data-state="queued"]').nth(to);
    const a = await handle.boundingBox();
    const b = await target.boundingBox();
    assert.ok(a && b);
    await page.mouse.move(a.x + a.width / 2, a.y + a.height / 2);
    await page.mouse.down();
    await page.mouse.move(a.x + a.width / 2, b.y + 4, { steps: 8 });
    await page.mouse.up();
  }

  it('queues a job per prompt, shows positions, reorders by drag, cancels one and resumes', async () => {
    const { page, problems, close } = await openStudio(fx.browser, fx.server.url);
    try {
      await page.getByTestId('queue-pause').click();
      await page.getByTestId('queue-paused').waitFor();
      await setSettings(page, { steps: 3, size: 64, prompt: 'a {red,green,blue} kite' });
      assert.equal((await page.getByTestId('generate').innerText()).trim(), 'Make 3 images');
      await page.getByTestId('generate').click();

      const items = page.locator('[data-testid="queue-item"]');
      await page.waitForFunction(() => document.querySelectorAll('[data-testid="queue-item"]').length === 3);
      assert.deepEqual(await page.getByTestId('queue-position').allInnerTexts(), ['#1', '#2', '#3']);
      assert.deepEqual(await queuedPrompts(), ['a red kite', 'a green kite', 'a blue kite']);

      await drag(page, 2, 0);
      await page.waitForFunction(async () => {
        const list = (await (await fetch('/api/jobs')).json()) as JobList;
        return list.queue[0]?.request.prompt === 'a blue kite';
      });
      assert.deepEqual(await queuedPrompts(), ['a blue kite', 'a red kite', 'a green kite']);
      assert.match(await items.nth(0).innerText(), /blue/);

      await items.filter({ hasText: 'red kite' }).getByTestId('cancel').click();
      await page.waitForFunction(() => document.querySelectorAll('[data-testid="queue-item"]').length === 2);
      assert.deepEqual(await queuedPrompts(), ['a blue kite', 'a green kite']);
      assert.deepEqual(await page.getByTestId('queue-position').allInnerTexts(), ['#1', '#2']);

      await page.getByTestId('queue-pause').click(); // resume
      await page.waitForFunction(() => document.querySelectorAll('[data-testid="queue-item"]').length === 0, null, { timeout: TIMEOUT_MS });
      const recent = (await jobs()).recent;
      const state = (prompt: string) => recent.find((j) => j.request.prompt === prompt)?.state;
      assert.deepEqual([state('a blue kite'), state('a green kite'), state('a red kite')], ['done', 'done', 'cancelled']);
      assert.ok(await page.getByTestId('recent-item').count() >= 3);
      assert.deepEqual(problems, []);
    } finally {
      await close();
    }
  });

  it('stops everything at once and shows the stopped picture as partial', async () => {
    const { page, problems, close } = await openStudio(fx.browser, fx.server.url);
    try {
      await setSettings(page, { steps: 150, size: 192, prompt: 'a slow {one,two}' });
      await page.getByTestId('generate').click();
      await page.locator('[data-testid="queue-item"][data-state="running"]').waitFor();
      await page.waitForFunction(() => /step [1-9]/.test(document.querySelector('[data-testid="progress"]')?.textContent ?? ''));
      const stop = page.getByTestId('queue-stop-all');
      await stop.click();
      assert.match(await stop.innerText(), /Stop all\?/, 'the first click only asks');
      await stop.click();
      await page.waitForFunction(() => document.querySelectorAll('[data-testid="queue-item"]').length === 0);
      assert.equal((await jobs()).queue.length, 0);
      await page.getByTestId('partial').waitFor();
      await page.getByTestId('recent-partial').first().waitFor();
      assert.deepEqual(problems, []);
    } finally {
      await close();
    }
  });

  it('picks a running job back up after a reload, sees it go on, and stops it', async () => {
    const { page, problems, close } = await openStudio(fx.browser, fx.server.url);
    // Long enough (4 × 150 steps) to still be running after the reload on any machine; the test stops it itself.
    const doneSteps = () =>
      page.evaluate(() => {
        const text = document.querySelector('[data-testid="progress"]')?.textContent ?? '';
        const step = Number(/step (\d+) \/ (\d+)/.exec(text)?.[1] ?? 0);
        const image = Number(/image (\d+) \//.exec(text)?.[1] ?? 1);
        return (image - 1) * 150 + step;
      });
    try {
      await setSettings(page, { steps: 150, size: 128, prompt: 'survives a reload' });
      await page.getByTestId('count').fill('4');
      await page.getByTestId('generate').click();
      await page.waitForFunction(() => /step ([5-9]|\d\d)/.test(document.querySelector('[data-testid="progress"]')?.textContent ?? ''));
      const before = await doneSteps();

      await page.reload();
      await page.locator('[data-testid="connection"][data-state="open"]').waitFor();
      const running = page.locator('[data-testid="queue-item"][data-state="running"]');
      await running.waitFor();
      assert.match(await running.innerText(), /survives a reload/);
      assert.equal(await page.getByTestId('prompt').inputValue(), 'survives a reload', 'the form kept its prompt');
      await page.getByTestId('preview').waitFor();
      const after = await doneSteps();
      await page.waitForFunction(
        (s) => {
          const text = document.querySelector('[data-testid="progress"]')?.textContent ?? '';
          const step = Number(/step (\d+) \/ (\d+)/.exec(text)?.[1] ?? 0);
          const image = Number(/image (\d+) \//.exec(text)?.[1] ?? 1);
          return (image - 1) * 150 + step > s;
        },
        Math.max(before, after),
      );

      await running.getByTestId('cancel').click();
      await page.waitForFunction(() => document.querySelectorAll('[data-testid="queue-item"]').length === 0);
      const stopped = (await jobs()).recent.find((j: JobView) => j.request.prompt === 'survives a reload');
      assert.equal(stopped?.state, 'cancelled');
      assert.match(await page.getByTestId('progress').innerText(), /Cancelled at step/);
      assert.deepEqual(problems, []);
    } finally {
      await close();
    }
  });
});
