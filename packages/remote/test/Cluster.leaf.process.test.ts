/**
 * A cluster across two nats-servers joined by a leaf-node connection, each
 * node connected only to its own server (two organisations, each running its
 * own NATS): this test process is node `a` on the hub, `b` is a
 * `fixtures/node.ts` process on the leaf server. The registry lives in the
 * hub's JetStream domain; every node joins with `jetstreamDomain`.
 */
import { type ActorRef, ActorSystem, silentLogger } from '@troupe/core';
import { type Cluster, ClusterJoinError, joinCluster, Node, type RemoteAddress } from '@troupe/remote';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EchoMsg, Recorder, recorded, terminations, Watcher, type WatcherMsg } from './fixtures/actors.js';
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
