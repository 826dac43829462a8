/**
 * The Transport contract of NatsTransport, between two nodes in this process
 * on a real nats-server: errors at the sender, pause/resume, close from either
 * side, and posts after close.
 */

import { serialize } from 'node:v8';
import { connect } from '@nats-io/transport-node';
import {
  BatchTooLargeError,
  type NatsTransport,
  Node,
  UnknownNodeError,
  UnserializableBatchError,
} from '@troupe/remote';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { frame } from './helpers/frames.js';
import { type NatsServer, startNatsServer } from './helpers/NatsServer.js';
import { eventually } from './helpers/PeerProcess.js';

let server: NatsServer;
let n = 0;
const nodes: Node[] = [];

beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await Promise.all(nodes.map((x) => x.leave({ timeoutMs: 1_000 })));
  await server?.close();
});

/** Two fresh nodes and the pair's transport on each side (b's made by a's first frame). */
async function pair(
  transport = {},
): Promise<{ a: Node; b: Node; ab: NatsTransport; ba: () => Promise<NatsTransport> }> {
  const cluster = `api${n++}`;
  const a = await Node.join({ servers: server.url, cluster, node: 'a', registry: false, transport });
  const b = await Node.join({ servers: server.url, cluster, node: 'b', registry: false, transport });
  nodes.push(a, b);
  await a.whenMember('b');
  let made: NatsTransport | undefined;
  b.on('transport', (t) => {
    made = t;
  });
  const ab = a.transport('b');
  return { a, b, ab, ba: () => eventually(() => made, 5_000, 'the transport at b') };
}

