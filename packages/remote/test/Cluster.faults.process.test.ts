/**
 * Faults across processes (RELIABILITY 19, 20, and a node's shutdown under
 * load), with real `node` processes and a real nats-server: a node killed
 * with SIGKILL, the NATS server killed and restarted mid-traffic, a node
 * shut down by SIGTERM while a peer floods it. This test process is node
 * `a`; `b` and `c` are `fixtures/node.ts` processes.
 */
import {
  type ActorRef,
  ActorSystem,
  type DeadLetter,
  DisconnectedError,
  NotDeliveredError,
  silentLogger,
  stop,
} from '@troupe/core';
import { type Cluster, type ClusterOptions, joinCluster, type RemoteAddress } from '@troupe/remote';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type EchoMsg,
  type RecorderMsg,
  type SeqRecord,
  terminations,
  Watcher,
  type WatcherMsg,
} from './fixtures/actors.js';
import { type NatsServer, startNatsServer } from './helpers/NatsServer.js';
import { eventually, type PeerEvent, PeerProcess } from './helpers/PeerProcess.js';

let server: NatsServer;
const peers: PeerProcess[] = [];
let system: ActorSystem | undefined;
let cluster: Cluster;
let letters: DeadLetter[] = [];
let clusterNo = 0;
let options: Omit<ClusterOptions, 'node'>;

beforeAll(async () => {
  server = await startNatsServer();
});
afterEach(async () => {
  await system?.shutdown();
  system = undefined;
  await Promise.all(peers.splice(0).map((p) => p.stop()));
  if (!server.running) await server.start();
  terminations.length = 0;
});
afterAll(async () => {
  await server?.close();
});

/** Start node processes and this process's node `a` in a fresh cluster; each sees the others. */
async function setup(names: string[], extra: Partial<ClusterOptions> = {}): Promise<PeerProcess[]> {
  options = { servers: server.url, cluster: `f${process.pid}x${clusterNo++}`, ...extra };
  const started = await Promise.all(names.map((node) => PeerProcess.start({ ...options, node }, { fixture: 'node' })));
  peers.push(...started);
  system = await ActorSystem.start({ name: 'a', signals: false, logger: silentLogger });
  letters = [];
  system.events.on('deadLetter', (l) => letters.push(l));
  cluster = await joinCluster(system, { ...options, node: 'a' });
  for (const p of started) await cluster.node.whenMember(p.name);
  return started;
}

function done(p: PeerProcess, command: Record<string, unknown>, timeoutMs = 30_000): Promise<PeerEvent> {
  return p.call(command, 'done', timeoutMs);
}

async function spawn(p: PeerProcess, def: string, name: string, register?: string): Promise<RemoteAddress> {
  const r = await done(p, { cmd: 'spawn', def, name, ...(register === undefined ? {} : { register }) });
  return r.address as RemoteAddress;
}

