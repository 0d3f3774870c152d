// The Share dialog: the owner (this machine) sees sharing off, is asked for a password before turning it on, and a
// refused password is shown, not swallowed.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openStudio, serverAndBrowser, skipWithoutChromium } from '../helpers/browser.js';

describe('sharing from the page', { skip: skipWithoutChromium }, () => {
  const fx = serverAndBrowser();

  it('shows the state to the owner and explains a refused password', async () => {
    const { page, close } = await openStudio(fx.browser, fx.server.url);
    try {
      await page.getByTestId('sharing-open').click();
      const dialog = page.getByTestId('sharing-dialog');
      await dialog.getByText('Sharing is').waitFor();
      assert.match(await dialog.innerText(), /Sharing is off/);
      await page.getByTestId('sharing-password').fill('short');
      await page.getByTestId('sharing-on').click();
      await dialog.getByRole('alert').waitFor();
      assert.match(await dialog.getByRole('alert').innerText(), /password/i);
    } finally {
      await close();
    }
  });
});
