import {
  type ActorRef,
  type ActorSystem,
  DisconnectedError,
  defineActor,
  type HostSite,
  type Link,
  NotDeliveredError,
  silentLogger,
  type Terminated,
  workerActor,
} from '@troupe/core';
import { TestProbe } from '@troupe/core/testing';
import { describe, expect, it } from 'vitest';
import { type HostRuntime, startHostRuntime } from '../../src/internal/HostRuntime.js';
import { Op } from '../../src/internal/wire.js';
import type { EchoMsg, RelayMsg } from '../fixtures/workers/actors.js';
import { framesOf, memoryPair } from '../helpers/memoryTransport.js';
import { collectDeadLetters, useSystem, waitFor } from '../helpers/system.js';
import { failure } from '../worker/helpers.js';

const mod = new URL('../fixtures/workers/actors.ts', import.meta.url);
const EchoSpec = workerActor<EchoMsg>(mod, 'Echo');
const RelaySpec = workerActor<RelayMsg>(mod, 'Relay');
const nodeB = { cluster: 'test', node: 'b', incarnation: 'b1' };

const start = useSystem();

/**
 * A system (node a) linked over an in-memory transport pair to a bare host
 * runtime (node b) in the same process: the Link, ref resolution, watch and
 * remote deployment, with no worker thread involved.
 */
async function linked(): Promise<{
  system: ActorSystem;
  link: Link;
  site: HostSite;
  ends: ReturnType<typeof memoryPair>;
  far: HostRuntime;
}> {
  const system = await start({ name: 'a' });
  const ends = memoryPair();
  system.remoting.setAddress({ cluster: 'test', node: 'a', incarnation: 'a1' });
  const link = system.remoting.connect(ends[0], { address: nodeB, host: false });
  const far = startHostRuntime(ends[1], { address: nodeB, logger: silentLogger });
  const site: HostSite = {
    label: 'node b',
    acquire: () => {
      if (!link.isOpen) throw new Error('node b is gone');
      return link;
    },
  };
  return { system, link, site, ends, far };
}

/** The drain waits for nothing: shutdown is quick, nothing timed out, exit 0. */
async function expectPromptShutdown(system: ActorSystem): Promise<void> {
  const started = Date.now();
  const report = await system.shutdown();
  expect(report.phases.filter((p) => p.timedOut)).toEqual([]);
  expect(report.exitCode).toBe(0);
  expect(Date.now() - started).toBeLessThan(3_000);
}

