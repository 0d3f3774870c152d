// The owner's server settings on the page: turning on the NSFW check for everyone in the Share dialog makes the
// form's own NSFW box ticked, fixed and labelled "enforced by the owner"; turning it off gives the box back. A
// change made elsewhere reaches an open page over the websocket.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openStudio, serverAndBrowser, skipWithoutChromium } from '../helpers/browser.js';

describe('server settings from the page', { skip: skipWithoutChromium }, () => {
  const fx = serverAndBrowser();

  it('an enforced NSFW filter shows ticked, disabled and "enforced by the owner"', async () => {
    const { page, problems, close } = await openStudio(fx.browser, fx.server.url);
    try {
      await page.getByTestId('section-filters').locator('summary').click();
      const box = page.getByTestId('filter-nsfw');
      assert.equal(await box.isDisabled(), false, 'not enforced yet: the user decides');

      await page.getByTestId('sharing-open').click();
      const force = page.getByTestId('server-force-nsfw');
      await force.check();
      await page.getByTestId('server-settings').getByText('Low-memory mode needs about 60 % less memory').waitFor();
      await page.getByTestId('sharing-dialog').getByRole('button', { name: 'Close' }).click();

      await page.getByTestId('filter-nsfw-enforced').waitFor();
      assert.equal(await page.getByTestId('filter-nsfw-enforced').innerText(), 'enforced by the owner');
      assert.equal(await box.isChecked(), true);
      assert.equal(await box.isDisabled(), true);
      const saved = (await (await fetch(`${fx.server.url}/api/settings/server`)).json()) as { filters: { forceNsfwFilter: boolean } };
      assert.equal(saved.filters.forceNsfwFilter, true, 'the dialog saved it on the server');

      await page.getByTestId('sharing-open').click();
      const cache = page.getByTestId('server-model-cache');
      assert.equal(await cache.isChecked(), true, 'the optimized-model cache is on by default');
      await cache.uncheck();
      await page.waitForFunction(async (url) => {
        const settings = (await (await fetch(url)).json()) as { performance: { optimizedModelCache: boolean } };
        return settings.performance.optimizedModelCache === false;
      }, `${fx.server.url}/api/settings/server`);
      await cache.check();
      await force.uncheck();
      await page.getByTestId('sharing-dialog').getByRole('button', { name: 'Close' }).click();
      await page.getByTestId('filter-nsfw-enforced').waitFor({ state: 'detached' });
      assert.equal(await box.isDisabled(), false);

      // Changed elsewhere (another tab, the API): the open page hears it over the websocket, without a reload.
      const patch = (force: boolean) =>
        fetch(`${fx.server.url}/api/settings/server`, {
          method: 'PATCH',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ filters: { forceNsfwFilter: force } }),
        });
      assert.equal((await patch(true)).status, 200);
      await page.getByTestId('filter-nsfw-enforced').waitFor();
      assert.equal(await box.isDisabled(), true);
      assert.equal((await patch(false)).status, 200);
      await page.getByTestId('filter-nsfw-enforced').waitFor({ state: 'detached' });
      assert.deepEqual(problems, []);
    } finally {
      await close();
    }
  });
});
