/**
 * ActorRefs across three OS processes through a real nats-server: this test
 * process is node `a` (its own actor system), `b` and `c` are
 * `fixtures/node.ts` processes. Tell, ask, watch, refs inside messages in
 * every direction, the registry, FIFO per pair, remote deployment with
 * supervision, an oversize message and a chunked large one. No NATS mock.
 */
import { randomBytes } from 'node:crypto';
import {
  type ActorRef,
  ActorSystem,
  type DeadLetter,
  defineActor,
  restart,
  silentLogger,
  stop,
  type Terminated,
  UnserializableMessageError,
} from '@troupe/core';
import { type Cluster, joinCluster, NameTakenError, type RemoteAddress, UnknownNodeError } from '@troupe/remote';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CrashyMsg,
  Echo,
  type EchoMsg,
  type ForwarderMsg,
  Recorder,
  type RecorderMsg,
  type SeqRecord,
  sha256,
} from './fixtures/actors.js';
import { type NatsServer, startNatsServer } from './helpers/NatsServer.js';
import { eventually, type PeerEvent, PeerProcess } from './helpers/PeerProcess.js';

const CLUSTER = `actors${process.pid}`;
const MiB = 1024 * 1024;
/** Small limits, so that a few MB is chunked into many messages and 9 MB is over the batch limit. */
const transport = { maxBatchBytes: 8 * MiB };

let server: NatsServer;
let system: ActorSystem;
let cluster: Cluster;
let b: PeerProcess;
let c: PeerProcess;
const letters: DeadLetter[] = [];

function done(p: PeerProcess, command: Record<string, unknown>, timeoutMs = 30_000): Promise<PeerEvent> {
  return p.call(command, 'done', timeoutMs);
}

beforeAll(async () => {
  server = await startNatsServer({ maxPayload: 256 * 1024 });
  const options = { servers: server.url, cluster: CLUSTER, transport };
  [b, c] = await Promise.all([
    PeerProcess.start({ ...options, node: 'b' }, { fixture: 'node' }),
    PeerProcess.start({ ...options, node: 'c' }, { fixture: 'node' }),
  ]);
  system = await ActorSystem.start({ name: 'a', signals: false, logger: silentLogger });
  system.events.on('deadLetter', (l) => letters.push(l));
  cluster = await joinCluster(system, { ...options, node: 'a' });
  await cluster.node.whenMember('b');
  await cluster.node.whenMember('c');
}, 60_000);

afterAll(async () => {
  await system?.shutdown();
  await Promise.all([b?.stop(), c?.stop()]);
  await server?.close();
});

