import { describe, expect, it } from 'vitest';
import { clusterTag, controlFrame, decodeHeader, FIXED_HEADER, headerTemplate, Kind, stamp } from '../src/Envelope.js';

const A = '0123456789abcdef';
const B = 'fedcba9876543210';

describe('Envelope', () => {
  it('round-trips every header field', () => {
    const t = headerTemplate('prod', A, B, 'node-1');
    expect(t.length).toBe(FIXED_HEADER + 6);
    const buf = Buffer.concat([t, Buffer.from('payload')]);
    stamp(buf, 0, Kind.Data, 4_000_000_000, 7, 9, 2 ** 40 + 3, 123_456);
    const h = decodeHeader(buf);
    expect(h).toEqual({
      kind: Kind.Data,
      clusterTag: clusterTag('prod'),
      sender: A,
      target: B,
      seq: 4_000_000_000,
      index: 7,
      count: 9,
      offset: 2 ** 40 + 3,
      total: 123_456,
      senderNode: 'node-1',
      payloadStart: FIXED_HEADER + 6,
    });
  });

  it('names what is wrong with a message that is not a frame, and never throws', () => {
    const good = controlFrame(headerTemplate('c', A, B, 'n'), Kind.Credit, { offset: 5 });
    expect(decodeHeader(new Uint8Array(0))).toBe('truncated');
    expect(decodeHeader(Buffer.from('hello world, this is not a troupe frame at all!!'))).toBe('foreign-magic');
    expect(decodeHeader(good.subarray(0, 20))).toBe('truncated');
    expect(decodeHeader(good.subarray(0, FIXED_HEADER))).toBe('truncated'); // name missing
    const v = Buffer.from(good);
    v[2] = 1; // the version before the packed payloads
    expect(decodeHeader(v)).toBe('unsupported-version');
    const k = Buffer.from(good);
    k[3] = 0;
    expect(decodeHeader(k)).toBe('bad-kind');
    const n = Buffer.from(good);
    n[44] = 0;
    expect(decodeHeader(n)).toBe('bad-node-name');
    for (let i = 0; i < 2_000; i++) {
      const junk = Buffer.concat([
        Buffer.from([0x54, 0x52, 1]),
        Buffer.from(Array.from({ length: i % 90 }, (_, j) => (i * 31 + j * 7) & 0xff)),
      ]);
      expect(() => decodeHeader(junk)).not.toThrow();
    }
  });

  it('tags clusters by a 32-bit FNV-1a hash of the name', () => {
    expect(clusterTag('')).toBe(0x811c9dc5);
    expect(clusterTag('a')).toBe(0xe40c292c);
    expect(clusterTag('prod')).not.toBe(clusterTag('prod2'));
  });
});
