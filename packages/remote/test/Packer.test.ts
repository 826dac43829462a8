import { execFileSync } from 'node:child_process';
import { isDeepStrictEqual } from 'node:util';
import { deserialize, serialize } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { seededRandom as rng } from '../../examples/src/shared/random.js';
import { MAX_DEPTH, MAX_PACKED_ARRAY, MAX_SHAPE_KEYS, MAX_SHAPES, PACKED, packAfter, unpack } from '../src/Packer.js';

const TEMPLATE = Buffer.from('header--');

/** The payload `packAfter` writes for `batch` (after the template, which it must copy in front). */
function pack(batch: unknown[]): Buffer {
  const buf = packAfter(TEMPLATE, batch);
  expect(buf.subarray(0, TEMPLATE.length).equals(TEMPLATE)).toBe(true);
  return buf.subarray(TEMPLATE.length);
}

/** What structured clone (the semantics the wire promises) makes of `value`. */
const cloned = (value: unknown) => deserialize(serialize(value));

const NUMBERS = [
  0,
  -0,
  1,
  127,
  128,
  -1,
  -128,
  2 ** 31 - 1,
  -(2 ** 31),
  2 ** 31,
  -(2 ** 31) - 1,
  2 ** 32,
  2 ** 53,
  0.5,
  -1.25e-300,
  1e300,
  Number.MAX_VALUE,
  Number.MIN_VALUE,
  NaN,
  Infinity,
  -Infinity,
];
const STRINGS = [
  '',
  'a',
  'type',
  'inc',
  'é',
  'naïve café',
  '日本語',
  '😀 emoji',
  '\u0000nul',
  'x'.repeat(64),
  'y'.repeat(65),
  'z'.repeat(3000),
  'ü'.repeat(64),
  'ü'.repeat(200),
  '\uD800',
  'a\uDC00b',
  '\uDBFF'.repeat(70),
  '__proto__',
  'constructor',
];

/** A random plain value (what the packed format accepts), up to `depth` levels of containers. */
function plainValue(r: () => number, depth: number): unknown {
  const pick = r();
  if (depth <= 0 || pick < 0.55) {
    const k = Math.floor(r() * 6);
    if (k === 0) return NUMBERS[Math.floor(r() * NUMBERS.length)];
    if (k === 1) return STRINGS[Math.floor(r() * STRINGS.length)];
    if (k === 2) return Math.floor(r() * 2 ** 20) - 2 ** 19;
    if (k === 3) return [true, false, null, undefined][Math.floor(r() * 4)];
    if (k === 4) return `s${Math.floor(r() * 300)}`; // many distinct short strings: cache slots collide
    return r() * 1000;
  }
  if (pick < 0.75) return Array.from({ length: Math.floor(r() * 6) }, () => plainValue(r, depth - 1));
  const o: Record<string, unknown> = r() < 0.1 ? Object.create(null) : {};
  const n = Math.floor(r() * 6);
  for (let i = 0; i < n; i++)
    o[r() < 0.2 ? String(Math.floor(r() * 10)) : `k${Math.floor(r() * 40)}`] = plainValue(r, depth - 1);
  return o;
}

