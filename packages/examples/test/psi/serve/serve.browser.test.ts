// The PSI jobs on the inspector page of `psi serve`, in Debian's Chromium
// (scripts/ensure-chromium.sh) through playwright-core. Screenshots go to
// packages/inspector/test/artifacts/ with the inspector's own.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, inputs, type Service, startService, TOKEN, waitJob } from './helpers.js';

const ARTIFACTS = new URL('../../../../inspector/test/artifacts/', import.meta.url);
const chromiumPath = [process.env.CHROMIUM_PATH, '/usr/bin/chromium'].find((p) => p && existsSync(p));

let browser: Browser;
let service: Service | undefined;
beforeAll(async () => {
  if (chromiumPath === undefined) throw new Error('no Chromium: run scripts/ensure-chromium.sh (as root)');
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-gpu'],
  });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  if (service !== undefined && service.proc.exitCode === null) {
    service.proc.kill('SIGKILL');
    await service.exited;
  }
});

// biome-ignore lint/performance/useDomNodeTextContent: what a person sees
const text = (page: Page, selector: string) => page.locator(selector).first().innerText();
const row = (id: string) => `[data-section="psi-jobs"] tr[data-row="${id}"]`;
const stateOf = (page: Page, id: string) =>
  page
    .locator(`${row(id)} .pill`)
    .first()
    .getAttribute('data-state');
async function shot(page: Page, name: string) {
  mkdirSync(ARTIFACTS, { recursive: true });
  // From the top, so the sticky header is where a person sees it.
  await page.evaluate('window.scrollTo(0, 0)');
  await page.screenshot({ path: new URL(`${name}.png`, ARTIFACTS).pathname, fullPage: true });
}

describe('psi serve on the inspector page', () => {
  it('shows a job progress to done, and cancels one from the page only with the token', async () => {
    // big runs for half a minute and is only ever cancelled; medium runs for seconds, to the end.
    const [big, medium] = await Promise.all([inputs(150_000), inputs(30_000)]);
    const s = await startService([
      '--data',
      join(big.dir, 'data'),
      '--threads',
      '2',
      '--max-running',
      '1',
      '--inspect',
      '0',
    ]);
    service = s;
    expect(s.inspector).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
    await page.goto(s.inspector as string);
    await page.locator('[data-section-card="psi-jobs"]').waitFor();
    expect(await text(page, '[data-section-card="psi-jobs"]')).toContain('no jobs yet');

    const submit = (i: typeof big, out: string) =>
      call(`${s.api}/jobs`, { body: { left: i.left, right: i.right, key: 'email', out: join(big.dir, out) } });
    await submit(big, 'out-1');
    await submit(big, 'out-2');
    await page.locator(`${row('j-1')} .pill[data-state="running"]`).waitFor({ timeout: 60_000 });
    expect(await stateOf(page, 'j-2')).toBe('queued');

    // Cancel the queued job: refused without the token, done with it.
    await page.locator('#token').fill('');
    await page.locator(`${row('j-2')} button[data-action="cancel"]`).click();
    await page.locator('#toast.show[data-kind="refused"]', { hasText: '401' }).waitFor();
    expect((await call(`${s.api}/jobs/j-2`)).json.job.state).toBe('queued');
    await page.locator('#token').fill(TOKEN);
    await page.locator(`${row('j-2')} button[data-action="cancel"]`).click();
    await page.locator(`${row('j-2')} .pill[data-state="cancelled"]`).waitFor();
    expect((await call(`${s.api}/jobs/j-2`)).json.job.state).toBe('cancelled');

    // Cancel the running job from the page: it stops, leaving no output.
    expect(await stateOf(page, 'j-1')).toBe('running');
    await page.locator(`${row('j-1')} button[data-action="cancel"]`).click();
    await page.locator(`${row('j-1')} .pill[data-state="cancelled"]`).waitFor({ timeout: 60_000 });
    expect(existsSync(join(big.dir, 'out-1', 'left.csv'))).toBe(false);

    // A job runs to the end on the page. Progress: the bar moves past 0 % before it is done.
    await submit(medium, 'out-3');
    await page.locator(`${row('j-3')} .pill[data-state="running"]`).waitFor({ timeout: 60_000 });
    let seen = -1;
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline && (await stateOf(page, 'j-3')) === 'running') {
      const pct = (await text(page, `${row('j-3')} .progress`)).match(/(\d+)%/);
      if (pct !== null && Number(pct[1]) > 0 && Number(pct[1]) < 100) {
        seen = Number(pct[1]);
        break;
      }
      await page.waitForTimeout(100);
    }
    expect(seen, 'a progress between 0 and 100 % while running').toBeGreaterThan(0);
    expect(await text(page, row('j-3'))).toMatch(/30,000 × 30,000/);
    await shot(page, 'psi-jobs-running');
    await page.locator(`${row('j-3')} .pill[data-state="done"]`).waitFor({ timeout: 150_000 });
    expect(await text(page, `${row('j-3')} .progress`)).toContain('100%');
    const done = await waitJob(s.api, 'j-3', (j) => j.state === 'done');
    expect(done.result.intersection).toBe(medium.expected.intersection);
    expect(await text(page, row('j-3'))).toContain(done.result.intersection.toLocaleString('en'));
    await shot(page, 'psi-jobs-done');
    // Counts only: the page never shows a key (the inputs' keys are e-mail addresses).
    expect(await page.content()).not.toMatch(/cust-[0-9a-z]+@example\.com/);
    await page.close();
  }, 300_000);
});
