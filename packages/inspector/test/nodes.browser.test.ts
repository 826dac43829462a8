// The nodes section fed by @troupe/remote: this test process is node `a` (an
// actor system joined through a real nats-server, with the inspector on), node
// `b` is another actor system in a child process. The page in Chromium lists
// both with their heartbeat age, then sees `b` go suspect and away after a
// kill -9. Screenshot in test/artifacts/.
import { ActorSystem, silentLogger } from '@troupe/core';
import { inspect, nodesSection } from '@troupe/inspector';
import { type Cluster, joinCluster } from '@troupe/remote';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NatsServer, startNatsServer } from '../../remote/test/helpers/NatsServer.js';
import { PeerProcess } from '../../remote/test/helpers/PeerProcess.js';
import { launch, openPage, screenshot } from './helpers/browser.js';
import { waitFor } from './helpers/system.js';

const CLUSTER = `inspector${process.pid}`;
/** A quicker failure detector than the default (3 s), so that the test sees `b` go within a few seconds. */
const detector = { heartbeatIntervalMs: 200, deadAfterMs: 1_600, checkIntervalMs: 100 };

let server: NatsServer;
let browser: Browser;
let system: ActorSystem;
let cluster: Cluster;
let b: PeerProcess;

beforeAll(async () => {
  [server, browser] = await Promise.all([startNatsServer(), launch()]);
  const options = { servers: server.url, cluster: CLUSTER, ...detector };
  b = await PeerProcess.start({ ...options, node: 'b' }, { fixture: 'node' });
  system = await ActorSystem.start({ name: 'a', signals: false, logger: silentLogger });
  cluster = await joinCluster(system, { ...options, node: 'a' });
  await cluster.node.whenMember('b');
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await system?.shutdown();
  await b?.stop();
  await server?.close();
});

/** The nodes table's row for `id` as a person reads it: its cells' text. */
async function row(page: Page, id: string): Promise<string[]> {
  return page.locator(`#nodes tr[data-row="${id}"] td`).allInnerTexts();
}

/** A heartbeat-age cell (`340 ms ago`, `2s ago`) in milliseconds. */
function ageMs(cell: string | undefined): number {
  const m = /^(\d+) ms ago$/.exec(cell ?? '') ?? /^(\d+)s ago$/.exec(cell ?? '');
  if (m === null) throw new Error(`not a heartbeat age: ${JSON.stringify(cell)}`);
  return cell?.endsWith(' ms ago') ? Number(m[1]) : Number(m[1]) * 1000;
}

describe('the nodes of a @troupe/remote cluster on the inspector page', () => {
  it('lists this node and a peer in another process with its heartbeat age, and sees the peer go suspect and then away when it is killed', async () => {
    // The README's one line.
    const inspector = await inspect(system, { intervalMs: 200, sections: [nodesSection(() => cluster.nodes())] });
    const { page, errors } = await openPage(browser, inspector.url);
    await page.locator('#live[data-live="live"]').waitFor();

    // Both nodes, with their addresses (name/incarnation) and status.
    await page.locator('#nodes tr[data-row="b"]').waitFor();
    const self = await row(page, 'a');
    expect(self.slice(0, 3)).toEqual(['a (this node)', `a/${cluster.node.incarnation}`, 'up']);
    const peer = await row(page, 'b');
    expect(peer.slice(0, 3)).toEqual(['b', `b/${b.incarnation}`, 'up']);
    // A live peer's heartbeat is recent: well under the point where it would be suspected.
    expect(ageMs(peer[3])).toBeLessThan(detector.deadAfterMs / 2);
    // The age is live: it changes from frame to frame as heartbeats come in.
    const ages = new Set<string>();
    await waitFor(async () => {
      ages.add((await row(page, 'b'))[3] ?? '');
      return ages.size >= 3;
    }, 'three different heartbeat ages for b');
    await screenshot(page, 'inspector-nodes');

    // kill -9: no goodbye. The page shows the silence grow, `suspect`, then the node gone.
    b.kill('SIGKILL');
    await page.locator('#nodes tr[data-row="b"] .pill[data-state="suspect"]').waitFor({ timeout: 10_000 });
    expect(ageMs((await row(page, 'b'))[3])).toBeGreaterThanOrEqual(detector.deadAfterMs / 2);
    await page.locator('#nodes tr[data-row="b"]').waitFor({ state: 'detached', timeout: 10_000 });
    expect(await row(page, 'a')).toContain('up');
    expect(await page.locator('#nodes tbody tr').count()).toBe(1);
    expect(errors).toEqual([]);
    await page.close();
    await inspector.close();
  }, 60_000);
});