/** How a promise settled, and when. */
interface Settled {
  at: number;
  value?: unknown;
  error?: Error;
}
function settle(p: Promise<unknown>): Promise<Settled> {
  return p.then(
    (value) => ({ at: Date.now(), value }),
    (error: Error) => ({ at: Date.now(), error }),
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a node killed with SIGKILL', () => {
  it('gives its watchers Terminated (address-terminated) within the detection bound, settles its in-flight asks, and is a new incarnation when it comes back', async () => {
    const timing = { heartbeatIntervalMs: 250, deadAfterMs: 1_500, checkIntervalMs: 125 };
    const [b, c] = await setup(['b', 'c'], timing);
    const bound = cluster.detectionBoundMs;
    expect(bound).toBe(1_625);
    const echoC = await spawn(c!, 'Echo', 'echo', 'echo.c');
    const recC = await spawn(c!, 'Recorder', 'rec');
    const watcher: ActorRef<WatcherMsg> = system!.spawn(Watcher, { name: 'watcher' });
    const echo = cluster.refOf<EchoMsg>(echoC);
    watcher.tell({ type: 'watch', ref: echo });
    watcher.tell({ type: 'watch', ref: cluster.refOf(recC) });
    await done(b!, { cmd: 'watch', target: echoC });
    expect(await echo.ask({ type: 'echo', value: 1 })).toBe(1);
    // Asks in flight that c will never answer: they must not wait for their 60 s timeout.
    const inFlight = Array.from({ length: 5 }, () =>
      settle(echo.ask({ type: 'slow', ms: 60_000 }, { timeoutMs: 60_000 })),
    );
    await sleep(300);

    const killedAt = Date.now();
    c!.kill('SIGKILL');
    for (const s of await Promise.all(inFlight)) {
      expect(s.error?.name).toMatch(/^(NotDeliveredError|DisconnectedError)$/);
      // Generous slack for a loaded machine; the bound itself is 1 625 ms here.
      expect(s.at - killedAt).toBeLessThan(bound + 3_000);
    }
    await eventually(() => (terminations.length >= 2 ? true : undefined), bound + 10_000, 'both Terminated at a');
    for (const t of terminations) {
      expect(t.reason).toBe('address-terminated');
      expect(t.at - killedAt).toBeLessThan(bound + 3_000);
    }
    expect(terminations.map((t) => t.path).sort()).toEqual(['/user/echo', '/user/rec']);
    const atB = await eventually(
      async () => {
        const r = await done(b!, { cmd: 'report' });
        return r.terminations.length > 0 ? r.terminations : undefined;
      },
      bound + 10_000,
      'Terminated at b',
    );
    expect(atB).toMatchObject([{ path: '/user/echo', reason: 'address-terminated' }]);
    // Exactly once per watch.
    await sleep(500);
    expect(terminations).toHaveLength(2);

    // The dead incarnation: an ask is refused at once, a tell is a dead letter, a new watch ends at once.
    const t0 = Date.now();
    const refused = await settle(echo.ask({ type: 'echo', value: 2 }));
    expect(refused.error).toBeInstanceOf(NotDeliveredError);
    expect(refused.at - t0).toBeLessThan(1_000);
    echo.tell({ type: 'echo', value: 3 });
    await eventually(
      () => (letters.some((l) => l.recipient === '/user/echo' && l.reason === 'link-closed') ? true : undefined),
      5_000,
      'a link-closed dead letter',
    );
    // A ref to it resolved afresh says why there is no route.
    const again = await settle(cluster.refOf<EchoMsg>(echoC).ask({ type: 'echo', value: 4 }));
    expect(again.error).toBeInstanceOf(NotDeliveredError);
    expect(again.error?.message).toMatch(/no route: No live member node c \(incarnation [0-9a-f]{16}\).*declared dead/);

    // c comes back: a new incarnation, found under the same name; the old ref stays dead.
    const c2 = await PeerProcess.start({ ...options, node: 'c' }, { fixture: 'node' });
    peers.push(c2);
    expect(c2.incarnation).not.toBe(c!.incarnation);
    await cluster.node.whenMember('c');
    await spawn(c2, 'Echo', 'echo', 'echo.c');
    const fresh = await cluster.lookup<EchoMsg>('echo.c');
    expect(cluster.addressOf(fresh!).incarnation).toBe(c2.incarnation);
    expect(await fresh!.ask({ type: 'echo', value: 5 })).toBe(5);
    const late = await settle(echo.ask({ type: 'echo', value: 6 }));
    expect(late.error).toBeInstanceOf(NotDeliveredError);
    const lateTells = letters.filter((l) => l.recipient === '/user/echo').length;
    echo.tell({ type: 'echo', value: 7 });
    await eventually(
      () => (letters.filter((l) => l.recipient === '/user/echo').length > lateTells ? true : undefined),
      5_000,
      'the late tell as a dead letter',
    );
  });
});

/** Wait for the reconnect, then for `count` (tells taken at the peer) to grow by 500 after it. */
async function trafficAfterReconnect(count: () => Promise<number>): Promise<void> {
  await eventually(() => (cluster.node.up ? true : undefined), 15_000, 'the reconnect');
  const atUp = await eventually(
    async () => {
      try {
        return await count();
      } catch {
        return undefined;
      }
    },
    15_000,
    'an answer after the reconnect',
  );
  await eventually(async () => ((await count()) > atUp + 500 ? true : undefined), 20_000, 'traffic after');
}

