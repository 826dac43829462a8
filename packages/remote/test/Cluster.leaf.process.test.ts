/**
 * A cluster across two nats-servers joined by a leaf-node connection, each
 * node connected only to its own server (two organisations, each running its
 * own NATS): this test process is node `a` on the hub, `b` is a
 * `fixtures/node.ts` process on the leaf server. The registry lives in the
 * hub's JetStream domain; every node joins with `jetstreamDomain`.
 */
import { type ActorRef, ActorSystem, type DeadLetter, silentLogger, stop } from '@troupe/core';
import { type Cluster, ClusterJoinError, joinCluster, Node, type RemoteAddress } from '@troupe/remote';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type EchoMsg,
  type NapperMsg,
  Recorder,
  recorded,
  terminations,
  Watcher,
  type WatcherMsg,
} from './fixtures/actors.js';
import { type LeafPair, startLeafPair } from './helpers/LeafPair.js';
import { freePort } from './helpers/NatsServer.js';
import { eventually, type PeerEvent, PeerProcess } from './helpers/PeerProcess.js';

const CLUSTER = `leaf${process.pid}`;
const timing = { heartbeatIntervalMs: 250, deadAfterMs: 1_500, checkIntervalMs: 125 };
let pair: LeafPair;
let system: ActorSystem | undefined;
let b: PeerProcess | undefined;

beforeAll(async () => {
  pair = await startLeafPair();
}, 60_000);

afterAll(async () => {
  await system?.shutdown();
  await b?.stop();
  await pair?.close();
});

function done(p: PeerProcess, command: Record<string, unknown>, timeoutMs = 30_000): Promise<PeerEvent> {
  return p.call(command, 'done', timeoutMs);
}

describe('a cluster across two leaf-joined nats-servers', () => {
  it('tells, asks, watches and shares one registry between nodes on the hub and on the leaf, and sees a node on the other side die', async () => {
    b = await PeerProcess.start({ ...pair.leafJoin(), ...timing, cluster: CLUSTER, node: 'b' }, { fixture: 'node' });
    system = await ActorSystem.start({ name: 'a', signals: false, logger: silentLogger });
    const cluster: Cluster = await joinCluster(system, { ...pair.hubJoin(), ...timing, cluster: CLUSTER, node: 'a' });
    await cluster.node.whenMember('b');

    // A name registered on the leaf side is found from the hub side, and the ref works.
    const echoB = (await done(b, { cmd: 'spawn', def: 'Echo', name: 'echo', register: 'echo.b' }))
      .address as RemoteAddress;
    const echo = await cluster.lookup<EchoMsg>('echo.b');
    expect(echo === undefined ? undefined : cluster.addressOf(echo)).toEqual(echoB);
    expect(await echo!.ask({ type: 'echo', value: 'across the leaf' }, { timeoutMs: 10_000 })).toBe('across the leaf');

    // And the other way: registered here, looked up there, FIFO tells from there.
    const rec = system.spawn(Recorder, { name: 'rec' });
    await cluster.register('rec.a', rec);
    const found = (await done(b, { cmd: 'lookup', name: 'rec.a' })).address as RemoteAddress | null;
    expect(found).toEqual(cluster.addressOf(rec));
    await done(b, { cmd: 'seq', to: found, from: 'b', n: 2_000 });
    await eventually(() => ((recorded.get('b')?.count ?? 0) >= 2_000 ? true : undefined), 20_000, '2 000 tells from b');
    expect(recorded.get('b')).toMatchObject({ count: 2_000, violations: 0, gaps: 0 });
    const asked = await done(b, { cmd: 'ask', to: cluster.addressOf(rec), msg: { type: 'stats' } });
    expect(asked.ok).toBe(true);

    // A watch across the leaf link, and a kill -9 on the leaf side.
    const watcher: ActorRef<WatcherMsg> = system.spawn(Watcher, { name: 'watcher' });
    watcher.tell({ type: 'watch', ref: echo! });
    await new Promise((r) => setTimeout(r, 300));
    const killedAt = Date.now();
    b.kill('SIGKILL');
    await eventually(
      () => (terminations.length > 0 ? true : undefined),
      cluster.detectionBoundMs + 10_000,
      'Terminated',
    );
    expect(terminations).toMatchObject([{ path: '/user/echo', reason: 'address-terminated' }]);
    expect(terminations[0]!.at - killedAt).toBeLessThan(cluster.detectionBoundMs + 5_000);
    // Its registry entry goes with it.
    await eventually(
      async () => ((await cluster.lookup('echo.b')) === undefined ? true : undefined),
      10_000,
      'echo.b unregistered',
    );
  }, 90_000);

  it('refuses a node on the leaf side that joins without the JetStream domain, saying to set jetstreamDomain', async () => {
    const join = Node.join({ servers: pair.leaf.url, cluster: CLUSTER, node: 'lost', connectTimeoutMs: 5_000 });
    await expect(join).rejects.toThrow(ClusterJoinError);
    await expect(join).rejects.toThrow(/jetstreamDomain/);
  }, 30_000);

  it('joins through a list of server URLs when the first is down', async () => {
    const dead = `nats://127.0.0.1:${await freePort()}`;
    const node = await Node.join({
      servers: [dead, pair.leaf.url],
      jetstreamDomain: pair.domain,
      cluster: `${CLUSTER}x`,
      node: 'listed',
    });
    try {
      expect(node.up).toBe(true);
      const hub = await Node.join({ ...pair.hubJoin(), cluster: `${CLUSTER}x`, node: 'onhub' });
      try {
        await hub.whenMember('listed');
        await node.whenMember('onhub');
      } finally {
        await hub.leave();
      }
    } finally {
      await node.leave();
    }
  }, 30_000);
});