describe('NatsTransport', () => {
  it('throws UnserializableBatchError at the sender for a function, and sends nothing', async () => {
    const { ab } = await pair();
    expect(() => ab.post([1, () => 1])).toThrow(UnserializableBatchError);
    expect(() => ab.post([1, () => 1])).toThrow(/node b \(incarnation [0-9a-f]{16}\)/);
    expect(ab.stats().postedBatches).toBe(0);
    expect(ab.stats().chunksPublished).toBe(0);
  });

  it('throws BatchTooLargeError at the sender for a batch over maxBatchBytes', async () => {
    const { ab } = await pair({ maxBatchBytes: 100_000 });
    expect(() => ab.post([new Uint8Array(200_000)])).toThrow(BatchTooLargeError);
    expect(() => ab.post([new Uint8Array(200_000)])).toThrow(/limit is 100000 bytes/);
    expect(ab.stats().postedBatches).toBe(0);
  });

  it('refuses posts once its queue is full (the peer gives no credit), without serialising them, until it is down to half', async () => {
    const { ab, ba } = await pair({ windowBytes: 64 * 1024, maxQueuedBytes: 256 * 1024, maxBatchBytes: 128 * 1024 });
    expect(ab.post([0])).toBe(true);
    const far = await ba();
    const got: unknown[] = [];
    far.onBatch((batch) => got.push(batch[0]));
    far.pause();
    let accepted = 1;
    while (ab.post([accepted, new Uint8Array(32 * 1024)])) accepted++;
    expect(ab.stats().refusedQueueFull).toBe(1);
    // Full until the queue is down to half: refused at once, before the serialiser would throw on the function.
    expect(ab.post([1, () => 1])).toBe(false);
    expect(ab.post([accepted, new Uint8Array(10)])).toBe(false);
    expect(ab.stats().refusedQueueFull).toBe(3);
    far.resume();
    await eventually(() => (got.length === accepted ? true : undefined), 10_000, 'every accepted batch');
    expect(got).toEqual(Array.from({ length: accepted }, (_, i) => i));
    expect(ab.post([accepted])).toBe(true);
  });

  it('carries packed and v8 batches alike, in order, a packed batch over max_payload in chunks', async () => {
    const { ab, ba } = await pair({ maxMessageBytes: 4096 });
    const plain = (i: number) => [1, 7, { type: 'inc', n: i, tag: `t${i % 5}`, nested: { list: [i, -0, 'é'] } }];
    // 5000 plain frames: packed, about 100 kB, so many 4 kB chunks.
    const big: unknown[] = [];
    for (let i = 0; i < 5000; i++) big.push(...plain(i));
    const sent: unknown[][] = [plain(0), [2, { bytes: new Uint8Array([1, 2, 3]), when: new Date(5) }], big, plain(1)];
    ab.post(sent[0] as unknown[]);
    const t = await ba();
    const got: unknown[][] = [];
    t.onBatch((batch) => got.push(batch));
    for (const b of sent.slice(1)) ab.post(b);
    await eventually(() => (got.length === sent.length ? true : undefined), 10_000, 'every batch');
    expect(got).toEqual(sent);
    const first = (got[2] as unknown[])[2] as { nested: { list: unknown[] } };
    expect(Object.is(first.nested.list[1], -0)).toBe(true);
    expect(ab.stats().chunksPublished).toBeGreaterThan(20);
    // Packed, not v8: the plain batches are well under what v8 makes of them.
    const v8Bytes = sent.reduce((t, b) => t + serialize(b).length, 0);
    expect(ab.stats().postedBytes).toBeLessThan(0.8 * v8Bytes);
  });

  it('keeps batches in a backlog while paused, and delivers them in order on resume', async () => {
    const { ab, ba } = await pair();
    ab.post([0]);
    const t = await ba();
    const got: unknown[] = [];
    t.onBatch((batch) => got.push(batch[0]));
    await eventually(() => (got.length === 1 ? true : undefined), 5_000, 'first');
    t.pause();
    for (let i = 1; i <= 20; i++) ab.post([i]);
    await eventually(() => (t.stats().backlogBatches === 20 ? true : undefined), 5_000, 'backlog of 20');
    expect(got).toEqual([0]);
    t.resume();
    expect(got).toEqual([...Array(21).keys()]);
  });

  it('closes both sides as closed when one side closes, once, and refuses posts after', async () => {
    const { a, ab, ba } = await pair();
    ab.post([1]);
    const t = await ba();
    t.onBatch(() => {});
    const closes: string[] = [];
    t.onClose((c) => closes.push(`b:${c.reason}`));
    ab.onClose((c) => closes.push(`a:${c.reason}`));
    ab.close('done here');
    ab.close('twice');
    await eventually(() => (closes.length === 2 ? true : undefined), 5_000, 'both closed');
    expect(closes.sort()).toEqual(['a:closed', 'b:closed']);
    expect(ab.up).toBe(false);
    expect(ab.post([2])).toBe(false);
    expect(t.post([2])).toBe(false);
    // A pair is one-shot: the closed pair cannot be reopened.
    expect(() => a.transport('b')).toThrow(UnknownNodeError);
    // A late onClose listener still hears about it.
    const late = await new Promise((r) => ab.onClose(r));
    expect(late).toMatchObject({ reason: 'closed', detail: expect.stringContaining('done here') });
  });

  it('closes a pair whose backlog nobody takes within reassemblyTimeoutMs of the peer closing it', async () => {
    const { ab, ba } = await pair({ reassemblyTimeoutMs: 500 });
    ab.post([1]);
    const t = await ba(); // no receiver attached: the batch waits in the backlog
    ab.close('bye');
    const closed = await new Promise<{ reason: string }>((r) => t.onClose(r));
    expect(closed.reason).toBe('closed');
    expect(t.stats().undeliveredOnClose).toBe(1);
  });

  it('tells the sender when batches went missing while both sides were up, and the sender reports it to its link as a brief outage', async () => {
    const { a, b, ab, ba } = await pair();
    const status: string[] = [];
    ab.onStatus((up, detail) => status.push(`${up ? 'up' : 'down'}: ${detail}`));
    ab.post([0]);
    const t = await ba();
    const got: unknown[] = [];
    t.onBatch((batch) => got.push(batch[0]));
    await eventually(() => (got.length === 1 ? true : undefined), 5_000, 'batch 0');
    // Batches 1-3 never arrive (as when one side reconnected before the other); batch 4 does.
    const raw = await connect({ servers: server.url });
    try {
      const payload = serialize([4]);
      raw.publish(
        b.subjects.node('b'),
        frame(
          { cluster: a.cluster, sender: a.incarnation, target: b.incarnation, node: 'a', seq: 4, offset: 1e6 },
          payload,
        ),
      );
      await raw.flush();
    } finally {
      await raw.close();
    }
    await eventually(() => (status.length === 2 ? true : undefined), 5_000, 'the sender told of the loss');
    expect(got).toEqual([0, 4]);
    expect(t.stats()).toMatchObject({ lostBatches: 3, lostReported: 1 });
    expect(ab.stats().lostToldByPeer).toBe(1);
    expect(status[0]).toMatch(/^down: node b .*lost in transit \(3 batch\(es\) before batch 4 did not arrive\)/);
    expect(status[1]).toMatch(/^up: /);
    expect(ab.up).toBe(true);
  });

  it('reports one gap once: a SYNC that shows the loss first and the batch after it make one LOST, not two', async () => {
    const { a, b, ab, ba } = await pair();
    const status: string[] = [];
    ab.onStatus((up, detail) => status.push(`${up ? 'up' : 'down'}: ${detail}`));
    ab.post([0]);
    const t = await ba();
    const got: unknown[] = [];
    t.onBatch((batch) => got.push(batch[0]));
    await eventually(() => (got.length === 1 ? true : undefined), 5_000, 'batch 0');
    // Batches 1-3 never arrive; the sender's SYNC (next batch 4, offset past them) does, then batch 4.
    const raw = await connect({ servers: server.url });
    const head = { cluster: a.cluster, sender: a.incarnation, target: b.incarnation, node: 'a' };
    try {
      raw.publish(b.subjects.node('b'), frame({ ...head, kind: 3, seq: 4, offset: 1e6 }));
      const payload = serialize([4]);
      raw.publish(b.subjects.node('b'), frame({ ...head, seq: 4, offset: 1e6 + payload.length }, payload));
      await raw.flush();
    } finally {
      await raw.close();
    }
    await eventually(() => (got.length === 2 ? true : undefined), 5_000, 'batch 4');
    // Give a second LOST (the old behaviour) time to arrive before counting.
    await new Promise((r) => setTimeout(r, 300));
    expect(got).toEqual([0, 4]);
    expect(t.stats()).toMatchObject({ lostBatches: 3, lostReported: 1 });
    expect(ab.stats().lostToldByPeer).toBe(1);
    expect(status).toHaveLength(2);
    expect(status[0]).toMatch(/^down: node b .*lost in transit \(bytes .* did not arrive \(batch 1 onwards\)\)/);
  });

  it('refuses a transport to itself or to a node it never saw, naming why', async () => {
    const { a } = await pair();
    expect(() => a.transport('a')).toThrow(/that is this node itself/);
    expect(() => a.transport('zed')).toThrow(/no heartbeat from it has been seen/);
  });
});