describe('ActorRefs across three node processes', () => {
  it('tells, asks and watches across processes, with refs inside messages working in every direction', async () => {
    const echoB = (await done(b, { cmd: 'spawn', def: 'Echo', name: 'echo', register: 'echo.b' })).address;
    const fwdB = (await done(b, { cmd: 'spawn', def: 'Forwarder', name: 'fwd', register: 'fwd.b' })).address;
    const recC = (await done(c, { cmd: 'spawn', def: 'Recorder', name: 'rec', register: 'rec.c' })).address;
    expect(echoB).toMatchObject({ cluster: CLUSTER, node: 'b', incarnation: b.incarnation, path: '/user/echo' });

    // The registry gives working refs; an ask goes there and back.
    const echo = await cluster.lookup<EchoMsg>('echo.b');
    expect(echo).toBeDefined();
    expect(await echo!.ask({ type: 'echo', value: { deep: [1, 2, { n: 3n }] } })).toEqual({ deep: [1, 2, { n: 3n }] });
    expect(await echo!.ask<{ pid: number }>({ type: 'where' })).toMatchObject({ pid: b.proc.pid });

    // A ref to c's actor, sent from a to b inside a message, used by b: a -> b -> c.
    const fwd = cluster.refOf<ForwarderMsg>(fwdB as RemoteAddress);
    const rec = (await cluster.lookup<RecorderMsg>('rec.c'))!;
    fwd.tell({ type: 'forward', to: rec, msg: { type: 'seq', from: 'via-b', n: 0 } });
    await eventually(
      async () => ((await rec.ask<Record<string, SeqRecord>>({ type: 'stats' }))['via-b'] ? true : undefined),
      10_000,
      'the forwarded tell at c',
    );
    // b sends its own ref back to a (a ref from b, inside a reply), and it works here.
    const fwdSelf = await fwd.ask<ActorRef<ForwarderMsg>>({ type: 'me' });
    expect(cluster.addressOf(fwdSelf)).toEqual(fwdB);
    // a's own actor, sent to c inside a message; c asks it and replies with its answer: a -> c -> a -> c -> a.
    const local = system.spawn(Echo, { name: 'echo-a' });
    expect(await rec.ask({ type: 'ask-back', to: local, value: 'round trip' })).toBe('round trip');
    // And b asks c's recorder on a's behalf, with a ref to a's actor inside: a -> b -> c -> a.
    expect(
      await fwd.ask({ type: 'relay-ask', to: rec, msg: { type: 'ask-back', to: local, value: 42 } } as ForwarderMsg),
    ).toBe(42);
    expect(recC.path).toBe('/user/rec');

    // Watch across: a watches b's echo; b stops it; Terminated arrives once, as stopped.
    const seen: Terminated[] = [];
    const W = defineActor<{ type: 'watch'; ref: ActorRef<never> }, undefined>({
      init: () => undefined,
      receive: (_s, m, ctx) => ctx.watch(m.ref),
      onTerminated: (_s, t) => {
        seen.push(t);
      },
    });
    const watcher = system.spawn(W, { name: 'watcher-1' });
    watcher.tell({ type: 'watch', ref: echo as ActorRef<never> });
    // c watches a's actor (a watch from another process), and a stops it.
    await done(c, { cmd: 'watch', target: cluster.addressOf(local) });
    await new Promise((r) => setTimeout(r, 200));
    await done(b, { cmd: 'stop', path: '/user/echo' });
    await eventually(() => (seen.length > 0 ? true : undefined), 10_000, 'Terminated of b/echo at a');
    await system.stop(local);
    const atC = await eventually(
      async () => {
        const r = await done(c, { cmd: 'report' });
        return r.terminations.length > 0 ? r.terminations : undefined;
      },
      10_000,
      'Terminated of a/echo-a at c',
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(seen.map((t) => [t.ref.path, t.reason.kind])).toEqual([['/user/echo', 'stopped']]);
    expect((await done(c, { cmd: 'report' })).terminations).toEqual([
      { path: '/user/echo-a', reason: 'stopped', at: atC[0].at },
    ]);
    // The stopped actor's ref is dead now: a tell is a dead letter at its node, an ask rejects.
    await expect(echo!.ask({ type: 'echo', value: 1 })).rejects.toMatchObject({ name: 'ActorNotFoundError' });
  });

  it('keeps FIFO per pair of actors across processes, with two senders interleaved', async () => {
    const recB = (await done(b, { cmd: 'spawn', def: 'Recorder', name: 'rec-fifo' })).address as RemoteAddress;
    const rec = cluster.refOf<RecorderMsg>(recB);
    const n = 20_000;
    // c sends while a sends: both streams arrive whole and in order at b.
    const fromC = done(c, { cmd: 'seq', to: recB, from: 'c', n });
    for (let i = 0; i < n; i++) {
      rec.tell({ type: 'seq', from: 'a', n: i });
      if (i % 1000 === 999) await new Promise((r) => setImmediate(r));
    }
    await fromC;
    const stats = await eventually(
      async () => {
        const s = await rec.ask<Record<string, SeqRecord>>({ type: 'stats' });
        return s.a?.count === n && s.c?.count === n ? s : undefined;
      },
      30_000,
      'both streams at b',
    );
    expect(stats.a).toEqual({ count: n, last: n - 1, violations: 0, gaps: 0 });
    expect(stats.c).toEqual({ count: n, last: n - 1, violations: 0, gaps: 0 });
  });

  it('registers names in the cluster registry: lookup gives a working ref, a taken name is refused, a watch sees changes', async () => {
    const local = system.spawn(Recorder, { name: 'rec-a' });
    await cluster.register('rec.a', local);
    const fromB = (await done(b, { cmd: 'lookup', name: 'rec.a' })).address;
    expect(fromB).toEqual(cluster.addressOf(local));
    await done(b, { cmd: 'tell', to: fromB, msg: { type: 'seq', from: 'b-by-name', n: 0 } });
    await eventually(
      async () => ((await local.ask<Record<string, SeqRecord>>({ type: 'stats' }))['b-by-name'] ? true : undefined),
      10_000,
      'the tell by name',
    );
    await expect(done(c, { cmd: 'spawn', def: 'Echo', name: 'echo-c', register: 'rec.a' })).resolves.toMatchObject({
      failed: { name: 'NameTakenError' },
    });
    await expect(cluster.register('echo.b', local)).rejects.toBeInstanceOf(NameTakenError);
    const changes: (string | undefined)[] = [];
    const stopWatching = cluster.watchName('svc.moving', (ref) => changes.push(ref?.path));
    await new Promise((r) => setTimeout(r, 200));
    await done(c, { cmd: 'spawn', def: 'Echo', name: 'moving', register: 'svc.moving' });
    await eventually(() => (changes.includes('/user/moving') ? true : undefined), 10_000, 'the watched name');
    stopWatching();
    expect(changes[0]).toBeUndefined();
    expect(await cluster.lookup('no.such.name')).toBeUndefined();
  });

  it('deploys an actor on another node from a definition registered there, supervised here: a crash there is restarted by its parent here', async () => {
    const Parent = defineActor<{ type: 'spawn'; start: number }, undefined>({
      init: () => undefined,
      childSupervision: restart().withLimit(5, 10_000),
      receive: (_s, m, ctx) => {
        ctx.reply(
          cluster.spawnAt<CrashyMsg, { start: number }>('b', 'Crashy', {
            name: 'crashy',
            input: { start: m.start },
            parent: ctx.self,
          }),
        );
      },
    });
    const parent = system.spawn(Parent, { name: 'parent' });
    const child = await parent.ask<ActorRef<CrashyMsg>>({ type: 'spawn', start: 10 });
    expect(child.path).toBe('/user/parent/crashy');
    child.tell({ type: 'inc' });
    const first = await child.ask<{ count: number; starts: number; pid: number }>({ type: 'get' });
    expect(first).toMatchObject({ count: 11, pid: b.proc.pid });
    // It fails there; the supervisor here restarts it there: fresh state from the same input.
    const restarted = new Promise<void>((r) => system.events.once('restarted', () => r()));
    child.tell({ type: 'boom' });
    await restarted;
    const second = await child.ask<{ count: number; starts: number; pid: number }>({ type: 'get' });
    expect(second).toEqual({ count: 10, starts: first.starts + 1, pid: b.proc.pid });
    // Stopping it here stops it there.
    const gone = system.whenTerminated(child);
    await system.stop(child);
    expect(await gone).toEqual({ kind: 'stopped' });

    // A definition the node does not offer fails the spawn, naming what it offers.
    const orphan = cluster.spawnAt('b', 'NoSuchActor', { name: 'orphan', supervision: stop() });
    const ended = await system.whenTerminated(orphan);
    expect(ended.kind).toBe('failed');
    const error = (ended as { error: Error }).error;
    expect(error.name).toBe('UnknownDefinitionError');
    expect(error.message).toMatch(
      /Node b has no actor definition named \[NoSuchActor\] \(it offers: Crashy, Echo, Napper, Recorder\)/,
    );
    expect(() => cluster.spawnAt('nobody', 'Crashy')).toThrow(UnknownNodeError);
  });

  it('lists this node and its live peers with the age of their last heartbeat, for a status page', () => {
    const nodes = cluster.nodes();
    expect(nodes[0]).toEqual({
      id: 'a',
      address: `a/${cluster.node.incarnation}`,
      incarnation: cluster.node.incarnation,
      status: 'up',
      heartbeatAgeMs: 0,
      self: true,
    });
    expect(
      nodes
        .slice(1)
        .map((n) => [n.id, n.incarnation, n.status])
        .sort(),
    ).toEqual([
      ['b', b.incarnation, 'up'],
      ['c', c.incarnation, 'up'],
    ]);
    // Heartbeats every 500 ms: none is older than the time to be declared dead.
    for (const n of nodes.slice(1)) expect(n.heartbeatAgeMs).toBeLessThan(3_000);
  });

  it('chunks a large message under max_payload and refuses an oversize one at the sender, naming the limit', async () => {
    const echo = cluster.refOf<EchoMsg>((await done(c, { cmd: 'spawn', def: 'Echo', name: 'big' })).address);
    // 6 MB: 24 messages of 256 KiB, reassembled and checked there.
    const data = randomBytes(6 * MiB);
    expect(await echo.ask({ type: 'digest', data }, { timeoutMs: 30_000 })).toEqual({
      bytes: data.byteLength,
      sha256: sha256(data),
    });
    // 9 MB is over maxBatchBytes (8 MiB): refused here, nothing sent; the link goes on.
    const huge = new Uint8Array(9 * MiB);
    const refused = echo.ask({ type: 'digest', data: huge });
    await expect(refused).rejects.toBeInstanceOf(UnserializableMessageError);
    await expect(refused).rejects.toThrow(
      /cannot be sent: BatchTooLargeError: Cannot send a batch of \d+ bytes .* the limit is 8388608 bytes/,
    );
    const before = letters.filter((l) => l.reason === 'unserializable').length;
    echo.tell({ type: 'digest', data: huge });
    await eventually(
      () => (letters.filter((l) => l.reason === 'unserializable').length > before ? true : undefined),
      10_000,
      'the oversize tell as a dead letter',
    );
    expect(letters.at(-1)).toMatchObject({ recipient: '/user/big', reason: 'unserializable' });
    // What cannot cross at all (a function) is refused at the call, naming where it is.
    expect(() => echo.tell({ type: 'echo', value: { fn: () => 1 } })).toThrow(UnserializableMessageError);
    await expect(echo.ask({ type: 'echo', value: { fn: () => 1 } })).rejects.toThrow(/\$\.value\.fn is a function/);
    expect(await echo.ask({ type: 'echo', value: 'still here' })).toBe('still here');
    expect(cluster.stats().droppedTotal).toBe(0);
  });
});