describe('a node killed with SIGKILL while it holds a registered name, with no other node to clean up after it', () => {
  const timing = { heartbeatIntervalMs: 250, deadAfterMs: 1_500, checkIntervalMs: 125 };
  const fresh = () => ({ servers: server.url, cluster: `r${process.pid}x${clusterNo++}`, ...timing });
  async function killedHolding(name: string, opts: Omit<ClusterOptions, 'node'>): Promise<RemoteAddress> {
    const b = await PeerProcess.start({ ...opts, node: 'b' }, { fixture: 'node' });
    peers.push(b);
    const held = await spawn(b, 'Echo', 'svc', name);
    b.kill('SIGKILL');
    await b.exited;
    return held;
  }

  it('restarted, registers its name again at once: the entry of its own earlier run is dead, not alive', async () => {
    const opts = fresh();
    const before = await killedHolding('svc', opts);
    const b2 = await PeerProcess.start({ ...opts, node: 'b' }, { fixture: 'node' });
    peers.push(b2);
    const registered = await done(b2, { cmd: 'spawn', def: 'Echo', name: 'svc', register: 'svc' });
    expect(registered.failed).toBeUndefined();
    const address = registered.address as RemoteAddress;
    expect(address.incarnation).not.toBe(before.incarnation);
    // A node that joins now finds the new run, and it answers.
    system = await ActorSystem.start({ name: 'a', signals: false, logger: silentLogger });
    cluster = await joinCluster(system, { ...opts, node: 'a' });
    const found = await cluster.lookup<EchoMsg>('svc');
    expect(found === undefined ? undefined : cluster.addressOf(found)).toEqual(address);
    expect(await found?.ask({ type: 'echo', value: 1 }, { timeoutMs: 5_000 })).toBe(1);
  });

  it('a node that joins after it died finds nothing under its name (not a ref to the dead run), within the detection time', async () => {
    const opts = fresh();
    await killedHolding('gone', opts);
    system = await ActorSystem.start({ name: 'a', signals: false, logger: silentLogger });
    cluster = await joinCluster(system, { ...opts, node: 'a' });
    const started = Date.now();
    expect(await cluster.lookup('gone')).toBeUndefined();
    // Waited at most until this node could know (deadAfterMs + discoveryMs after joining), not longer.
    expect(Date.now() - started).toBeLessThan(timing.deadAfterMs + 200 + 2_000);
    // And the dead run's entry is gone from the bucket itself.
    expect(await cluster.node.registry?.lookup('gone')).toBeUndefined();
  });
});

describe('the NATS server restarting mid-traffic', () => {
  it('settles every ask in flight, counts tells during the outage as dead letters, and keeps order per pair after the reconnect', async () => {
    const [b] = await setup(['b']);
    const rec = cluster.refOf<RecorderMsg>(await spawn(b!, 'Recorder', 'rec'));
    const echo = cluster.refOf<EchoMsg>(await spawn(b!, 'Echo', 'echo'));
    const downs: string[] = [];
    cluster.node.on('member-down', (m) => downs.push(m.node));
    let sent = 0;
    const stream = setInterval(() => {
      for (let i = 0; i < 20; i++) rec.tell({ type: 'seq', from: 'a', n: sent++ });
    }, 2);
    const countAtB = async () => (await rec.ask<Record<string, SeqRecord>>({ type: 'stats' })).a?.count ?? 0;
    try {
      await eventually(async () => ((await countAtB()) > 500 ? true : undefined), 10_000, 'the stream at b');
      const asks = Array.from({ length: 3 }, () =>
        settle(echo.ask({ type: 'slow', ms: 3_000 }, { timeoutMs: 30_000 })),
      );
      await sleep(100);
      await server.restart(1_500);
      // Each ask in flight settled when the link went down: its outcome is unknown, and it says so.
      for (const s of await Promise.all(asks)) expect(s.error).toBeInstanceOf(DisconnectedError);
      await trafficAfterReconnect(countAtB);
    } finally {
      clearInterval(stream);
    }
    const stats = await eventually(
      async () => {
        const s = (await rec.ask<Record<string, SeqRecord>>({ type: 'stats' })).a;
        return s?.last === sent - 1 ? s : undefined;
      },
      10_000,
      'the last tell at b',
    );
    const dead = letters.filter((l) => l.recipient === '/user/rec');
    const disconnected = dead.filter((l) => l.reason === 'disconnected').length;
    // Tells sent while the link was down were dead letters, counted; nothing vanished without one.
    expect(disconnected).toBeGreaterThan(0);
    expect(stats.violations).toBe(0);
    expect(stats.count).toBeLessThanOrEqual(sent);
    expect(stats.count + dead.length).toBeGreaterThanOrEqual(sent);
    // Nobody was declared dead over a 1.5 s outage, and asks work again.
    expect(downs).toEqual([]);
    expect(await echo.ask({ type: 'echo', value: 'after' })).toBe('after');
  });
});

