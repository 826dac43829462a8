/**
 * Bad input from the network at the actor level (RELIABILITY 21): a foreign
 * raw NATS client publishes garbage on node `a`'s subjects, and then forges a
 * member (its own heartbeats) and sends it batches a real peer never would:
 * not a batch, unknown opcodes, fields of the wrong type, frames for actors
 * that do not exist, refs into another cluster, a spawn naming a module to
 * import. Each is dropped with a counter or becomes a dead letter (an ask
 * gets an error reply); nothing throws, nothing hangs, and `a` keeps serving
 * its real peer `b` (another process).
 */
import { randomBytes } from 'node:crypto';
import { serialize } from 'node:v8';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { ActorSystem, type DeadLetter, type Logger } from '@troupe/core';
import { type Cluster, type DroppedFrame, joinCluster } from '@troupe/remote';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unpack } from '../src/Packer.js';
import { type EchoMsg, Recorder, type RecorderMsg, type SeqRecord } from './fixtures/actors.js';
import { frame, readFrame } from './helpers/frames.js';
import { type NatsServer, startNatsServer } from './helpers/NatsServer.js';
import { eventually, type PeerEvent, PeerProcess } from './helpers/PeerProcess.js';

const CLUSTER = `bad${process.pid}`;
/** Opcodes of core's wire protocol (`internal/wire.ts`), as a foreign client would know them from the source. */
const Op = { ReplyError: 5, Spawn: 6, Failed: 11, TellTo: 13, AskTo: 14, Watch: 16, Terminated: 18, Seq: 22, Ack: 23 };

let server: NatsServer;
let system: ActorSystem;
let cluster: Cluster;
let b: PeerProcess;
let foreign: NatsConnection;
let rec: ReturnType<typeof system.spawn<RecorderMsg, undefined>>;
const letters: DeadLetter[] = [];
const dropped: DroppedFrame[] = [];
const errors: string[] = [];
/** Batches `a` sent to the forged member, decoded. */
const toForger: unknown[][] = [];

const forger = { node: 'forger', incarnation: randomBytes(8).toString('hex') };
let forgerSeq = 0;
let forgerOffset = 0;
let heartbeat: NodeJS.Timeout | undefined;

const logger: Logger = {
  debug: () => {},
  info: () => {},
  warn: (m) => errors.push(m),
  error: (m) => errors.push(m),
};

/** One batch from the forged member to `a`, in one DATA message (right sequence number and stream offset). */
async function forge(payload: Uint8Array): Promise<void> {
  forgerOffset += payload.length;
  foreign.publish(
    cluster.node.subjects.node('a'),
    frame(
      {
        cluster: CLUSTER,
        sender: forger.incarnation,
        target: cluster.node.incarnation,
        node: forger.node,
        seq: forgerSeq++,
        offset: forgerOffset,
      },
      payload,
    ),
  );
  await foreign.flush();
}

function done(p: PeerProcess, command: Record<string, unknown>): Promise<PeerEvent> {
  return p.call(command, 'done');
}

beforeAll(async () => {
  server = await startNatsServer();
  const options = { servers: server.url, cluster: CLUSTER };
  b = await PeerProcess.start({ ...options, node: 'b' }, { fixture: 'node' });
  system = await ActorSystem.start({ name: 'a', signals: false, logger });
  system.events.on('deadLetter', (l) => letters.push(l));
  cluster = await joinCluster(system, { ...options, node: 'a' });
  cluster.node.on('dropped', (d) => dropped.push(d));
  rec = system.spawn(Recorder, { name: 'rec' });
  foreign = await connect({ servers: server.url });
  foreign.subscribe(`troupe.${CLUSTER}.node.${forger.node}`, {
    callback: (_e, m) => {
      const f = readFrame(m.data);
      if (f.kind === 1) toForger.push(unpack(f.payload) as unknown[]); // packed or v8: the node picks
    },
  });
  await cluster.node.whenMember('b');
}, 60_000);

afterAll(async () => {
  clearInterval(heartbeat);
  await foreign?.close();
  await system?.shutdown();
  await b?.stop();
  await server?.close();
});

