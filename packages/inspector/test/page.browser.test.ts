// The inspector page in a real headless Chromium (Debian's, installed by
// scripts/ensure-chromium.sh), driven by playwright-core. Screenshots are kept
// in test/artifacts/.
import { inspect, nodesSection } from '@troupe/inspector';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cart, HasherSpec, Shop, Slow } from './fixtures/actors.js';
import { launch, openPage, screenshot } from './helpers/browser.js';
import { useSystem, waitFor } from './helpers/system.js';

const start = useSystem();
const TOKEN = 'browser-test-token-9f8e7d6c5b4a';
const SECRET = 'CARD-5555-4444-3333-2222';

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
}, 60_000);
afterAll(async () => {
  await browser?.close();
});

// innerText, not textContent: what a person sees, with the layout's spaces and line breaks.
// biome-ignore lint/performance/useDomNodeTextContent: see above
const text = (page: Page, selector: string) => page.locator(selector).first().innerText();
const cells = (row: Locator) => row.locator('td').allInnerTexts();
const num = async (page: Page, selector: string) => Number((await text(page, selector)).replace(/[^\d.]/g, ''));

describe('the inspector page in Chromium', () => {
  it('shows the tree and counts change as actors spawn, flood, crash and restart; refuses an action without the token', async () => {
    const system = await start({ name: 'shop', workers: { size: 2 } });
    const inspector = await inspect(system, { token: TOKEN, intervalMs: 250 });
    inspector.addSection(
      nodesSection(() => [
        { id: 'this-node', address: '127.0.0.1', status: 'up', heartbeatAgeMs: 0, actors: system.allMetrics().length },
      ]),
    );
    const { page, errors } = await openPage(browser, inspector.url);
    await page.locator('#state[data-state="running"]').waitFor();
    await page.locator('#live[data-live="live"]').waitFor();
    expect(await text(page, '#system-name')).toBe(system.name);
    expect(await num(page, '#kpi-actors')).toBe(0);

    // Spawn: a supervisor with three children, and a worker-thread actor.
    const shop = system.spawn(Shop, { name: 'shop' });
    await shop.ask({ type: 'ping' });
    const hasher = system.spawnWorker(HasherSpec, { name: 'hasher' });
    await hasher.ask({ type: 'hash', rounds: 10 });
    for (const path of [
      '/user/shop',
      '/user/shop/cart',
      '/user/shop/wishlist',
      '/user/shop/payments',
      '/user/hasher',
    ]) {
      await page.locator(`#tree li[data-path="${path}"]`).waitFor();
    }
    await waitFor(async () => (await num(page, '#kpi-actors')) === 5, 'the actor count to reach 5');
    // Worker threads: the actor's host thread in the tree, the slot with its thread id, load and restarts.
    const chip = await text(page, '#tree li[data-path="/user/hasher"] .chip.worker');
    const host = /thread (\d+)$/.exec(chip)?.[1];
    expect(host, chip).toBeDefined();
    const slot = page.locator(`#workers-table tr[data-slot="${host}"]`);
    await slot.waitFor();
    // The row may first show a frame sampled while the ask above was still in flight: wait for a later frame.
    await waitFor(async () => (await cells(slot))[4] === '0', 'the slot to show no ask in flight once it was answered');
    expect(await cells(slot)).toEqual([
      `#${host}`,
      expect.stringMatching(/^\d+$/),
      'running',
      '1',
      '0',
      expect.stringMatching(/^\d+%$/),
      '0',
    ]);
    // Busy hashing: its thread's event-loop load shows on the page (polled while the work runs).
    const hashing = hasher.ask({ type: 'hash', rounds: 1_000_000 }, { timeoutMs: 60_000 });
    await waitFor(
      async () => Number((await cells(slot))[5]?.replace('%', '')) >= 50,
      'the hashing thread to show a load of 50 % or more',
    );
    await hashing;

    // Flood the slow payments actor: its mailbox fills, the table sorted by mailbox shows it first.
    const payments = system.select('/user/shop/payments');
    for (let i = 0; i < 3000; i++) payments.tell({ type: 'order', card: SECRET });
    await waitFor(async () => (await num(page, '#kpi-depth')) > 100, 'queued messages to show in the KPI');
    await page.locator('#tree li[data-path="/user/shop/payments"] .badge.q').first().waitFor();
    const firstRow = page.locator('#actors tbody tr').first();
    expect(await firstRow.getAttribute('data-path')).toBe('/user/shop/payments');
    // Sorting by another column reorders the table.
    await page.locator('#actors th[data-key="path"]').click();
    expect(await page.locator('#actors tbody tr').first().getAttribute('data-path')).toBe('/user/hasher');
    await page.locator('#actors th[data-key="depth"]').click();
    expect(await page.locator('#actors tbody tr').first().getAttribute('data-path')).toBe('/user/shop/payments');

    // Crash the cart twice: restarts and the last error show in the tree and the table.
    const cart = system.select('/user/shop/cart');
    cart.tell({ type: 'crash', card: SECRET });
    await waitFor(() => system.allMetrics().some((m) => m.path === '/user/shop/cart' && m.restarts === 1), 'restart');
    cart.tell({ type: 'crash', card: SECRET });
    const cartNode = page.locator('#tree li[data-path="/user/shop/cart"]');
    await cartNode.locator('.badge.r', { hasText: '↻ 2' }).waitFor();
    expect(await text(page, '#tree li[data-path="/user/shop/cart"] > .err')).toContain(
      'Error: cart state corrupted → restart',
    );
    expect(await text(page, '#actors tr[data-path="/user/shop/cart"] td.error')).toContain('cart state corrupted');

    // Dead letters: to an unknown actor, and to a stopped one.
    for (let i = 0; i < 5; i++) system.select('/user/shop/gone').tell({ type: 'order', card: SECRET });
    await page.locator('#dead .reason[data-reason="unknown-actor"]').waitFor();
    expect(await text(page, '#dead-recent tbody tr')).toContain('order');

    // A worker thread dies: the exit shows with its code, and the slot's thread restarts.
    const threadBefore = (await cells(slot))[1];
    hasher.tell({ type: 'exit', code: 9 });
    await page.locator('#worker-exits tbody tr').first().waitFor();
    const exit = await cells(page.locator('#worker-exits tbody tr').first());
    // process.exit(9) gives no error: the code is the cause.
    expect(exit.slice(1)).toEqual([`${threadBefore} (slot #${host})`, '9', 'none reported']);
    await waitFor(() => (system.allMetrics().find((m) => m.path === '/user/hasher')?.restarts ?? 0) >= 1, 'restart');
    // The slot runs a new thread: another id, one restart.
    await waitFor(async () => {
      const now = await cells(slot);
      return now[6] === '1' && now[1] !== threadBefore;
    }, 'the slot to show its new thread and one restart');
    // A thread that dies of an uncaught error: the cause is on the page (name and message), newest first.
    hasher.tell({ type: 'throwLater', message: 'disk on fire' });
    await page.locator('#worker-exits tbody tr').nth(1).waitFor();
    expect((await cells(page.locator('#worker-exits tbody tr').first())).slice(3)).toEqual(['Error: disk on fire']);

    // The nodes slot, filled by a contributed section.
    expect(await text(page, '#nodes')).toContain('this-node');

    // Restart without the token: refused, nothing restarts.
    const before = system.allMetrics().find((m) => m.path === '/user/shop/wishlist')?.restarts;
    await page.locator('#token').fill('');
    await page.locator('#actors tr[data-path="/user/shop/wishlist"] button[data-action="restart"]').click();
    await page.locator('#toast.show[data-kind="refused"]').waitFor();
    expect(await text(page, '#toast')).toMatch(/refused \(401\).*needs the token/);
    await page.locator('#token').fill('not-the-token-at-all');
    await page.locator('#actors tr[data-path="/user/shop/wishlist"] button[data-action="restart"]').click();
    await page.locator('#toast.show[data-kind="refused"]', { hasText: '403' }).waitFor();
    // A round trip through the actor: a restart, had one been ordered, would have happened before the reply.
    await system.select('/user/shop/wishlist').ask({ type: 'ping' });
    expect(system.allMetrics().find((m) => m.path === '/user/shop/wishlist')?.restarts).toBe(before);

    // With the token: done, and the restart shows.
    await page.locator('#token').fill(TOKEN);
    await page.locator('#actors tr[data-path="/user/shop/wishlist"] button[data-action="restart"]').click();
    await page.locator('#toast.show[data-kind="ok"]').waitFor();
    await page.locator('#tree li[data-path="/user/shop/wishlist"] .badge.r', { hasText: '↻ 1' }).waitFor();

    // Let the charts gather a few points, then keep a picture.
    await waitFor(async () => (await page.locator('#chart-rate polyline').count()) > 0, 'the throughput chart');
    for (let i = 0; i < 2000; i++) system.select('/user/shop/wishlist').tell({ type: 'order', card: SECRET });
    const wishlist = page.locator('#actors tr[data-path="/user/shop/wishlist"]');
    await waitFor(
      async () => Number((await cells(wishlist))[2]?.replace(/,/g, '')) >= 2000,
      'the wishlist to show 2,000 handled',
    );
    await screenshot(page, 'inspector-running');
    expect(await page.content()).not.toContain(SECRET);
    // The refused actions above are the only failed requests.
    expect(errors.filter((e) => !/status of 40[13]/.test(e))).toEqual([]);
    await page.close();
  }, 60_000);

  it('shows the shutdown phases live, then the report, and the feed ending', async () => {
    const system = await start({ name: 'shop' });
    const inspector = await inspect(system, { intervalMs: 100 });
    // Holds the drain phase for about a second and a half.
    const slow = system.spawn(Slow, { name: 'draining', input: { ms: 15 } });
    system.spawn(Cart, { name: 'idle' });
    const { page, errors } = await openPage(browser, inspector.url);
    await page.locator('#live[data-live="live"]').waitFor();
    for (let i = 0; i < 100; i++) slow.tell({ type: 'order', card: SECRET });
    const done = system.shutdown();
    await page.locator('.phase[data-name="drain"][data-phase="active"]').waitFor();
    expect(await text(page, '#state')).toContain('drain');
    expect(await text(page, '#shutdown')).toMatch(/draining: 1 actor\(s\) still busy/);
    await screenshot(page, 'inspector-draining');
    await done;
    await page.locator('#shutdown-report').waitFor();
    await page.locator('#live[data-live="ended"]').waitFor();
    expect(await text(page, '#state')).toBe('stopped');
    for (const phase of ['stop-intake', 'drain', 'stop-actors', 'before-exit']) {
      expect(await page.locator(`.phase[data-name="${phase}"]`).getAttribute('data-phase')).toBe('done');
    }
    expect(await text(page, '#shutdown-report')).toMatch(/exit code\s+0/);
    await screenshot(page, 'inspector-stopped');
    // The feed's end closes the EventSource; anything else is an error.
    expect(errors.filter((e) => !/api\/feed.*ERR_ABORTED/.test(e))).toEqual([]);
    await page.close();
  }, 60_000);
});