describe('a link over a non-thread transport', () => {
  it('hosts an actor on the far side for a proxy here: asks answer and tells keep their order', async () => {
    const { system, site, ends } = await linked();
    const echo = system.remoting.spawnAt(site, EchoSpec, { name: 'echo' }) as ActorRef<EchoMsg>;
    expect(echo.path).toBe('/user/echo');
    expect(await echo.ask({ type: 'echo', value: { deep: [1, 2] } })).toEqual({ deep: [1, 2] });
    for (let i = 0; i < 2_000; i++) echo.tell({ type: 'echo', value: i });
    const seen = await echo.ask<number[]>({ type: 'seen' }, { timeoutMs: 10_000 });
    expect(seen.slice(1)).toEqual(Array.from({ length: 2_000 }, (_, i) => i));
    // Batched: far fewer posts than messages.
    expect(ends[0].posted).toBeLessThan(200);
  });

  it('resolves a ref that names the far node to a remote ref over the link, in both directions', async () => {
    const { system, site } = await linked();
    const relay = system.remoting.spawnAt(site, RelaySpec, { name: 'relay' }) as ActorRef<RelayMsg>;
    // The far side spawns a child of its own; its ref comes back naming node b.
    const child = await relay.ask<ActorRef<{ type: 'double'; value: number }>>({ type: 'spawn-local' });
    expect(child.path).toBe('/user/relay/doubler');
    expect(system.remoting.toWire(child).$troupeRef).toMatchObject({ node: 'b', incarnation: 'b1' });
    expect(await child.ask({ type: 'double', value: 21 })).toBe(42);
    // A ref of this side, sent there, routes back here; the hosted actor's own ref is its proxy's.
    const probe = new TestProbe<{ type: 'hello'; from: string; self: ActorRef<RelayMsg> }>(system);
    relay.tell({ type: 'relay', to: probe.ref });
    const hello = await probe.expectMessage(undefined, 5_000);
    expect(hello.from).toBe('/user/relay');
    expect(hello.self).toBe(relay);
    const Main = defineActor<{ type: 'get' }, undefined>({
      init: () => undefined,
      receive: (_s, _m, ctx) => ctx.reply('from a'),
    });
    expect(await relay.ask({ type: 'ask-main', to: system.spawn(Main) })).toBe('from a');
  });

  it('carries watch across: Terminated when the far actor stops, address-terminated for the rest when the link closes', async () => {
    const { system, site, ends } = await linked();
    const relay = system.remoting.spawnAt(site, RelaySpec, { name: 'relay' }) as ActorRef<RelayMsg>;
    const child = await relay.ask<ActorRef<{ type: 'double'; value: number }>>({ type: 'spawn-local' });
    const seen: Terminated[] = [];
    const Watcher = defineActor<{ type: 'watch'; ref: ActorRef<never> }, undefined>({
      init: () => undefined,
      receive: (_s, m, ctx) => ctx.watch(m.ref),
      onTerminated: (_s, t) => {
        seen.push(t);
      },
    });
    const watcher = system.spawn(Watcher);
    watcher.tell({ type: 'watch', ref: child as ActorRef<never> });
    await new Promise((r) => setTimeout(r, 20));
    const ended = system.whenTerminated(child);
    await system.stop(child);
    expect((await ended).kind).toBe('stopped');
    await waitFor(() => seen.length === 1, 'Terminated of the stopped child');
    expect(seen[0]?.ref.path).toBe('/user/relay/doubler');

    const second = await relay.ask<ActorRef<{ type: 'double'; value: number }>>({ type: 'spawn-local' });
    watcher.tell({ type: 'watch', ref: second as ActorRef<never> });
    await new Promise((r) => setTimeout(r, 20));
    const gone = system.whenTerminated(second);
    ends[0].peerDied();
    expect(await gone).toEqual({ kind: 'address-terminated' });
    await waitFor(() => seen.length === 2, 'address-terminated Terminated');
    expect(seen[1]?.reason).toEqual({ kind: 'address-terminated' });
  });

  it('settles an ask in flight as disconnected when the link goes down, dead-letters tells sent while down, and refuses asks once closed', async () => {
    const { system, site, ends } = await linked();
    const echo = system.remoting.spawnAt(site, EchoSpec, { name: 'echo' }) as ActorRef<EchoMsg>;
    await echo.ask({ type: 'count' });
    const child = await (system.remoting.spawnAt(site, RelaySpec, { name: 'relay' }) as ActorRef<RelayMsg>).ask<
      ActorRef<{ type: 'double'; value: number }>
    >({ type: 'spawn-local' });
    const letters = collectDeadLetters(system);
    const slow = child.ask({ type: 'double', value: 1 }, { timeoutMs: 30_000 });
    ends[0].setUp(false);
    const err = await failure(slow);
    expect(err).toBeInstanceOf(DisconnectedError);
    expect(err.code).toBe('ERR_DISCONNECTED');
    child.tell({ type: 'double', value: 2 });
    await waitFor(() => letters.of('disconnected').length === 1, 'a disconnected dead letter');
    ends[0].setUp(true);
    expect(await child.ask({ type: 'double', value: 3 })).toBe(6);
    ends[0].close('test done');
    const refused = await failure(child.ask({ type: 'double', value: 4 }));
    expect(refused).toBeInstanceOf(NotDeliveredError);
    expect(refused.message).toMatch(/\/user\/relay\/doubler.*not delivered: the link is closed \(closed: test done\)/);
    child.tell({ type: 'double', value: 5 });
    await waitFor(() => letters.of('link-closed').length === 1, 'a link-closed dead letter');
  });

  it('accounts for every tell when the link closes: not taken by the hosted actor, or not acknowledged, each is a link-closed dead letter', async () => {
    const { system, link, site, ends } = await linked();
    const echo = system.remoting.spawnAt(site, EchoSpec, { name: 'echo' }) as ActorRef<EchoMsg>;
    const relay = system.remoting.spawnAt(site, RelaySpec, { name: 'relay' }) as ActorRef<RelayMsg>;
    const child = await relay.ask<ActorRef<{ type: 'double'; value: number }>>({ type: 'spawn-local' });
    const letters = collectDeadLetters(system);
    // echo is busy; ten tells wait behind it on the far side, not yet taken.
    void echo.ask({ type: 'slow', ms: 5_000 }, { timeoutMs: 30_000 }).catch(() => undefined);
    for (let i = 0; i < 10; i++) echo.tell({ type: 'echo', value: i });
    await waitFor(() => system.loadOf(echo) === 11, 'the tells to reach the far side');
    // Two tells by address: one posted (not yet acknowledged), one still in the outbound batch.
    child.tell({ type: 'double', value: 1 });
    link.flush();
    child.tell({ type: 'double', value: 2 });
    ends[0].peerDied();
    const lost = letters.of('link-closed');
    expect(lost.filter((l) => l.recipient === '/user/echo').map((l) => l.message)).toEqual(
      Array.from({ length: 10 }, () => ({ type: 'echo' })),
    );
    expect(lost.filter((l) => l.recipient === '/user/relay/doubler')).toHaveLength(2);
  });

  it('drops garbage from the far side (not a batch, unknown opcodes, frames with the wrong fields) with a count, and goes on', async () => {
    const { system, link, site, ends } = await linked();
    const echo = system.remoting.spawnAt(site, EchoSpec, { name: 'echo' }) as ActorRef<EchoMsg>;
    expect(await echo.ask({ type: 'count' })).toBe(0);
    // What a foreign or broken peer might publish, straight onto the transport.
    const far = ends[1];
    far.post('not a batch' as never);
    far.post([999, 1, 2]);
    far.post([13 /* TellTo */, 42, { type: 'x' }, 4 /* Reply */, 'nope', null]);
    far.post([14 /* AskTo */, { $troupeRef: 7 }, null, 1]);
    await waitFor(() => link.malformed >= 3, 'the garbage to be counted');
    expect(await echo.ask({ type: 'count' })).toBe(0);
    expect(link.isOpen).toBe(true);
  });
});