describe('an actor system receiving bad input from the network', () => {
  it('refuses a misspelt cluster option, naming it and the option meant (checked before anything else)', async () => {
    await expect(
      joinCluster(system, { servers: server.url, cluster: CLUSTER, node: 'x', leaveTimeout: 1 } as never),
    ).rejects.toThrow(/joinCluster: unknown option 'leaveTimeout' \(did you mean 'leaveTimeoutMs'\?\)/);
  });

  it('drops garbage and another cluster’s frames on its subjects with a counter and an event', async () => {
    const before = cluster.stats().droppedTotal;
    const subject = cluster.node.subjects.node('a');
    foreign.publish(subject, randomBytes(500));
    foreign.publish(subject, Buffer.from([0x54, 0x52, 1]));
    foreign.publish(
      subject,
      frame({ cluster: 'elsewhere', sender: forger.incarnation, target: cluster.node.incarnation, node: 'x' }),
    );
    foreign.publish(cluster.node.subjects.heartbeat, randomBytes(64));
    await foreign.flush();
    await eventually(() => (cluster.stats().droppedTotal >= before + 4 ? true : undefined), 5_000, 'four drops');
    expect(dropped.map((d) => d.reason)).toEqual(
      expect.arrayContaining(['foreign-magic', 'truncated', 'foreign-cluster']),
    );
  });

  it('turns a forged member’s bad batches into counted drops, dead letters and error replies, and goes on', async () => {
    // The forged member: heartbeats make it a member (only NATS authentication keeps such a client out).
    const beat = (hello: boolean) =>
      foreign.publish(
        cluster.node.subjects.heartbeat,
        frame({
          kind: 5,
          cluster: CLUSTER,
          sender: forger.incarnation,
          target: '0000000000000000',
          node: forger.node,
          seq: hello ? 1 : 0,
          total: 250,
        }),
      );
    beat(true);
    heartbeat = setInterval(() => beat(false), 250);
    await cluster.node.whenMember(forger.node, { timeoutMs: 5_000 });

    // Not a batch: dropped before the link sees it.
    await forge(serialize('not a batch'));
    await eventually(() => (cluster.stats().drops.undecodable ? true : undefined), 5_000, 'an undecodable drop');

    // An unknown opcode: the link drops the rest of that batch, and says so.
    await forge(serialize([99, 1, 2]));
    await eventually(() => (errors.some((e) => /unknown opcode 99/.test(e)) ? true : undefined), 5_000, 'opcode 99');

    // A tell for an actor that does not exist: a dead letter here.
    await forge(serialize([Op.Seq, 1, Op.TellTo, { $troupeRef: { path: '/user/nobody' } }, { type: 'hi' }]));
    await eventually(
      () => (letters.some((l) => l.recipient === '/user/nobody' && l.reason === 'unknown-actor') ? true : undefined),
      5_000,
      'the unknown-actor dead letter',
    );

    // An ask for an actor that does not exist: an error reply goes back to the asker.
    await forge(serialize([Op.Seq, 2, Op.AskTo, { $troupeRef: { path: '/user/nobody' } }, { type: 'q' }, 7]));
    const reply = await eventually(
      () =>
        toForger.flat().find((f) => typeof f === 'object' && (f as { name?: string })?.name === 'ActorNotFoundError'),
      5_000,
      'the error reply to the forged ask',
    );
    expect(reply).toMatchObject({ message: expect.stringContaining('/user/nobody') });
    expect(toForger.flat()).toEqual(expect.arrayContaining([Op.ReplyError, 7, Op.Ack, 2]));

    // A tell for an actor of another cluster: no route, a dead letter.
    const elsewhere = { $troupeRef: { path: '/user/rec', cluster: 'elsewhere', node: 'x', incarnation: 'ab' } };
    await forge(serialize([Op.TellTo, elsewhere, { type: 'seq', from: 'forger', n: 0 }]));
    await eventually(
      () => (letters.some((l) => l.recipient === '/user/rec' && l.reason === 'link-closed') ? true : undefined),
      5_000,
      'the dead letter for another cluster',
    );

    // A spawn naming a module to import: refused, nothing loaded, the proxy side told why.
    const self = {
      $troupeRef: { path: '/user/evil', uid: 'u1', cluster: CLUSTER, node: 'forger', incarnation: forger.incarnation },
    };
    const spawn = { handle: 1, module: 'file:///etc/passwd', exportName: 'x', name: 'evil', path: '/user/evil', self };
    await forge(serialize([Op.Spawn, { ...spawn, input: undefined, window: 10 }]));
    const failed = await eventually(
      () => {
        const flat = toForger.flat();
        const i = flat.indexOf(Op.Failed);
        return i >= 0 && flat[i + 1] === 1 ? (flat[i + 2] as { name: string; message: string }) : undefined;
      },
      5_000,
      'the refused spawn',
    );
    expect(failed.name).toBe('UnknownDefinitionError');
    expect(failed.message).toMatch(/does not load modules for peers/);

    // Fields of the wrong type: a counted drop, not a throw into the NATS client.
    const drops = cluster.stats().droppedTotal;
    await forge(serialize([Op.TellTo, null, { type: 'x' }, Op.Watch, 'garbage', 3]));
    await eventually(
      () => (cluster.stats().droppedTotal > drops || errors.some((e) => /malformed/.test(e)) ? true : undefined),
      5_000,
      'the wrong-typed frame counted',
    );

    // A well-formed tell from the forged member is delivered: it is a member, as far as anyone can tell.
    await forge(serialize([Op.TellTo, { $troupeRef: { path: '/user/rec' } }, { type: 'seq', from: 'forger', n: 0 }]));
    await eventually(
      async () => ((await rec.ask<Record<string, SeqRecord>>({ type: 'stats' })).forger ? true : undefined),
      5_000,
      'the forged tell',
    );

    // A burst of random frames with valid headers: counted, never a throw; the real peer is still served.
    for (let i = 0; i < 1_000; i++) await forge(randomBytes(i % 200));
    const echo = cluster.refOf<EchoMsg>((await done(b, { cmd: 'spawn', def: 'Echo', name: 'echo' })).address);
    expect(await echo.ask({ type: 'echo', value: 'after the garbage' })).toBe('after the garbage');
    expect(cluster.node.up).toBe(true);
    expect(cluster.stats().links.length).toBe(2);
  });
});
