// "Play a sound when the queue is done": with the box ticked, the job that empties the queue chimes once; with it
// off, nothing sounds. Web Audio is replaced before the app loads by a stand-in that counts the chimes it is asked for.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openStudio, serverAndBrowser, skipWithoutChromium, TIMEOUT_MS } from '../helpers/browser.js';

declare global {
  interface Window {
    __chimes: number;
  }
}

// A string, not a function: tsx would wrap a function's inner names in a helper the page does not have.
const COUNT_CHIMES = `
  window.__chimes = 0;
  const param = { value: 0, setValueAtTime() {}, exponentialRampToValueAtTime() {} };
  window.AudioContext = class {
    constructor() { this.currentTime = 0; this.destination = {}; window.__chimes += 1; }
    createOscillator() { return { type: 'sine', frequency: { value: 0 }, connect: (next) => next, start() {}, stop() {} }; }
    createGain() { return { gain: param, connect: (next) => next }; }
    close() { return Promise.resolve(); }
  };
`;

describe('the queue-done alert', { skip: skipWithoutChromium }, () => {
  const fx = serverAndBrowser();

  it('chimes once when the last job finishes, and not when the box is off', async () => {
    const { page, problems, close } = await openStudio(fx.browser, fx.server.url);
    try {
      await page.addInitScript({ content: COUNT_CHIMES });
      await page.reload();
      await page.locator('[data-testid="connection"][data-state="open"]').waitFor();
      await page.getByTestId('model').selectOption(fx.server.modelId);
      await page.getByTestId('prompt').fill('a bell');
      await page.getByTestId('steps').fill('2');
      await page.getByTestId('section-output').locator('summary').click();
      const box = page.getByTestId('alert-when-done');
      assert.equal(await box.isChecked(), false, 'off by default');
      await box.check();

      await page.getByTestId('generate').click();
      await page.getByTestId('recent-item').first().waitFor();
      await page.waitForFunction(() => window.__chimes >= 1, null, { timeout: TIMEOUT_MS });

      await box.uncheck();
      await page.getByTestId('generate').click();
      await page.getByTestId('recent-item').nth(1).waitFor();
      await page.waitForTimeout(300);
      assert.equal(await page.evaluate(() => window.__chimes), 1, 'no chime with the box off');
      assert.deepEqual(problems, []);
    } finally {
      await close();
    }
  });
});