describe('the NATS server restarting under traffic to an actor deployed on the peer', () => {
  it('counts every tell lost in transit as a dead letter, gives its credit back, and the shutdown drain does not wait for it', async () => {
    const [b] = await setup(['b']);
    const rec = cluster.spawnAt<RecorderMsg>('b', 'Recorder', { name: 'deployed', supervision: stop() });
    const countAtB = async () =>
      (await rec.ask<Record<string, SeqRecord>>({ type: 'stats' }, { timeoutMs: 2_000 }))['a-deployed']?.count ?? 0;
    let sent = 0;
    const stream = setInterval(() => {
      for (let i = 0; i < 20; i++) rec.tell({ type: 'seq', from: 'a-deployed', n: sent++ });
    }, 2);
    try {
      await eventually(async () => ((await countAtB()) > 500 ? true : undefined), 10_000, 'the stream at b');
      await server.restart(1_500);
      await trafficAfterReconnect(countAtB);
    } finally {
      clearInterval(stream);
    }
    const stats = await eventually(
      async () => {
        const s = (await rec.ask<Record<string, SeqRecord>>({ type: 'stats' }))['a-deployed'];
        return s?.last === sent - 1 ? s : undefined;
      },
      10_000,
      'the last tell at b',
    );
    const dead = letters.filter((l) => l.recipient === rec.path);
    // Refused while down, or lost in transit and found by the recount after the reconnect: each a dead letter.
    expect(dead.length).toBeGreaterThan(0);
    expect(dead.every((l) => l.reason === 'disconnected')).toBe(true);
    expect(stats.violations).toBe(0);
    expect(stats.count + dead.length).toBe(sent);
    // Nothing is left in the channel's ledger: the drain finds the deployed actor idle and stops it at once.
    const started = Date.now();
    const report = await system!.shutdown();
    system = undefined;
    expect(report.phases.filter((p) => p.timedOut).map((p) => [p.phase, p.hung])).toEqual([]);
    expect(report.abandoned).toEqual([]);
    expect(report.exitCode).toBe(0);
    expect(Date.now() - started).toBeLessThan(5_000);
    void b;
  });
});

describe('a node shut down under load', () => {
  it('on SIGTERM drains, leaves the registry and the cluster; peers see its actors stop (not fail); every tell and ask is accounted for', async () => {
    const [b] = await setup(['b']);
    const rec = cluster.refOf<RecorderMsg>(await spawn(b!, 'Recorder', 'rec', 'rec.b'));
    const echo = cluster.refOf<EchoMsg>(await spawn(b!, 'Echo', 'echo'));
    const watcher = system!.spawn(Watcher, { name: 'watcher' });
    watcher.tell({ type: 'watch', ref: rec });
    watcher.tell({ type: 'watch', ref: echo });
    let downReason: string | undefined;
    let sending = true;
    cluster.node.on('member-down', (m, reason) => {
      if (m.node !== 'b') return;
      downReason = reason;
      // Go on a little after it left: those tells are dead letters here.
      setTimeout(() => {
        sending = false;
      }, 200);
    });
    let sent = 0;
    const asks: Promise<Settled>[] = [];
    const pump = (async () => {
      while (sending) {
        for (let i = 0; i < 50; i++) rec.tell({ type: 'seq', from: 'a', n: sent++ });
        asks.push(settle(echo.ask({ type: 'echo', value: sent }, { timeoutMs: 20_000 })));
        await sleep(1);
      }
    })();
    await sleep(800);
    b!.kill('SIGTERM');
    const shut = await b!.waitFor((e) => e.ev === 'shutdown', 30_000);
    await pump;
    const outcomes = await Promise.all(asks);

    expect(shut.report.exitCode).toBe(0);
    expect(shut.report.phases.filter((p: { timedOut: boolean }) => p.timedOut)).toEqual([]);
    expect(downReason).toBe('left');
    // Every tell: taken by the actor there, a dead letter there, or a dead letter here; exactly one of these.
    const processed = (shut.recorded.a as SeqRecord | undefined)?.count ?? 0;
    const deadThere = Object.values((shut.dead['/user/rec'] ?? {}) as Record<string, number>).reduce(
      (x, y) => x + y,
      0,
    );
    const deadHere = letters.filter((l) => l.recipient === '/user/rec').length;
    expect(processed).toBeGreaterThan(0);
    expect(deadThere + deadHere).toBeGreaterThan(0);
    expect(processed + deadThere + deadHere).toBe(sent);
    // From the start of its shutdown, b took no new intake from other nodes: refused there, counted.
    expect(shut.dead['/user/rec']?.['shutting-down']).toBeGreaterThan(0);
    expect((shut.recorded.a as SeqRecord).violations).toBe(0);
    // Every ask settled: answered, or refused with a reason.
    expect(outcomes.filter((o) => o.error === undefined).length).toBeGreaterThan(0);
    for (const o of outcomes)
      if (o.error !== undefined)
        expect(o.error.name).toMatch(/^(ShuttingDownError|ActorStoppedError|ActorNotFoundError|NotDeliveredError)$/);
    // Its actors stopped, and that is what the watchers here saw.
    await eventually(() => (terminations.length === 2 ? true : undefined), 5_000, 'two Terminated');
    expect(terminations.map((t) => [t.path, t.reason]).sort()).toEqual([
      ['/user/echo', 'stopped'],
      ['/user/rec', 'stopped'],
    ]);
    expect(await cluster.lookup('rec.b')).toBeUndefined();
    expect(await b!.exited).toMatchObject({ code: 0 });
  });
});
