// Headless Chromium for the browser tests: one launch per test file, pages that record what went wrong in them,
// and the README's screenshots (written only when EASEL_SCREENSHOTS=1, so CI never rewrites tracked files).
import { after, before } from 'node:test';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { chromium, type Browser, type BrowserContextOptions, type Page } from 'playwright-core';
import { startTestServer, type TestServer } from './easel-server.js';

export const CHROMIUM = '/usr/bin/chromium';
export const TIMEOUT_MS = 60_000; // CI runs these on two slow cores
export const skipWithoutChromium = existsSync(CHROMIUM)
  ? false
  : `Chromium not found at ${CHROMIUM}: install it with \`apt-get install -y chromium\` to run the browser test`;

const SCREENSHOT_DIR = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));
export const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true } as const;
export const DESKTOP = { viewport: { width: 1280, height: 860 } } as const;

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic'],
  });
}

/**
 * One real server and one browser for a test file (call it inside describe): started before its tests and
 * closed after them. `server` may be replaced by a test (a restart on the same data folder).
 */
export function serverAndBrowser(options: Parameters<typeof startTestServer>[0] = {}): { server: TestServer; browser: Browser } {
  const fixture = {} as { server: TestServer; browser: Browser };
  before(async () => {
    fixture.server = await startTestServer(options);
    fixture.browser = await launchBrowser();
  });
  after(async () => {
    await fixture.browser?.close();
    await fixture.server?.close();
  });
  return fixture;
}

export interface StudioPage {
  page: Page;
  /** Page errors and console errors, for a test to assert there were none. */
  problems: string[];
  close(): Promise<void>;
}

/** A fresh context (own localStorage) on the studio, with the model list loaded and the socket open. */
export async function openStudio(browser: Browser, url: string, options: BrowserContextOptions & { hash?: string } = {}): Promise<StudioPage> {
  const { hash = '', ...contextOptions } = options;
  const context = await browser.newContext({ ...DESKTOP, ...contextOptions });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT_MS);
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error: ${message.text()} (${message.location().url})`);
  });
  await page.goto(url + hash);
  await page.locator('[data-testid="connection"][data-state="open"]').waitFor();
  return { page, problems, close: () => context.close() };
}

/** Waits until every image the page shows under `selector` has loaded. */
export async function imagesLoaded(page: Page, selector: string): Promise<void> {
  await page.waitForFunction(
    (sel) => {
      const images = [...document.querySelectorAll<HTMLImageElement>(sel)];
      return images.length > 0 && images.every((img) => img.complete && img.naturalWidth > 0);
    },
    selector,
    { timeout: TIMEOUT_MS },
  );
}

/**
 * Writes docs/screenshots/<name>.png when EASEL_SCREENSHOTS=1; otherwise does nothing. The PNG is palette-
 * quantized: the test model's noisy pictures would otherwise make each file a megabyte.
 */
export async function screenshot(page: Page, name: string, options: { fullPage?: boolean } = {}): Promise<void> {
  if (process.env.EASEL_SCREENSHOTS !== '1') return;
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const shot = await page.screenshot({ fullPage: options.fullPage ?? false, animations: 'disabled', caret: 'hide' });
  await sharp(shot).png({ palette: true, effort: 8, compressionLevel: 9 }).toFile(`${SCREENSHOT_DIR}${name}.png`);
}
