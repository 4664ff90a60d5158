// Headless Chromium (Debian's) for the page tests: a page that may reach the worker only, recording what it asked
// for and any script error.

import { existsSync } from 'node:fs';
import { chromium, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** The tap `skip` option: false when Chromium is there. */
export const withoutChromium = existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (apt-get install chromium)`;

export interface OfflinePage {
  page: Page;
  /** Every URL the page requested. */
  requested: string[];
  /** Every uncaught script error. */
  errors: string[];
}

/** A page in a new browser, closed at teardown; anything not served by `serverUrl` is refused (and recorded). */
export async function offlinePage(
  t: { teardown(fn: () => unknown): void },
  serverUrl: string,
  viewport = { width: 1400, height: 1000 },
): Promise<OfflinePage> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu'],
  });
  t.teardown(() => browser.close());
  const page = await browser.newPage({ viewport });
  const requested: string[] = [];
  await page.route('**/*', (route) => {
    requested.push(route.request().url());
    return route.request().url().startsWith(serverUrl) ? route.continue() : route.abort();
  });
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  return { page, requested, errors };
}
