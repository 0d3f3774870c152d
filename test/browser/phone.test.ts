// The LAN use case: the main flow on a phone-sized touch screen. One column, nothing wider than the screen,
// finger-sized buttons, a tap on Make brings the live picture into view, and the gallery and viewer work by touch.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { imagesLoaded, openStudio, PHONE, serverAndBrowser, skipWithoutChromium, TIMEOUT_MS } from '../helpers/browser.js';

describe('the studio on a phone', { skip: skipWithoutChromium }, () => {
  const fx = serverAndBrowser();

  it('makes an image, views it and finds it in the gallery, all by touch', async () => {
    const { page, problems, close } = await openStudio(fx.browser, fx.server.url, { ...PHONE, colorScheme: 'light' });
    try {
      const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.equal(await overflow(), 0, 'nothing is wider than the screen');
      const make = page.getByTestId('generate');
      assert.ok(((await make.boundingBox())?.height ?? 0) >= 44, 'Make is finger-sized');
      for (const id of ['steps', 'model', 'queue-pause', 'nav-gallery']) {
        assert.ok(((await page.getByTestId(id).boundingBox())?.height ?? 0) >= 40, `${id} is finger-sized`);
      }

      await page.getByTestId('model').selectOption(fx.server.modelId);
      await page.getByTestId('prompt').fill('a kite over the sea');
      await page.getByTestId('steps').fill('4');
      await page.getByTestId('width').fill('128');
      await page.getByTestId('height').fill('128');
      await make.tap();
      const result = page.locator('img[data-testid="result"][alt="a kite over the sea"]');
      await result.waitFor({ timeout: TIMEOUT_MS });
      await imagesLoaded(page, 'img[data-testid="result"]');
      const box = await result.boundingBox();
      assert.ok(box && box.y < 844 && box.y + box.height > 0, 'the stage scrolled into view');
      assert.equal(await overflow(), 0);

      await page.getByTestId('result-open').tap();
      await page.getByTestId('viewer').waitFor();
      assert.match(await page.getByTestId('details-prompt').innerText(), /kite/);
      await page.getByTestId('viewer-close').tap();
      await page.getByTestId('viewer').waitFor({ state: 'detached' });

      await page.getByTestId('nav-gallery').tap();
      await page.getByTestId('gallery-item').first().tap();
      await page.getByTestId('viewer').waitFor();
      await page.keyboard.press('Escape');
      await page.getByTestId('viewer').waitFor({ state: 'detached' });
      assert.equal(await overflow(), 0);

      // The theme follows the system (light here) until the toggle picks one.
      const background = () => page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
      const light = await background();
      await page.getByTestId('theme').tap(); // system → light
      await page.getByTestId('theme').tap(); // light → dark
      assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
      assert.notEqual(await background(), light);
      assert.deepEqual(problems, []);
    } finally {
      await close();
    }
  });
});