/**
 * One side's outage: the leaf server restarts, so `b` (on it) is cut off and
 * reconnects while `a` (on the hub) never notices a thing. `b` hosts an actor
 * `a` deployed there, a slow one with a small window: during the outage it
 * keeps working through its mailbox, and the credit it grants cannot be sent.
 */
describe('the leaf server restarting under an actor deployed beyond it (one side down)', () => {
  it("the host's credit is not lost with its connection: the sender goes on after the reconnect, every tell is accounted for, and the drain does not wait", async () => {
    // One system per process: the earlier tests' node a leaves first.
    await system?.shutdown();
    system = undefined;
    await b?.stop();
    b = undefined;
    const cluster = `${CLUSTER}o`;
    const slow = { heartbeatIntervalMs: 250, deadAfterMs: 30_000, checkIntervalMs: 125 };
    const peer = await PeerProcess.start({ ...pair.leafJoin(), ...slow, cluster, node: 'b' }, { fixture: 'node' });
    const sys = await ActorSystem.start({ name: 'a', signals: false, logger: silentLogger });
    try {
      const letters: DeadLetter[] = [];
      sys.events.on('deadLetter', (l) => letters.push(l));
      const a = await joinCluster(sys, { ...pair.hubJoin(), ...slow, cluster, node: 'a' });
      await a.node.whenMember('b');
      const napper = a.spawnAt<NapperMsg>('b', 'Napper', {
        name: 'napper',
        mailbox: { capacity: 10, overflow: 'backpressure' },
        supervision: stop(),
      });
      expect(await napper.ask({ type: 'count' }, { timeoutMs: 10_000 })).toBe(0);
      const total = 120;
      let sent = 0;
      const sending = (async () => {
        for (; sent < total; sent++) await napper.send({ type: 'nap', ms: 20 });
      })();
      await eventually(() => (sent >= 30 ? true : undefined), 20_000, 'thirty naps sent');
      const ups: boolean[] = [];
      a.node.on('status', (up: boolean) => ups.push(up));
      await pair.leaf.restart(300);
      await pair.waitLinked();
      // Only b was cut off.
      expect(ups).toEqual([]);
      await Promise.race([
        sending,
        new Promise((_, reject) =>
          setTimeout(() => reject(new Error(`the sender is stuck at ${sent} of ${total}`)), 30_000),
        ),
      ]);
      const count = await napper.ask<number>({ type: 'count' }, { timeoutMs: 30_000 });
      const dead = letters.filter((l) => l.recipient === napper.path);
      expect(dead.every((l) => l.reason === 'disconnected')).toBe(true);
      expect(count + dead.length).toBe(total);
      const started = Date.now();
      const report = await sys.shutdown();
      expect(report.phases.filter((p) => p.timedOut).map((p) => [p.phase, p.hung])).toEqual([]);
      expect(report.exitCode).toBe(0);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await sys.shutdown();
      await peer.stop();
    }
  }, 120_000);
});
