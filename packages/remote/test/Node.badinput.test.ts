/**
 * Bad input from the network (RELIABILITY 21): a foreign raw NATS client
 * publishes garbage, truncated, foreign, oversize, out-of-order and replayed
 * frames on a node's subjects. Each is dropped with the right reason, counted
 * and reported; the node keeps working and holds no partial batch after.
 *
 * The frames are built here by hand from the layout in the README, not with
 * the package's encoder, so this also checks the documented format.
 */
import { createHash, randomBytes } from 'node:crypto';
import { serialize } from 'node:v8';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { type DroppedFrame, Node } from '@troupe/remote';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { frame as buildFrame, type Fields } from './helpers/frames.js';
import { type NatsServer, startNatsServer } from './helpers/NatsServer.js';
import { eventually } from './helpers/PeerProcess.js';

const CLUSTER = 'badinput';
let server: NatsServer;
let victim: Node; // the node under attack
let honest: Node; // a real peer whose traffic must keep flowing
let forged: Node; // a real member whose identity the foreign client forges
let foreign: NatsConnection;
const dropped: DroppedFrame[] = [];

/** A frame per the documented envelope, from the forged member to the victim unless told otherwise. */
function frame(f: Partial<Fields>, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  return buildFrame(
    { cluster: CLUSTER, sender: forged.incarnation, target: victim.incarnation, node: forged.name, ...f },
    payload,
  );
}

/** Forged DATA frames need increasing stream offsets to get past the replay check. */
let forgedOffset = 1_000_000_000;
function data(f: Partial<Fields>, payload: Uint8Array): Uint8Array {
  forgedOffset += payload.length + 1;
  return frame({ offset: forgedOffset, ...f }, payload);
}

async function publish(msg: Uint8Array, subject = victim.subjects.node(victim.name)): Promise<void> {
  foreign.publish(subject, msg);
  await foreign.flush();
}

/** Publish, then wait for the victim to count one more drop for `reason`. */
async function expectDrop(reason: string, msg: Uint8Array, subject?: string): Promise<DroppedFrame> {
  const before = victim.stats().drops[reason as keyof ReturnType<Node['stats']>['drops']] ?? 0;
  const seen = dropped.length;
  await publish(msg, subject);
  return eventually(
    () => {
      const now = victim.stats().drops[reason as keyof ReturnType<Node['stats']>['drops']] ?? 0;
      return now > before ? dropped.slice(seen).find((d) => d.reason === reason) : undefined;
    },
    5_000,
    `a '${reason}' drop`,
  );
}

beforeAll(async () => {
  server = await startNatsServer();
  const join = (node: string, extra = {}) =>
    Node.join({ servers: server.url, cluster: CLUSTER, node, registry: false, ...extra });
  victim = await join('victim', { transport: { reassemblyTimeoutMs: 300, maxBatchBytes: 1024 * 1024 } });
  honest = await join('honest');
  forged = await join('forged');
  victim.on('dropped', (d) => dropped.push(d));
  await victim.whenMember('honest');
  await victim.whenMember('forged');
  foreign = await connect({ servers: server.url });
});

afterAll(async () => {
  await foreign?.close();
  for (const n of [victim, honest, forged]) await n?.leave({ timeoutMs: 1_000 });
  await server?.close();
});