/**
 * What a proxy sent and the transport lost in transit (the link never hears
 * of it) stays in the proxy's ledger and holds its credit until the recount
 * after the next outage settles it. Here the in-memory transport loses
 * exactly the batches a test names, in either direction, every run.
 */
describe('the recount after an outage, with batches lost in transit', () => {
  /** An Echo hosted on the far side with a window of `window` messages. */
  async function deployed(window: number) {
    const linkedTo = await linked();
    const { system, site } = linkedTo;
    const echo = system.remoting.spawnAt(site, EchoSpec, {
      name: 'echo',
      mailbox: { capacity: window, overflow: 'backpressure' },
    }) as ActorRef<EchoMsg>;
    expect(await echo.ask({ type: 'count' })).toBe(0);
    await idle(system, echo);
    const collected = collectDeadLetters(system);
    // Echo answers a tell too, which has nobody to answer: those letters are not the link's.
    const letters = {
      of: collected.of,
      get all() {
        return collected.letters.filter((l) => l.reason !== 'no-reply-address');
      },
    };
    return { ...linkedTo, echo, letters };
  }
  /** The host has reported everything taken. */
  const idle = (system: ActorSystem, echo: ActorRef<EchoMsg>) =>
    waitFor(() => system.loadOf(echo) === 0, 'the ledger to empty');
  const outage = (ends: ReturnType<typeof memoryPair>) => {
    ends[0].setUp(false);
    ends[0].setUp(true);
  };
  const tells = (echo: ActorRef<EchoMsg>, from: number, to: number) => {
    for (let i = from; i < to; i++) echo.tell({ type: 'echo', value: i });
  };
  const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
  /** Credit frames in `batches`: what they granted and reported taken, in all. */
  const credits = (batches: unknown[][]) => {
    let granted = 0;
    let taken = 0;
    for (const f of batches.flatMap(framesOf)) {
      if (f[0] !== Op.Credit) continue;
      granted += f[2] as number;
      taken += f[3] as number;
    }
    return { granted, taken };
  };

  it('dead-letters each tell lost on the way to the host (asks reject), gives their credit back, and the drain does not wait for them', async () => {
    const { system, link, ends, echo, letters } = await deployed(41);
    tells(echo, 0, 20);
    expect(await echo.ask({ type: 'count' })).toBe(20);
    await idle(system, echo);
    // Forty tells and an ask, a whole window, are lost on the way; nothing says so yet.
    ends[0].lose = () => true;
    tells(echo, 20, 60);
    const lostAsk = echo.ask({ type: 'count' }, { timeoutMs: 30_000 });
    link.flush();
    ends[0].lose = undefined;
    expect(ends[0].lost.length).toBeGreaterThan(0);
    expect(system.loadOf(echo)).toBe(41);
    outage(ends);
    expect(await failure(lostAsk)).toBeInstanceOf(DisconnectedError);
    await idle(system, echo);
    expect(letters.of('disconnected').map((l) => [l.recipient, l.message])).toEqual(
      range(20, 60).map(() => ['/user/echo', { type: 'echo' }]),
    );
    expect(letters.all).toHaveLength(40);
    // The window is whole again: a full window of tells goes, then an ask behind it.
    tells(echo, 60, 120);
    expect(await echo.ask({ type: 'count' }, { timeoutMs: 5_000 })).toBe(80);
    expect(await echo.ask<number[]>({ type: 'seen' })).toEqual([...range(0, 20), ...range(60, 120)]);
    await expectPromptShutdown(system);
  });

  it('catches up on Credit frames lost on the way back (the host took the tells): nothing is dead-lettered and the window is whole', async () => {
    const { system, ends, echo, letters } = await deployed(20);
    // Everything the host sends is lost while it takes a full window of tells: the proxy has no credit left.
    ends[1].lose = () => true;
    tells(echo, 0, 20);
    await waitFor(() => credits(ends[1].lost).taken === 20, 'the host to report all twenty taken');
    ends[1].lose = undefined;
    expect(credits(ends[1].lost).granted).toBe(20);
    expect(system.loadOf(echo)).toBe(20);
    const blocked = echo.ask({ type: 'count' }, { timeoutMs: 30_000 });
    outage(ends);
    // The ask waited for credit on this side (never sent): the catch-up lets it go.
    expect(await blocked).toBe(20);
    await idle(system, echo);
    tells(echo, 20, 60);
    expect(await echo.ask({ type: 'count' }, { timeoutMs: 5_000 })).toBe(60);
    expect(await echo.ask<number[]>({ type: 'seen' })).toEqual(range(0, 60));
    expect(letters.all).toEqual([]);
  });

  it('counts each loss once over repeated outages, and ignores the answer to a recount a later one replaced', async () => {
    const { system, link, ends, echo, letters } = await deployed(100);
    ends[0].lose = () => true;
    tells(echo, 0, 5);
    link.flush();
    ends[0].lose = undefined;
    // First outage: its answer is held back here until after the second outage has asked again.
    ends[0].hold();
    outage(ends);
    tells(echo, 5, 10);
    link.flush();
    await waitFor(() => ends[0].waiting > 0, 'the first answer to be held here');
    ends[0].lose = () => true;
    tells(echo, 10, 13);
    link.flush();
    ends[0].lose = undefined;
    outage(ends);
    tells(echo, 13, 20);
    ends[0].release();
    await idle(system, echo);
    expect(letters.of('disconnected')).toHaveLength(8);
    expect(letters.all).toHaveLength(8);
    expect(await echo.ask<number[]>({ type: 'seen' })).toEqual([...range(5, 10), ...range(13, 20)]);
    // A third outage with nothing lost finds nothing.
    outage(ends);
    expect(await echo.ask({ type: 'count' })).toBe(12);
    expect(letters.all).toHaveLength(8);
  });
});