describe('Packer: plain data goes packed and comes back as structured clone would give it', () => {
  it('round-trips random batches of plain values exactly (numbers, strings, nesting, null prototypes)', () => {
    const r = rng(20261203);
    for (let i = 0; i < 400; i++) {
      const batch = Array.from({ length: 1 + Math.floor(r() * 40) }, () => plainValue(r, 4));
      const payload = pack(batch);
      expect(payload[0]).toBe(PACKED);
      const back = unpack(payload);
      if (!isDeepStrictEqual(back, cloned(batch))) {
        // Name the first case that differs, for replay.
        expect({ i, back }).toEqual({ i, back: cloned(batch) });
      }
    }
  });

  it('keeps -0, NaN, the infinities and int32 edges exactly', () => {
    const back = unpack(pack([...NUMBERS])) as number[];
    NUMBERS.forEach((n, i) => {
      expect(Object.is(back[i], n)).toBe(true);
    });
  });

  it('keeps every string, lone surrogates and repeated cache-slot collisions included', () => {
    const r = rng(7);
    const many = Array.from({ length: 2000 }, () => STRINGS[Math.floor(r() * STRINGS.length)] as string);
    for (let i = 0; i < 500; i++) many.push(`s${Math.floor(r() * 500)}`);
    expect(unpack(pack(many))).toEqual(many);
    const lone = unpack(pack(['\uD800', 'a\uDC00b', '\uDBFF'.repeat(70)])) as string[];
    expect(lone.map((s) => [...s].map((c) => c.charCodeAt(0)))).toEqual([
      [0xd800],
      [0x61, 0xdc00, 0x62],
      new Array(70).fill(0xdbff),
    ]);
  });

  it('writes a repeated key or message type once per batch: a batch of asks is smaller than v8 makes it', () => {
    const ref = {
      $troupeRef: { path: '/user/echo', cluster: 'bench', node: 'responder', incarnation: '77dd7df2c2d228ba' },
    };
    const asks: unknown[] = [];
    for (let i = 0; i < 100; i++) asks.push(14, ref, { type: 'inc', n: 1 }, 1000 + i);
    const payload = pack(asks);
    expect(payload.length).toBeLessThan(serialize(asks).length * 0.7);
    expect(unpack(payload)).toEqual(cloned(asks));
  });

  it('an own __proto__ key stays an own property and pollutes nothing', () => {
    const evil = JSON.parse('{"__proto__": {"polluted": 1}, "a": 1}') as Record<string, unknown>;
    const back = (unpack(pack([evil])) as unknown[])[0] as Record<string, unknown>;
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(Object.hasOwn(back, '__proto__')).toBe(true);
    expect(Object.getOwnPropertyDescriptor(back, '__proto__')?.value).toEqual({ polluted: 1 });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(back).toEqual(cloned([evil])[0]);
  });
});