describe('a node receiving bad input from the network', () => {
  it('drops random bytes as foreign-magic, naming the subject', async () => {
    const d = await expectDrop('foreign-magic', Buffer.concat([Buffer.from([0xde, 0xad]), randomBytes(1000)]));
    expect(d.subject).toBe(`troupe.${CLUSTER}.node.victim`);
    expect(d.bytes).toBe(1002);
  });

  it('drops empty and truncated messages as truncated', async () => {
    await expectDrop('truncated', new Uint8Array(0));
    await expectDrop('truncated', Buffer.from([0x54, 0x52, 1, 1, 0, 0]));
    await expectDrop('truncated', frame({}).subarray(0, 50));
  });

  it('drops an unknown version or kind', async () => {
    await expectDrop('unsupported-version', frame({ version: 9 }));
    // Version 1 nodes sent only v8 payloads and could not read packed ones: the two never pair up.
    await expectDrop('unsupported-version', frame({ version: 1 }));
    // Version 2 nodes could not read shaped objects in packed payloads, nor core's Recount frames.
    await expectDrop('unsupported-version', frame({ version: 2 }));
    await expectDrop('bad-kind', frame({ kind: 99 }));
    await expectDrop('bad-node-name', frame({ node: 'no spaces' }));
  });

  it('drops frames from another cluster, also on the heartbeat subject', async () => {
    await expectDrop('foreign-cluster', frame({ cluster: 'elsewhere' }));
    const d = await expectDrop('foreign-cluster', frame({ cluster: 'elsewhere', kind: 5 }), victim.subjects.heartbeat);
    expect(d.subject).toBe(`troupe.${CLUSTER}.hb`);
    // A foreign heartbeat does not make a member.
    expect(
      victim
        .members()
        .map((m) => m.node)
        .sort(),
    ).toEqual(['forged', 'honest']);
  });

  it('drops frames for another incarnation of this node (a late frame for its previous run) as stale-target', async () => {
    const d = await expectDrop('stale-target', data({ target: randomBytes(8).toString('hex') }, serialize([1])));
    expect(d.from).toBe(`forged/${forged.incarnation}`);
  });

  it('drops frames from an incarnation it never heard a heartbeat from as unknown-sender', async () => {
    await expectDrop('unknown-sender', data({ sender: randomBytes(8).toString('hex'), node: 'ghost' }, serialize([1])));
  });

  it('drops a batch that declares more than maxBatchBytes at its first chunk, without buffering it', async () => {
    const d = await expectDrop('oversize', data({ seq: 1, index: 0, count: 2000, total: 2 ** 31 }, randomBytes(500)));
    expect(d.detail).toContain('maxBatchBytes');
  });

  it('drops payloads that are not a serialised batch as undecodable', async () => {
    await expectDrop('undecodable', data({ seq: 2 }, randomBytes(64)));
    await expectDrop('undecodable', data({ seq: 3 }, serialize({ not: 'an array' })));
    // v8 bytes claiming a dense array of 2^32 - 1 elements: refused, not allocated.
    await expectDrop('undecodable', data({ seq: 4 }, Buffer.from([0xff, 0x0f, 0x41, 0xff, 0xff, 0xff, 0xff, 0x0f])));
    // The same claim in the packed format (0x01, array tag 12, varint length), and a packed value that is no array.
    const hugeArray = await expectDrop(
      'undecodable',
      data({ seq: 5 }, Buffer.from([0x01, 12, 0xff, 0xff, 0xff, 0xff, 0x0f])),
    );
    expect(hugeArray.detail).toMatch(/array of 4294967295 elements/);
    await expectDrop('undecodable', data({ seq: 6 }, Buffer.from([0x01, 0x81])));
  });

  it('drops chunks that do not continue a batch, and a chunk that disagrees with its declared size', async () => {
    await expectDrop('out-of-order', data({ seq: 5, index: 1, count: 3, total: 300 }, randomBytes(100)));
    await expectDrop('malformed', data({ seq: 6, index: 0, count: 1, total: 1000 }, randomBytes(10)));
  });

  it('drops a replayed chunk (an offset it has already passed)', async () => {
    const msg = data({ seq: 7 }, serialize([7, 'once']));
    await publish(msg);
    await expectDrop('replayed', msg);
  });

  it('drops a partial batch whose other chunks never come, after the reassembly timeout', async () => {
    const d = await expectDrop(
      'reassembly-timeout',
      data({ seq: 8, index: 0, count: 3, total: 300 }, randomBytes(100)),
    );
    expect(d.detail).toContain('1/3 chunks');
    expect(victim.transportStats()[`node forged (incarnation ${forged.incarnation})`]?.lostBatches).toBeGreaterThan(0);
  });

  it('survives a burst of 2 000 random frames with valid headers, then still delivers honest traffic in order', async () => {
    const before = victim.stats().droppedTotal;
    for (let i = 0; i < 2_000; i++) {
      const kind = 1 + (i % 7);
      foreign.publish(
        victim.subjects.node(victim.name),
        data({ kind, seq: i, index: i % 5, count: 1 + (i % 9), total: i * 37 }, randomBytes(i % 300)),
      );
    }
    await foreign.flush();
    await eventually(() => (victim.stats().droppedTotal > before ? true : undefined), 5_000, 'drops counted');
    const got: unknown[] = [];
    victim.on('transport', (t) => {
      if (t.peerNode === 'honest') t.onBatch((b) => got.push(b[0]));
    });
    const t = honest.transport('victim');
    for (let i = 0; i < 100; i++) expect(t.post([i, createHash('sha1').update(String(i)).digest('hex')])).toBe(true);
    await eventually(() => (got.length === 100 ? true : undefined), 10_000, 'honest batches');
    expect(got).toEqual([...Array(100).keys()]);
    expect(victim.up).toBe(true);
  });

  it('drops data from a member that has left as dead-sender', async () => {
    const inc = forged.incarnation;
    await forged.leave({ timeoutMs: 1_000 });
    await eventually(() => (victim.members().some((m) => m.incarnation === inc) ? undefined : true), 5_000, 'left');
    await expectDrop('dead-sender', data({ sender: inc, node: 'forged' }, serialize([1])));
  });
});