/**
 * One side's connection alone drops (one client's, as when a NATS server it
 * was on restarts and the other side's server stays up). What that side could
 * not send meanwhile is what the other side needs to stay in step: credit and
 * taken reports, replies, Terminated, stop requests. None of it may be lost
 * silently, or the other side's drain waits for work that was done, its
 * window shrinks for good, and its asks and watches never settle.
 */
describe('a one-sided outage', () => {
  async function deployed(window: number) {
    const linkedTo = await linked();
    const { system, site, far } = linkedTo;
    const echo = system.remoting.spawnAt(site, EchoSpec, {
      name: 'echo',
      mailbox: { capacity: window, overflow: 'backpressure' },
    }) as ActorRef<EchoMsg>;
    expect(await echo.ask({ type: 'count' })).toBe(0);
    await waitFor(() => system.loadOf(echo) === 0, 'the ledger to empty');
    const [handle] = [...linkedTo.link.channels.keys()];
    /** What the host counted for the echo: arrived, reported taken. */
    const hosted = () => far.host.recount(handle as number);
    const collected = collectDeadLetters(system);
    const letters = () => collected.letters.filter((l) => l.reason !== 'no-reply-address');
    return { ...linkedTo, echo, hosted, letters };
  }
  const tells = (echo: ActorRef<EchoMsg>, from: number, to: number) => {
    for (let i = from; i < to; i++) echo.tell({ type: 'echo', value: i });
  };
  const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
  /**
   * A full window of 20 (19 tells and an ask, or 20 tells) arrives at the host
   * and waits there until `cut` has run; then the host takes it all. Returns the ask.
   */
  async function windowTakenAfter(
    d: Awaited<ReturnType<typeof deployed>>,
    cut: () => void,
    withAsk: boolean,
  ): Promise<{ asked: Promise<unknown> | undefined }> {
    d.ends[1].hold();
    tells(d.echo, 0, withAsk ? 19 : 20);
    const asked = withAsk ? d.echo.ask({ type: 'count' }, { timeoutMs: 30_000 }) : undefined;
    d.link.flush();
    await waitFor(() => d.ends[1].waiting > 0, 'the window to arrive at the host');
    cut();
    d.ends[1].release();
    await waitFor(() => d.hosted()?.reported === 21, 'the host to take all twenty (and the first ask)');
    // Wrapped: an async function returning the ask itself would wait for it.
    return { asked };
  }

  /** A child the far side's Relay spawned, watched by a probe here. */
  async function watchedOnTheFarSide() {
    const linkedTo = await linked();
    const { system, site } = linkedTo;
    const relay = system.remoting.spawnAt(site, RelaySpec, { name: 'relay' }) as ActorRef<RelayMsg>;
    const child = await relay.ask<ActorRef<{ type: 'double'; value: number }>>({ type: 'spawn-local' });
    const probe = new TestProbe(system);
    probe.watch(child);
    await new Promise((r) => setTimeout(r, 20));
    return { ...linkedTo, child, probe };
  }

  it("of the host's side: its credit, taken reports and replies go once it is back; nothing is dead-lettered and the window is whole", async () => {
    const d = await deployed(20);
    const { system, ends, echo, letters } = d;
    // A full window arrives at the host, whose side goes down before it takes it.
    const { asked } = await windowTakenAfter(d, () => ends[1].setUpHere(false), true);
    // The host's Credit frames and its reply were refused: this side knows nothing yet.
    await new Promise((r) => setTimeout(r, 20));
    expect(system.loadOf(echo)).toBe(20);
    ends[1].setUpHere(true);
    expect(await asked).toBe(19);
    await waitFor(() => system.loadOf(echo) === 0, 'the ledger to empty');
    expect(letters()).toEqual([]);
    // The window is whole again: a full window of tells goes, then an ask behind it.
    tells(echo, 19, 59);
    expect(await echo.ask({ type: 'count' }, { timeoutMs: 5_000 })).toBe(59);
    expect(await echo.ask<number[]>({ type: 'seen' })).toEqual(range(0, 59));
    await expectPromptShutdown(system);
  });

  it("of the host's side: a watched actor that stops meanwhile is reported Terminated once it is back, exactly once", async () => {
    const { system, ends, child, probe } = await watchedOnTheFarSide();
    // The stop request arrives; the host's side goes down before it acts on it.
    ends[1].hold();
    const stopped = system.stop(child);
    await waitFor(() => ends[1].waiting > 0, 'the stop request to arrive');
    ends[1].setUpHere(false);
    ends[1].release();
    await new Promise((r) => setTimeout(r, 20));
    ends[1].setUpHere(true);
    await stopped;
    const t = await probe.expectTerminated(child, 5_000);
    expect(t.reason).toEqual({ kind: 'stopped' });
    await probe.expectNoMessage(100);
  });

  it("of the proxy's side: tells sent meanwhile are dead letters, what the host sent meanwhile is recounted, and the window is whole", async () => {
    const d = await deployed(20);
    const { system, link, ends, echo, letters } = d;
    await windowTakenAfter(d, () => ends[0].setUpHere(false), false);
    // Its Credit frames arrive here while this side is down: lost.
    await waitFor(() => ends[0].missed > 0, 'the Credit frames to be lost here');
    expect(system.loadOf(echo)).toBe(20);
    const refused = echo.ask({ type: 'count' }, { timeoutMs: 30_000 });
    ends[0].setUpHere(true);
    // The ask waited for credit (none was left): the recount gives it back, and it goes.
    expect(await refused).toBe(20);
    await waitFor(() => system.loadOf(echo) === 0, 'the ledger to empty');
    ends[0].setUpHere(false);
    tells(echo, 20, 25);
    link.flush();
    ends[0].setUpHere(true);
    expect(letters().map((l) => [l.reason, l.message])).toEqual(
      range(20, 25).map((i) => ['disconnected', { type: 'echo', value: i }]),
    );
    tells(echo, 25, 65);
    expect(await echo.ask({ type: 'count' }, { timeoutMs: 5_000 })).toBe(60);
    expect(await echo.ask<number[]>({ type: 'seen' })).toEqual([...range(0, 20), ...range(25, 65)]);
  });

  it('batches from the host lost in transit with both sides up: once the transport sees the gap, the proxy recounts and catches up', async () => {
    const { system, ends, echo, hosted, letters } = await deployed(20);
    ends[1].lose = () => true;
    tells(echo, 0, 20);
    await waitFor(() => hosted()?.reported === 21, 'the host to take all twenty (and the first ask)');
    ends[1].lose = undefined;
    expect(system.loadOf(echo)).toBe(20);
    const blocked = echo.ask({ type: 'count' }, { timeoutMs: 30_000 });
    // No outage on either side: only the gap, as the receiver of a NATS transport sees it.
    ends[0].reportLoss();
    expect(await blocked).toBe(20);
    await waitFor(() => system.loadOf(echo) === 0, 'the ledger to empty');
    expect(letters()).toEqual([]);
  });

  it('a Terminated lost in transit with both sides up: once the gap is seen the watch is registered again, and it comes, once', async () => {
    const { system, ends, child, probe } = await watchedOnTheFarSide();
    ends[1].lose = (batch) => framesOf(batch).some((f) => f[0] === Op.Terminated);
    void system.stop(child);
    await waitFor(() => ends[1].lost.length > 0, 'the Terminated to be lost');
    ends[1].lose = undefined;
    await probe.expectNoMessage(50);
    ends[0].reportLoss();
    const t = await probe.expectTerminated(child, 5_000);
    expect(t.reason).toEqual({ kind: 'stopped' });
    ends[0].reportLoss();
    await probe.expectNoMessage(100);
  });

  it('a host whose transport is full for a while: its credit and reply go once there is room, with nothing else to send', async () => {
    const d = await deployed(20);
    const { system, ends, echo, letters } = d;
    const { asked } = await windowTakenAfter(
      d,
      () => {
        ends[1].full = true;
      },
      true,
    );
    await new Promise((r) => setTimeout(r, 100));
    expect(system.loadOf(echo)).toBe(20);
    // Room again, and no status change: the link tries again by itself.
    ends[1].full = false;
    expect(await asked).toBe(19);
    await waitFor(() => system.loadOf(echo) === 0, 'the ledger to empty');
    expect(letters()).toEqual([]);
    tells(echo, 19, 59);
    expect(await echo.ask({ type: 'count' }, { timeoutMs: 5_000 })).toBe(59);
  });

  it('a full transport: a watch it refused is sent anew by the retry', async () => {
    const linkedTo = await linked();
    const { system, site, ends } = linkedTo;
    const relay = system.remoting.spawnAt(site, RelaySpec, { name: 'relay' }) as ActorRef<RelayMsg>;
    const child = await relay.ask<ActorRef<{ type: 'double'; value: number }>>({ type: 'spawn-local' });
    const probe = new TestProbe(system);
    ends[0].full = true;
    probe.watch(child);
    await new Promise((r) => setTimeout(r, 20));
    ends[0].full = false;
    await new Promise((r) => setTimeout(r, 150));
    void system.stop(child);
    expect((await probe.expectTerminated(child, 5_000)).reason).toEqual({ kind: 'stopped' });
  });

  it('a full transport: the retry sends again only the watch it refused, not every watch of the link', async () => {
    const { system, site, ends } = await linked();
    const children: ActorRef<{ type: 'double'; value: number }>[] = [];
    for (let i = 0; i < 6; i++) {
      const relay = system.remoting.spawnAt(site, RelaySpec, { name: `relay-${i}` }) as ActorRef<RelayMsg>;
      children.push(await relay.ask({ type: 'spawn-local' }));
    }
    const probe = new TestProbe(system);
    // Five watches go through; the sixth is refused by a full transport.
    for (const c of children.slice(0, 5)) probe.watch(c);
    await new Promise((r) => setTimeout(r, 20));
    const post = ends[0].post.bind(ends[0]);
    const watchesPosted: unknown[] = [];
    ends[0].post = (batch, transfer) => {
      const sent = post(batch, transfer);
      if (sent) for (const f of framesOf(batch)) if (f[0] === Op.Watch) watchesPosted.push(f[1]);
      return sent;
    };
    ends[0].full = true;
    probe.watch(children[5] as (typeof children)[number]);
    await new Promise((r) => setTimeout(r, 20));
    ends[0].full = false;
    await waitFor(() => watchesPosted.length > 0, 'the refused watch to be sent again');
    await new Promise((r) => setTimeout(r, 150));
    expect(watchesPosted).toHaveLength(1);
    for (const c of children) void system.stop(c);
    for (const c of children) expect((await probe.expectTerminated(c, 5_000)).reason).toEqual({ kind: 'stopped' });
    await probe.expectNoMessage(100);
  });

  it('a full transport: a recount it refused is sent anew by the retry', async () => {
    const d = await deployed(20);
    d.ends[1].lose = () => true;
    tells(d.echo, 0, 20);
    await waitFor(() => d.hosted()?.reported === 21, 'the host to take all twenty (and the first ask)');
    d.ends[1].lose = undefined;
    const blocked = d.echo.ask({ type: 'count' }, { timeoutMs: 30_000 });
    // The gap is seen while this side's transport is full: its recount is refused.
    d.ends[0].full = true;
    d.ends[0].reportLoss();
    await new Promise((r) => setTimeout(r, 20));
    d.ends[0].full = false;
    expect(await blocked).toBe(20);
  });

  it('a salvage refused part-way keeps the rest in order: a recount answer never overtakes the credit it counts', async () => {
    const d = await deployed(20);
    const { system, link, ends, echo, letters } = d;
    const channel = [...link.channels.values()][0] as typeof link.channels extends Map<number, infer C> ? C : never;
    const post = ends[1].post.bind(ends[1]);
    let mode: 'refuse' | 'salvage' | 'normal' = 'refuse';
    ends[1].post = (batch, transfer) => {
      if (mode === 'normal') return post(batch, transfer);
      if (mode === 'refuse') return false;
      // A batch that cannot be serialised whole (salvaged frame by frame), then room for a recount answer only.
      const frames = framesOf(batch);
      if (frames.length > 1) throw new Error('cannot serialise this batch');
      return frames[0]?.[0] === Op.Recounted ? post(batch, transfer) : false;
    };
    tells(echo, 0, 20);
    await waitFor(() => d.hosted()?.reported === 21, 'the host to take all twenty (and the first ask)');
    mode = 'salvage';
    ends[0].reportLoss();
    await new Promise((r) => setTimeout(r, 30));
    mode = 'normal';
    await waitFor(() => system.loadOf(echo) === 0, 'the ledger to empty');
    await new Promise((r) => setTimeout(r, 120));
    expect(channel.credit).toBe(20);
    tells(echo, 20, 60);
    expect(await echo.ask({ type: 'count' }, { timeoutMs: 5_000 })).toBe(60);
    expect(letters()).toEqual([]);
  });

  it.each([
    ['reply', { type: 'count' }],
    ['reply error', { type: 'error-with-code' }],
  ] as const)(
    "of the host's side, with tells lost meanwhile: the ask is rejected as disconnected and its late %s is a dead letter",
    async (_kind, question) => {
      const d = await deployed(20);
      const { system, link, ends, echo } = d;
      const collected = collectDeadLetters(system);
      ends[1].hold();
      const asked = echo.ask(question as EchoMsg, { timeoutMs: 30_000 });
      link.flush();
      await waitFor(() => ends[1].waiting > 0, 'the ask to arrive at the host');
      ends[1].setUpHere(false);
      ends[1].release();
      await waitFor(() => d.hosted()?.reported === 2, 'the host to take the ask');
      // A tell sent now is lost at the host's end; coming back, it reports the gap (LOST), so this side's link
      // has an outage: the ask's outcome is unknown here, and the reply that was kept for after is late.
      echo.tell({ type: 'echo', value: 'lost' });
      link.flush();
      await waitFor(() => ends[1].missed > 0, 'the tell to be lost at the host');
      ends[1].setUpHere(true);
      expect(await failure(asked)).toBeInstanceOf(DisconnectedError);
      await waitFor(() => collected.of('late-reply').length === 1, 'the late reply');
      // Named by the actor asked, not by the link: the link remembers whose ask it rejected.
      expect(collected.of('late-reply')[0]?.recipient).toBe(echo.path);
      await waitFor(() => collected.of('disconnected').length === 1, 'the lost tell, recounted');
      expect(collected.of('disconnected')[0]?.message).toEqual({ type: 'echo' });
    },
  );

  it("of the proxy's side: a stop asked for meanwhile is sent once it is back, and the drain does not wait for it", async () => {
    const { system, ends, echo } = await deployed(20);
    ends[0].setUpHere(false);
    const stopped = system.stop(echo);
    const ended = system.whenTerminated(echo);
    await new Promise((r) => setTimeout(r, 20));
    ends[0].setUpHere(true);
    await stopped;
    expect((await ended).kind).toBe('stopped');
    await expectPromptShutdown(system);
  });
});