describe('Packer: flat objects go by shape (keys once per batch, then values only)', () => {
  it('round-trips many shapes, interleaved, colliding in their slots, with integer-like and odd keys', () => {
    const r = rng(31);
    const shapes = Array.from({ length: 40 }, (_, s) =>
      Array.from({ length: 1 + (s % MAX_SHAPE_KEYS) }, (_, k) => (k % 5 === 4 ? String(k) : `k${s}_${k}`)),
    );
    shapes.push(['a"}; globalThis.pwned = 1; ({"', '\u2028\u2029', 'back`tick', '*/', '\uD800'], ['constructor']);
    for (let b = 0; b < 50; b++) {
      const batch: unknown[] = [];
      for (let i = 0; i < 60; i++) {
        const keys = shapes[Math.floor(r() * shapes.length)] as string[];
        const o: Record<string, unknown> = r() < 0.1 ? Object.create(null) : {};
        for (const k of keys) o[k] = plainValue(r, 0);
        batch.push(i, o);
      }
      const back = unpack(pack(batch));
      if (!isDeepStrictEqual(back, cloned(batch))) expect({ b, back }).toEqual({ b, back: cloned(batch) });
    }
    expect((globalThis as Record<string, unknown>).pwned).toBeUndefined();
  });

  it('a repeated shape costs its values only: 100 messages of one shape take a few bytes each', () => {
    const batch: unknown[] = [];
    for (let i = 0; i < 100; i++) batch.push(5, i, { type: 'inc', n: 1 });
    // Per frame: the op, the id (1-2 bytes), the shape tag and slot, and the two values (2 and 1 bytes).
    expect(pack(batch).length).toBeLessThan(100 * 9);
  });

  it(`an object of ${MAX_SHAPE_KEYS} keys goes by shape, one of ${MAX_SHAPE_KEYS + 1} key by key: both round-trip`, () => {
    const of = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${i}`, i]));
    const batch = [of(MAX_SHAPE_KEYS), of(MAX_SHAPE_KEYS), of(MAX_SHAPE_KEYS + 1), of(MAX_SHAPE_KEYS + 1), {}, {}];
    expect(unpack(pack(batch))).toEqual(batch);
  });

  it('a shape with a key longer than 64 characters round-trips too (built key by key, not kept)', () => {
    const long = 'k'.repeat(65);
    const batch = [{ [long]: 1, b: 'x' }, { [long]: 2, b: 'y' }, { short: 3 }];
    expect(unpack(pack(batch))).toEqual(batch);
    expect(unpack(pack(batch))).toEqual(batch);
  });

  it('reads each property once (a getter runs once), flat or not', () => {
    let flatReads = 0;
    let deepReads = 0;
    const flat = {
      get x() {
        flatReads++;
        return 1;
      },
    };
    const deep = {
      get x() {
        deepReads++;
        return [1];
      },
    };
    expect(unpack(pack([flat, deep]))).toEqual([{ x: 1 }, { x: [1] }]);
    expect([flatReads, deepReads]).toEqual([1, 1]);
  });

  it('an enumerable property on Object.prototype is not taken for an own key', () => {
    const proto = Object.prototype as Record<string, unknown>;
    proto.inherited = 'polluted';
    try {
      const batch = [{ type: 'inc', n: 1 }, { a: [1] }];
      const payload = pack(batch);
      delete proto.inherited;
      const back = unpack(payload) as Record<string, unknown>[];
      expect(back).toEqual(cloned(batch));
      expect(back.map((o) => Object.keys(o))).toEqual([['type', 'n'], ['a']]);
    } finally {
      delete proto.inherited;
    }
  });

  it('a flat own __proto__ key stays own, also in a forged shape', () => {
    const flat = JSON.parse('{"__proto__": 1, "a": 2}') as Record<string, unknown>;
    const back = (unpack(pack([flat, flat])) as Record<string, unknown>[])[1] as Record<string, unknown>;
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(back, '__proto__')?.value).toBe(1);
    // Forged by hand: [Shape slot 3, 1 key "__proto__", value 7].
    const key = [...Buffer.from('__proto__')];
    const forged = unpack(Buffer.from([PACKED, 12, 1, 16, 3, 1, 6, key.length, ...key, 0x87])) as object[];
    expect(Object.getPrototypeOf(forged[0])).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(forged[0], '__proto__')?.value).toBe(7);
    expect(({} as Record<string, unknown>)[7]).toBeUndefined();
  });

  // A process of its own: these change what the module caches for the rest of its life.
  const child = (flags: string[], code: string): string =>
    execFileSync(
      process.execPath,
      [...flags, '--conditions=source', '--import', 'tsx', '--input-type=module', '-e', code],
      {
        cwd: new URL('..', import.meta.url),
        encoding: 'utf8',
      },
    );
  const probe = (extra: string) => `
    import { packAfter, unpack } from './src/Packer.ts';
    import { isDeepStrictEqual } from 'node:util';
    const batch = [];
    for (let i = 0; i < 50; i++) batch.push(i, { type: 'inc', n: i, s: 'x' + i }, { ['k' + (i % 7)]: i });
    ${extra}
    const back = unpack(packAfter(new Uint8Array(0), batch));
    console.log(isDeepStrictEqual(back, batch) ? 'same' : 'differs: ' + JSON.stringify(back));`;

  it('reads right where code generation from strings is disallowed (objects are then built key by key)', () => {
    expect(child(['--disallow-code-generation-from-strings'], probe('')).trim()).toBe('same');
  });

  it(`reads right past ${MAX_SHAPES} shapes (a peer sending ever new key sets): the cache stops growing`, () => {
    const flood = `for (let i = 0; i < ${MAX_SHAPES + 100}; i++) unpack(packAfter(new Uint8Array(0), [{ ['f' + i]: 1 }]));`;
    expect(child([], probe(flood)).trim()).toBe('same');
  }, 20_000);
});

describe('Packer: identity', () => {
  it('keeps a cycle through a message and references shared inside one', () => {
    const shared = { k: [1, 2] };
    const m: Record<string, unknown> = { p: shared, q: shared, list: [shared] };
    m.self = m;
    (shared as Record<string, unknown>).back = m;
    const [, d] = unpack(pack([1, m])) as [number, Record<string, Record<string, unknown>>];
    expect(d.self).toBe(d);
    expect(d.p).toBe(d.q);
    expect((d.list as unknown as unknown[])[0]).toBe(d.p);
    expect(d.p?.back).toBe(d);
    expect(d.p?.k).toEqual([1, 2]);
  });

  it('a ref marker repeated frame after frame is one object on arrival; a flat message sent twice arrives as two equal copies', () => {
    const ref = { $troupeRef: { path: '/user/a' } };
    const flat = { type: 'inc', n: 1 };
    const back = unpack(pack([14, ref, flat, 1, 14, ref, flat, 2])) as unknown[];
    expect(back[1]).toBe(back[5]);
    expect(back[1]).toEqual(ref);
    // As if each had gone in a batch of its own (structured clone of one post would share them; no code may rely on it).
    expect(back[2]).not.toBe(back[6]);
    expect(back[2]).toEqual(flat);
    expect(back[6]).toEqual(flat);
  });
});

describe('Packer: anything else goes as node:v8, with v8 semantics', () => {
  class Point {
    constructor(readonly x: number) {}
  }
  const holey: unknown[] = new Array(3); // [1, <hole>, 3]
  holey[0] = 1;
  holey[2] = 3;
  const named = Object.assign([1, 2], { extra: 'kept by v8' });
  const deep: unknown[] = [];
  let cur = deep;
  for (let i = 0; i < MAX_DEPTH + 2; i++) {
    const next: unknown[] = [];
    cur.push(next);
    cur = next;
  }
  const cases: [string, unknown][] = [
    ['a Map', new Map([['a', 1]])],
    ['a Set', new Set([1, 2])],
    ['a Date', new Date(0)],
    ['a RegExp', /x+/gi],
    ['a Uint8Array', new Uint8Array([1, 2, 3])],
    ['a Buffer', Buffer.from('hi')],
    ['an ArrayBuffer', new ArrayBuffer(4)],
    ['a BigInt', 12345678901234567890n],
    ['a class instance', new Point(1)],
    ['a Boolean wrapper', Object(true)],
    ['an Error', new Error('boom')],
    ['a hole', holey],
    ['an array with a named property', named],
    [`an array longer than ${MAX_PACKED_ARRAY}`, Array.from({ length: MAX_PACKED_ARRAY + 1 }, (_, i) => i)],
    [`nesting deeper than ${MAX_DEPTH}`, deep],
  ];
  for (const [what, value] of cases) {
    it(`${what} inside a message`, () => {
      const batch = [1, 2, { type: 'data', value }];
      const payload = pack(batch);
      expect(payload[0]).toBe(0xff);
      expect(isDeepStrictEqual(unpack(payload), cloned(batch))).toBe(true);
    });
  }

  it('a hole in the batch itself, too', () => {
    const batch: unknown[] = new Array(3);
    batch[0] = 1;
    batch[2] = 3;
    expect(pack(batch)[0]).toBe(0xff);
  });

  it('an array of exactly MAX_PACKED_ARRAY elements is still packed', () => {
    const batch = [1, Array.from({ length: MAX_PACKED_ARRAY }, (_, i) => i)];
    const payload = pack(batch);
    expect(payload[0]).toBe(PACKED);
    expect(unpack(payload)).toEqual(batch);
  });

  it('what cannot be cloned at all throws as v8 does (a function, a symbol)', () => {
    expect(() => pack([1, { f: () => 1 }])).toThrow(/could not be cloned/);
    expect(() => pack([1, Symbol('s')])).toThrow(/could not be cloned/);
    // A Proxy passes for a plain object or array, but structured clone (and so a worker's port) refuses it.
    expect(() => pack([1, new Proxy({ a: 1 }, {})])).toThrow(/could not be cloned/);
    expect(() => pack([1, { deep: [new Proxy([1], {})] }])).toThrow(/could not be cloned/);
  });

  it('a getter that sends a batch while one is being packed gets v8 for its own, and both are right', () => {
    let inner: Buffer | undefined;
    const m = {
      get x() {
        inner = pack([7, { type: 'inner' }]);
        return 1;
      },
    };
    const outer = pack([1, m]);
    expect(outer[0]).toBe(PACKED);
    expect(inner?.[0]).toBe(0xff);
    expect(unpack(outer)).toEqual([1, { x: 1 }]);
    expect(unpack(inner as Buffer)).toEqual([7, { type: 'inner' }]);
  });
});

describe('Packer: bytes from the network are not trusted', () => {
  const sample = () => {
    const ref = { $troupeRef: { path: '/user/echo', node: 'n1' } };
    const m: Record<string, unknown> = { type: 'x', list: [1, 'é', { a: null }], f: 0.5, big: 2 ** 40, neg: -5 };
    m.me = m;
    return pack([14, ref, m, 300, 14, ref, { type: 'x', s: 'y'.repeat(100) }, 301, 4, 1, undefined, true]);
  };

  it('every truncation of a packed batch is refused with a RangeError', () => {
    const full = sample();
    expect(() => unpack(full)).not.toThrow();
    for (let n = 1; n < full.length; n++) {
      expect(() => unpack(full.subarray(0, n)), `first ${n} of ${full.length} bytes`).toThrow(RangeError);
    }
  });

  it('bytes after the batch are refused', () => {
    expect(() => unpack(Buffer.concat([sample(), Buffer.from([0x80])]))).toThrow(/1 bytes left over/);
  });

  it('random corruption gives a RangeError or a value, never another error, a hang or a huge allocation', () => {
    const full = sample();
    const r = rng(99);
    let refused = 0;
    for (let i = 0; i < 3000; i++) {
      const bad = Buffer.from(full);
      const flips = 1 + Math.floor(r() * 4);
      for (let f = 0; f < flips; f++) bad[1 + Math.floor(r() * (bad.length - 1))] = Math.floor(r() * 256);
      try {
        unpack(bad);
      } catch (e) {
        expect(e).toBeInstanceOf(RangeError);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(0);
  });

  it('names what is wrong and where', () => {
    expect(() => unpack(Buffer.alloc(0))).toThrow(/empty payload/);
    expect(() => unpack(Buffer.from([0x07]))).toThrow(/starts with byte 0x7, neither packed nor v8/);
    expect(() => unpack(Buffer.from([PACKED, 12, 0xff, 0xff, 0xff, 0xff, 0x0f]))).toThrow(
      /array of 4294967295 elements in 0 bytes at byte 7/,
    );
    expect(() => unpack(Buffer.from([PACKED, 12, 1, 99]))).toThrow(/unknown tag 99 at byte 3/);
    expect(() => unpack(Buffer.from([PACKED, 12, 1, 4, 0xff, 0xff, 0xff, 0xff, 0x7f]))).toThrow(/varint over 32 bits/);
    expect(() => unpack(Buffer.from([PACKED, 12, 1, 11, 5]))).toThrow(/string slot 5, which holds none/);
    expect(() => unpack(Buffer.from([PACKED, 12, 1, 12, 1, 15, 9]))).toThrow(/reference to object 9/);
    expect(() => unpack(Buffer.from([PACKED, 12, 1, 13, 0x81, 0x82, 14]))).toThrow(
      /tag 129 where a string was expected/,
    );
    expect(() => unpack(Buffer.from([PACKED, 12, 1, 17, 2]))).toThrow(/shape slot 2, which holds none at byte 5/);
    expect(() => unpack(Buffer.from([PACKED, 12, 1, 17, 99]))).toThrow(/shape slot 99 \(there are 16\)/);
    expect(() => unpack(Buffer.from([PACKED, 12, 1, 16, 0, 0]))).toThrow(/a shape of 0 keys/);
    expect(() => unpack(Buffer.from([PACKED, 12, 1, 16, 0, 1, 6, 1, 0x61, 12, 0]))).toThrow(
      /tag 12 in a flat object at byte 9/,
    );
    const tooDeep = Buffer.from([PACKED, ...new Array(MAX_DEPTH + 2).fill([12, 1]).flat(), 0x80]);
    expect(() => unpack(tooDeep)).toThrow(/nesting too deep/);
  });
});
