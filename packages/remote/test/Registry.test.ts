/**
 * The registry on NATS KV: register, lookup, watch, and cleanup when an
 * entry's node leaves or dies (the dying node is a real process, killed -9).
 */
import { randomBytes } from 'node:crypto';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { NameTakenError, Node, type RemoteAddress } from '@troupe/remote';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NatsServer, startNatsServer } from './helpers/NatsServer.js';
import { eventually, PeerProcess } from './helpers/PeerProcess.js';

const CLUSTER = 'reg';
const timing = { heartbeatIntervalMs: 200, deadAfterMs: 1_000, checkIntervalMs: 100 };
let server: NatsServer;
let a: Node;
let b: Node;

const ref = (n: Node, path: string): RemoteAddress => ({
  cluster: n.cluster,
  node: n.name,
  incarnation: n.incarnation,
  path,
});

beforeAll(async () => {
  server = await startNatsServer();
  a = await Node.join({ servers: server.url, cluster: CLUSTER, node: 'a', ...timing });
  b = await Node.join({ servers: server.url, cluster: CLUSTER, node: 'b', ...timing });
  await a.whenMember('b');
});
afterAll(async () => {
  await a?.leave({ timeoutMs: 1_000 });
  await b?.leave({ timeoutMs: 1_000 });
  await server?.close();
});

describe('the registry', () => {
  it('finds a name registered by another node, and nothing for an unknown name', async () => {
    await a.registry!.register('svc.pricing', ref(a, '/user/pricing'));
    expect(await b.registry!.lookup('svc.pricing')).toEqual(ref(a, '/user/pricing'));
    expect(await b.registry!.lookup('svc.nothing')).toBeUndefined();
  });

  it('refuses a name held by a live owner with NameTakenError, unless asked to replace it', async () => {
    await a.registry!.register('held', ref(a, '/user/one'));
    await expect(b.registry!.register('held', ref(b, '/user/two'))).rejects.toThrow(NameTakenError);
    // Registering the same ref again is a no-op.
    await a.registry!.register('held', ref(a, '/user/one'));
    await b.registry!.register('held', ref(b, '/user/two'), { replace: true });
    expect(await a.registry!.lookup('held')).toEqual(ref(b, '/user/two'));
  });

  it('tells a watcher the current value and every change, undefined when removed', async () => {
    const seen: (RemoteAddress | undefined)[] = [];
    const stop = b.registry!.watch('watched', (r) => seen.push(r));
    await eventually(() => (seen.length === 1 ? true : undefined), 5_000, 'initial value');
    expect(seen[0]).toBeUndefined();
    await a.registry!.register('watched', ref(a, '/user/w'));
    await eventually(() => (seen.length === 2 ? true : undefined), 5_000, 'registration seen');
    expect(seen[1]).toEqual(ref(a, '/user/w'));
    expect(await a.registry!.unregister('watched')).toBe(true);
    await eventually(() => (seen.length === 3 ? true : undefined), 5_000, 'removal seen');
    expect(seen[2]).toBeUndefined();
    stop();
  });

  it('validates names and refs at the door', async () => {
    await expect(a.registry!.register('bad name', ref(a, '/x'))).rejects.toThrow(TypeError);
    await expect(a.registry!.register('.dot', ref(a, '/x'))).rejects.toThrow(/registry name/);
    await expect(a.registry!.register('ok', { ...ref(a, '/x'), cluster: 'other' })).rejects.toThrow(/not this cluster/);
    await expect(a.registry!.register('ok', { ...ref(a, '/x'), incarnation: 'xyz' })).rejects.toThrow(/16 hex/);
  });

  it("removes a node's entries when it leaves", async () => {
    const c = await Node.join({ servers: server.url, cluster: CLUSTER, node: 'c', ...timing });
    await c.registry!.register('by-c', ref(c, '/user/c'));
    expect(await a.registry!.lookup('by-c')).toEqual(ref(c, '/user/c'));
    const report = await c.leave();
    expect(report.unregistered).toBe(1);
    expect(await a.registry!.lookup('by-c')).toBeUndefined();
  });

  it("removes a node's entries when it is killed -9 and declared dead", async () => {
    const d = await PeerProcess.start({ servers: server.url, cluster: CLUSTER, node: 'd', ...timing });
    try {
      await d.call({ cmd: 'register', name: 'by-d', path: '/user/d' }, 'registered');
      expect((await a.registry!.lookup('by-d'))?.incarnation).toBe(d.incarnation);
      d.kill('SIGKILL');
      await eventually(
        async () => ((await a.registry!.lookup('by-d')) === undefined ? true : undefined),
        10_000,
        'entry removed',
      );
      // Removed in the bucket itself (by the survivors), not only hidden by lookup.
      const nc = await connect({ servers: server.url });
      const kv = await new Kvm(nc).open(`troupe-${CLUSTER}`);
      await eventually(async () => ((await kv.get('by-d'))?.operation === 'DEL' ? true : undefined), 10_000, 'DEL');
      await nc.close();
    } finally {
      await d.stop();
    }
  });

  it('treats an entry whose owner was never heard from as absent once the node has settled', async () => {
    const nc = await connect({ servers: server.url });
    const kv = await new Kvm(nc).open(`troupe-${CLUSTER}`);
    const ghost = { cluster: CLUSTER, node: 'ghost', incarnation: randomBytes(8).toString('hex'), path: '/user/g' };
    await kv.put('left-behind', JSON.stringify({ ref: ghost }));
    // Until a has been joined for deadAfterMs + discoveryMs, an unknown owner may just not have been heard yet.
    await new Promise((r) => setTimeout(r, timing.deadAfterMs + 300));
    await eventually(
      async () => ((await a.registry!.lookup('left-behind')) === undefined ? true : undefined),
      5_000,
      'absent',
    );
    expect((await kv.get('left-behind'))?.operation).toBe('DEL');
    await nc.close();
  });
});
