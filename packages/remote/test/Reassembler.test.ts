import { describe, expect, it } from 'vitest';
import type { Header } from '../src/Envelope.js';
import { Reassembler } from '../src/Reassembler.js';

const h = (seq: number, index: number, count: number, total: number): Header => ({
  kind: 1,
  clusterTag: 0,
  sender: '0',
  target: '0',
  seq,
  index,
  count,
  offset: 0,
  total,
  senderNode: 'n',
  payloadStart: 0,
});
const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

describe('Reassembler', () => {
  it('puts a batch back together from its chunks, in order', () => {
    const r = new Reassembler(1000, 1000);
    expect(r.accept(h(1, 0, 3, 6), bytes(2, 1), 0)).toEqual({});
    expect(r.accept(h(1, 1, 3, 6), bytes(2, 2), 0)).toEqual({});
    expect(r.pendingBytes).toBe(4);
    const done = r.accept(h(1, 2, 3, 6), bytes(2, 3), 0);
    expect([...(done.complete ?? [])]).toEqual([1, 1, 2, 2, 3, 3]);
    expect(r.pendingBytes).toBe(0);
  });

  it('copies the parts, so a reused receive buffer cannot corrupt them', () => {
    const r = new Reassembler(1000, 1000);
    const shared = bytes(2, 7);
    r.accept(h(1, 0, 2, 4), shared, 0);
    shared.fill(0);
    expect([...(r.accept(h(1, 1, 2, 4), bytes(2, 8), 0).complete ?? [])]).toEqual([7, 7, 8, 8]);
  });

  it('refuses a declared total over the limit at the first chunk, holding nothing', () => {
    const r = new Reassembler(100, 1000);
    expect(r.accept(h(1, 0, 2, 101), bytes(50, 0), 0).dropped?.[0]?.reason).toBe('oversize');
    expect(r.pendingBytes).toBe(0);
  });

  it('drops the partial batch when the next chunk does not continue it', () => {
    const r = new Reassembler(1000, 1000);
    r.accept(h(1, 0, 3, 6), bytes(2, 1), 0);
    const out = r.accept(h(1, 2, 3, 6), bytes(2, 3), 0); // chunk 1 lost
    expect(out.dropped?.map((d) => d.reason)).toEqual(['incomplete', 'out-of-order']);
    expect(r.pendingBytes).toBe(0);
    // A new batch starts cleanly after.
    expect(r.accept(h(2, 0, 1, 2), bytes(2, 9), 0).complete).toBeDefined();
  });

  it('drops chunks whose sizes disagree with the declared total', () => {
    const r = new Reassembler(1000, 1000);
    expect(r.accept(h(1, 0, 1, 5), bytes(4, 0), 0).dropped?.[0]?.reason).toBe('malformed');
    r.accept(h(2, 0, 2, 5), bytes(4, 0), 0);
    expect(r.accept(h(2, 1, 2, 5), bytes(4, 0), 0).dropped?.some((d) => d.reason === 'malformed')).toBe(true);
    r.accept(h(3, 0, 2, 9), bytes(4, 0), 0);
    expect(r.accept(h(3, 1, 2, 9), bytes(4, 0), 0).dropped?.[0]?.reason).toBe('malformed'); // 8 of 9 arrived
  });

  it('drops a partial batch older than the timeout', () => {
    const r = new Reassembler(1000, 500);
    r.accept(h(1, 0, 3, 6), bytes(2, 1), 1_000);
    expect(r.expire(1_400)).toEqual([]);
    expect(r.expire(1_501)[0]?.reason).toBe('reassembly-timeout');
    expect(r.pendingBytes).toBe(0);
  });
});
