import { existsSync, mkdirSync } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';

/** Where the tests keep their screenshots (gitignored). */
export const ARTIFACTS = new URL('../artifacts/', import.meta.url);

/** The system Chromium (Debian's `chromium`, installed by scripts/ensure-chromium.sh), or CHROMIUM_PATH. */
export function chromiumPath(): string {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  const found = candidates.find((p): p is string => p !== undefined && p.length > 0 && existsSync(p));
  if (found === undefined) {
    throw new Error('no Chromium found: run scripts/ensure-chromium.sh (as root), or set CHROMIUM_PATH');
  }
  return found;
}

/** Launch headless Chromium with no network but loopback. */
export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    // Nothing leaves the machine: no component updates, no safe-browsing, no field trials.
    args: ['--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-gpu'],
  });
}

/** A page of 1440 x 1000 that records its console errors. */
export async function openPage(browser: Browser, url: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 }, deviceScaleFactor: 1 });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
  await page.goto(url);
  return { page, errors };
}

/** Save a full-page screenshot under test/artifacts/ and return its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = new URL(`${name}.png`, ARTIFACTS).pathname;
  // From the top, so the sticky header is where a person sees it.
  await page.evaluate('window.scrollTo(0, 0)');
  await page.screenshot({ path, fullPage: true });
  return path;
}
