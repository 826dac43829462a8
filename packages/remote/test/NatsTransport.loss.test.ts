/**
 * Loss accounting of a NatsTransport pair, in memory: two real transports whose
 * published messages go through a "network" the test controls (deliver, drop,
 * hold), so a test can lose exactly the frames it names. What a real server
 * adds (order per publisher) the network keeps: it delivers in publish order.
 */
import { TestClock } from '@troupe/core/testing';
import { describe, expect, it } from 'vitest';
import { decodeHeader, Kind } from '../src/Envelope.js';
import { NatsTransport } from '../src/NatsTransport.js';
import { resolveTransportOptions } from '../src/TransportOptions.js';

interface Side {
  t: NatsTransport;
  got: unknown[];
  status: string[];
  /** What this side's link heard of inbound loss (onLoss). */
  losses: string[];
}

/** a -> b and b -> a, with a switch that loses what a publishes while it is on. */
function pair(options: Parameters<typeof resolveTransportOptions>[0]) {
  const clock = new TestClock();
  let losing = false;
  const lost: number[] = [];
  const sides: Record<'a' | 'b', Side> = {} as never;
  const route = (to: 'a' | 'b', data: Uint8Array) => {
    const h = decodeHeader(data);
    if (typeof h === 'string') throw new Error(`bad frame: ${h}`);
    sides[to].t.receive(h, data);
  };
  const make = (me: 'a' | 'b', peer: 'a' | 'b'): Side => {
    const side: Side = { t: undefined as never, got: [], status: [], losses: [] };
    side.t = new NatsTransport({
      cluster: 'loss',
      localNode: me,
      localIncarnation: me === 'a' ? 'aaaaaaaaaaaaaaaa' : 'bbbbbbbbbbbbbbbb',
      peerNode: peer,
      peerIncarnation: peer === 'a' ? 'aaaaaaaaaaaaaaaa' : 'bbbbbbbbbbbbbbbb',
      subject: `troupe.loss.node.${peer}`,
      publish: (_subject, data) => {
        if (me === 'a' && losing) {
          const h = decodeHeader(data);
          if (typeof h !== 'string' && h.kind === Kind.Data) lost.push(h.seq);
          return;
        }
        // Delivered after the publisher returns, in order, as a server would.
        queueMicrotask(() => route(peer, data));
      },
      maxPayload: () => 1024 * 1024,
      up: true,
      options: resolveTransportOptions(options),
      clock,
      drop: () => {},
      warn: () => {},
      closed: () => {},
    });
    side.t.onBatch((batch) => side.got.push(batch[0]));
    side.t.onStatus((up, detail) => side.status.push(`${up ? 'up' : 'down'}: ${detail}`));
    side.t.onLoss((detail) => side.losses.push(detail));
    return side;
  };
  sides.a = make('a', 'b');
  sides.b = make('b', 'a');
  return {
    a: sides.a,
    b: sides.b,
    clock,
    /** Batch numbers of the data a published while losing. */
    lost,
    lose: (on: boolean) => {
      losing = on;
    },
  };
}

const settle = () => new Promise<void>((r) => setTimeout(r, 0));
/** A batch of about `bytes` bytes whose first element is `n`. */
const batch = (n: number, bytes: number) => [n, 'x'.repeat(bytes)];

describe('NatsTransport loss accounting (in memory)', () => {
  it('a stall SYNC sent while later batches still wait for credit reports the loss once, and counts exactly the batches lost', async () => {
    const { a, b, clock, lose, lost } = pair({ windowBytes: 1024, stallMs: 100 });
    a.t.post(batch(0, 100));
    await settle();
    expect(b.got).toEqual([0]);
    // The first batches are published and lost until the window is full; the rest wait in the queue for credit.
    lose(true);
    for (let n = 1; n <= 9; n++) expect(a.t.post(batch(n, 300))).toBe(true);
    lose(false);
    await settle();
    expect(lost.length).toBeGreaterThanOrEqual(2);
    expect(a.t.stats().queuedBytes).toBeGreaterThan(0);
    // The sender stalls; its SYNC tells the receiver what was sent; the credit that comes back lets 4-9 go.
    clock.advance(150);
    a.t.tick(clock.now());
    for (let i = 0; i < 20; i++) {
      await settle();
      clock.advance(150);
      a.t.tick(clock.now());
      b.t.tick(clock.now());
    }
    expect(b.got).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9].filter((n) => !lost.includes(n)));
    expect(b.t.stats()).toMatchObject({ lostBatches: lost.length, lostReported: 1 });
    expect(a.t.stats().lostToldByPeer).toBe(1);
    expect(a.status).toHaveLength(2);
    // The receiver's own link hears of it too (once), so it can ask for what it missed.
    expect(b.losses).toHaveLength(1);
    expect(a.losses).toEqual([]);
  });

  it('finds a lost last batch: bytes in flight with no credit for stallMs make a SYNC though nothing waits in the queue', async () => {
    const { a, b, clock, lose, lost } = pair({ stallMs: 100 });
    a.t.post(batch(0, 100));
    await settle();
    // The last batch is lost and nothing follows it: no gap would ever show it.
    lose(true);
    expect(a.t.post(batch(1, 100))).toBe(true);
    lose(false);
    await settle();
    expect(lost).toEqual([1]);
    expect(a.t.stats().queuedBytes).toBe(0);
    expect(a.t.stats().inFlightBytes).toBeGreaterThan(0);
    for (let i = 0; i < 5; i++) {
      clock.advance(60);
      a.t.tick(clock.now());
      b.t.tick(clock.now());
      await settle();
    }
    expect(a.t.stats().syncsSent).toBeGreaterThan(0);
    expect(b.t.stats()).toMatchObject({ lostBatches: 1, lostReported: 1 });
    expect(b.losses).toHaveLength(1);
    expect(a.t.stats().lostToldByPeer).toBe(1);
    expect(a.t.stats().inFlightBytes).toBe(0);
    // Nothing lost after: no more SYNCs than the one, and nothing more reported.
    const syncs = a.t.stats().syncsSent;
    for (let i = 0; i < 5; i++) {
      clock.advance(150);
      a.t.tick(clock.now());
      b.t.tick(clock.now());
      await settle();
    }
    expect(a.t.stats().syncsSent).toBe(syncs);
    expect(b.t.stats().lostReported).toBe(1);
  });

  it('a partial batch dropped at the reassembly timeout and the gap it leaves count as one lost batch', async () => {
    // maxPayload small enough that batch 1 is cut into chunks; only its first chunk gets through.
    const { a, b, clock } = pair({ reassemblyTimeoutMs: 1_000 });
    a.t.post(batch(0, 10));
    await settle();
    const t = a.t as unknown as { deps: { maxPayload: () => number; publish: (s: string, d: Uint8Array) => void } };
    const publish = t.deps.publish;
    let chunks = 0;
    t.deps.maxPayload = () => 512;
    t.deps.publish = (s, d) => {
      if (chunks++ === 0) publish(s, d);
    };
    a.t.post(batch(1, 2_000));
    t.deps.publish = publish;
    t.deps.maxPayload = () => 1024 * 1024;
    await settle();
    clock.advance(1_500);
    b.t.tick(clock.now());
    expect(b.t.stats().lostBatches).toBe(1);
    a.t.post(batch(2, 10));
    await settle();
    expect(b.got).toEqual([0, 2]);
    expect(b.t.stats().lostBatches).toBe(1);
    expect(b.t.stats().lostReported).toBe(1);
  });
});
