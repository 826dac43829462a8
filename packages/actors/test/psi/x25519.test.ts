import { createHash } from 'node:crypto';
import { x25519 as noble } from '@noble/curves/ed25519.js';
import {
  clampScalar,
  generateKey,
  hashPackedToPoints,
  hashToPoint,
  joinKeyColumns,
  LowOrderPointError,
  mask,
  maskBatch,
  X25519_BYTES,
  type X25519BackendName,
  x25519BackendName,
  zeroKey,
} from '@troupe/actors';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const BACKENDS: X25519BackendName[] = ['sodium-native', 'node-crypto'];

// RFC 7748 section 5.2.
const VECTORS = [
  {
    scalar: 'a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4',
    u: 'e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c',
    out: 'c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552',
  },
  {
    scalar: '4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d',
    u: 'e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493',
    out: '95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957',
  },
];
const NINE = '0900000000000000000000000000000000000000000000000000000000000000';

describe('the default X25519 backend', () => {
  it('is sodium-native, which ships a prebuilt binary for this platform', () => {
    expect(x25519BackendName()).toBe('sodium-native');
  });
});

describe.each(BACKENDS)('maskBatch with %s', (backend) => {
  const opts = { backend };

  it('matches the RFC 7748 section 5.2 single-shot vectors', () => {
    for (const v of VECTORS) {
      expect(toHex(mask(hex(v.scalar), hex(v.u), opts))).toBe(v.out);
    }
  });

  it('matches the RFC 7748 section 5.2 iterated vector after 1 and 1000 iterations', () => {
    let k: Uint8Array = hex(NINE);
    let u: Uint8Array = hex(NINE);
    const after = new Map<number, string>();
    for (let i = 1; i <= 1000; i++) {
      const r = mask(k, u, opts);
      u = k;
      k = r;
      if (i === 1 || i === 1000) after.set(i, toHex(k));
    }
    expect(after.get(1)).toBe('422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079');
    expect(after.get(1000)).toBe('684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51');
  });

  it('matches the RFC 7748 section 6.1 Diffie-Hellman vector', () => {
    const a = hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
    const b = hex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb');
    const pubA = mask(a, hex(NINE), opts);
    const pubB = mask(b, hex(NINE), opts);
    expect(toHex(pubA)).toBe('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
    expect(toHex(pubB)).toBe('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
    const shared = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';
    expect(toHex(mask(a, pubB, opts))).toBe(shared);
    expect(toHex(mask(b, pubA, opts))).toBe(shared);
  });

  it('commutes: masking with a then b equals masking with b then a, for any items and keys', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string(), { minLength: 1, maxLength: 8 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        (items, ra, rb) => {
          const a = clampScalar(Uint8Array.from(ra));
          const b = clampScalar(Uint8Array.from(rb));
          const points = hashToPoint(items);
          const ab = maskBatch(b, maskBatch(a, points, undefined, opts), undefined, opts);
          const ba = maskBatch(a, maskBatch(b, points, undefined, opts), undefined, opts);
          expect(toHex(ab)).toBe(toHex(ba));
        },
      ),
      { numRuns: 50 },
    );
  });

  it('agrees with @noble/curves on random keys and points, including u with the top bit set', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { minLength: 1, maxLength: 6 }),
        (k, us) => {
          const input = new Uint8Array(us.length * 32);
          for (const [i, u] of us.entries()) input.set(u, i * 32);
          let expected: string;
          try {
            expected = us.map((u) => toHex(noble.scalarMult(k, u))).join('');
          } catch {
            return; // noble also rejects low-order points; random ones practically never are
          }
          expect(toHex(maskBatch(k, input, undefined, opts))).toBe(expected);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('masks in place when out is the input array', () => {
    const key = generateKey();
    const points = hashToPoint(['x', 'y', 'z']);
    const expected = toHex(maskBatch(key, points, undefined, opts));
    expect(maskBatch(key, points, points, opts)).toBe(points);
    expect(toHex(points)).toBe(expected);
  });

  it('throws LowOrderPointError naming the index of a low-order point in the batch', () => {
    const key = generateKey();
    const input = hashToPoint(['a', 'b', 'c']);
    input.fill(0, 32, 64); // point #1 := u = 0
    const err = (() => {
      try {
        maskBatch(key, input, undefined, opts);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(LowOrderPointError);
    expect((err as LowOrderPointError).index).toBe(1);
    expect((err as LowOrderPointError).code).toBe('ERR_X25519_LOW_ORDER_POINT');
    const one = new Uint8Array(32);
    one[0] = 1;
    expect(() => mask(key, one, opts)).toThrow(LowOrderPointError);
  });
});

describe('clampScalar and generateKey', () => {
  it('clamps as RFC 7748: low three bits and the top bit cleared, bit 254 set', () => {
    const s = clampScalar(new Uint8Array(32).fill(0xff));
    expect(s[0]).toBe(0xf8);
    expect(s[31]).toBe(0x7f);
    expect(toHex(s.subarray(1, 31))).toBe('ff'.repeat(30));
    const z = clampScalar(new Uint8Array(32));
    expect(z[0]).toBe(0);
    expect(z[31]).toBe(0x40);
  });

  it('draws a fresh clamped key each call, and the clamping does not change X25519', () => {
    const keys = Array.from({ length: 20 }, () => generateKey());
    expect(new Set(keys.map(toHex)).size).toBe(20);
    for (const k of keys) {
      expect(k[0]! & 7).toBe(0);
      expect(k[31]! & 0x80).toBe(0);
      expect(k[31]! & 0x40).toBe(0x40);
    }
    // An unclamped scalar masks exactly like its clamped form.
    const raw = new Uint8Array(32).fill(0xff);
    const u = hashToPoint(['item']);
    expect(toHex(maskBatch(raw, u))).toBe(toHex(maskBatch(clampScalar(Uint8Array.from(raw)), u)));
  });

  it('uses the injected randomness and wipes the drawn bytes', () => {
    const drawn = new Uint8Array(32).fill(0xab);
    const key = generateKey({ randomBytes: () => drawn });
    expect(key[1]).toBe(0xab);
    expect(drawn.every((b) => b === 0)).toBe(true);
  });

  it('zeroKey overwrites every byte of the key', () => {
    const key = generateKey();
    zeroKey(key);
    expect(key.every((b) => b === 0)).toBe(true);
  });
});

describe('hashToPoint', () => {
  it('writes SHA-256 of each item (UTF-8) into consecutive 32-byte slots', () => {
    const items = ['alice', 'bób', ''];
    const points = hashToPoint(items);
    expect(points.byteLength).toBe(3 * X25519_BYTES);
    items.forEach((item, i) => {
      const digest = createHash('sha256').update(Buffer.from(item, 'utf8')).digest('hex');
      expect(toHex(points.subarray(i * 32, i * 32 + 32))).toBe(digest);
    });
    expect(toHex(hashToPoint([new TextEncoder().encode('alice')]))).toBe(toHex(points.subarray(0, 32)));
  });

  it('joinKeyColumns keeps multi-column keys unambiguous', () => {
    expect(joinKeyColumns(['a'])).toBe('a');
    expect(joinKeyColumns(['a,b', 'c'])).not.toBe(joinKeyColumns(['a', 'b,c']));
  });
});

describe('argument checks', () => {
  it('rejects keys, batches and outputs of the wrong size with a TypeError naming the sizes', () => {
    const key = generateKey();
    expect(() => maskBatch(new Uint8Array(31), new Uint8Array(32))).toThrow(
      /key must be a Uint8Array of 32 bytes, got 31/,
    );
    expect(() => maskBatch(key, new Uint8Array(33))).toThrow(/n \* 32 bytes.*got 33 bytes/);
    expect(() => maskBatch(key, new Uint8Array(64), new Uint8Array(32))).toThrow(/at least 64 bytes/);
    expect(() => hashToPoint(['a', 'b'], new Uint8Array(32))).toThrow(/2 points/);
  });
});

describe('hashPackedToPoints', () => {
  it('hashes packed UTF-8 items exactly as hashToPoint hashes the strings', () => {
    const items = ['alice@example.com', 'Zürich, CH', '', '["a","b,c"]', '😀'];
    const enc = new TextEncoder();
    const parts = items.map((s) => enc.encode(s));
    const offsets = new Uint32Array(items.length + 1);
    parts.forEach((p, i) => {
      offsets[i + 1] = (offsets[i] as number) + p.byteLength;
    });
    const packed = new Uint8Array(offsets[items.length] as number);
    for (const [i, p] of parts.entries()) packed.set(p, offsets[i] as number);
    expect(Buffer.from(hashPackedToPoints(packed, offsets))).toEqual(Buffer.from(hashToPoint(items)));
    expect(() => hashPackedToPoints(packed, new Uint32Array([0, 999]))).toThrow(TypeError);
  });
});
