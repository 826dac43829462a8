import { describe, expect, it } from 'vitest';
import {
  checkPeerMessage,
  type Hello,
  type PeerMsg,
  PSI_CURVE,
  PSI_PROTOCOL_VERSION,
  PsiHandshakeError,
  peerMessageBytes,
} from '../../src/index.js';
import { BatchSet } from '../../src/psi/BatchSet.js';
import { checkHellos } from '../../src/psi/Handshake.js';
import { randomPermutation, shuffleRecords } from '../../src/psi/shuffle.js';

const ref = { id: 'x', name: 'port', path: '/user/psi/left/port', tell: () => undefined } as unknown as Hello['from'];
const hello = (extra: Partial<Hello> = {}): Hello => ({
  type: 'hello',
  protocol: PSI_PROTOCOL_VERSION,
  session: 's',
  side: 'left',
  curve: PSI_CURVE,
  keyColumns: 1,
  batchSize: 32,
  reveal: 'both',
  cardinalityOnly: false,
  run: 'a'.repeat(32),
  resume: null,
  from: ref,
  ...extra,
});

describe('checkPeerMessage', () => {
  const limits = { batchSize: 4 };
  it('lets a hello of another protocol version through, so the handshake can name the difference', () => {
    const future = { ...hello(), protocol: PSI_PROTOCOL_VERSION + 1, newField: 'x', batchSize: 'big' };
    expect(checkPeerMessage(future, limits)).toBeUndefined();
    expect(checkPeerMessage({ ...future, side: 'up' }, limits)).toMatch(/'hello' whose side is not/);
  });

  it('accepts every well-formed message of the protocol', () => {
    const ok: PeerMsg[] = [
      hello(),
      hello({
        resume: { peerRun: 'b', peerBatches: new Uint8Array(2), ownReturned: new Uint8Array(0), committed: false },
      }),
      { type: 'batch', index: 0, points: new Uint8Array(4 * 32) },
      { type: 'end', batches: 3, items: 10 },
      { type: 'returned', index: 2, doubles: new Uint8Array(12) },
      { type: 'shuffled', part: 0, doubles: new Uint8Array(48) },
      { type: 'shuffled-end', parts: 1, items: 4 },
      { type: 'prepared' },
      { type: 'committed' },
      { type: 'ping' },
      { type: 'abort', code: 'ERR_X', reason: 'because' },
      { type: 'refuse', code: 'ERR_PSI_SIDE_TAKEN', reason: 'taken' },
    ];
    for (const m of ok) expect(checkPeerMessage(m, limits), m.type).toBeUndefined();
  });

  const bad: [unknown, RegExp][] = [
    [null, /not an object/],
    ['batch', /not an object/],
    [{ type: 'nope' }, /unknown type "nope"/],
    [{ type: 'ping', extra: 1 }, /'ping' with an unknown field 'extra'/],
    [{ type: 'batch', index: 1.5, points: new Uint8Array(32) }, /'batch' whose index is not a non-negative integer/],
    [{ type: 'batch', index: 0, points: [1, 2] }, /'batch' whose points is not a byte array/],
    [
      { type: 'batch', index: 0, points: new Uint8Array(33) },
      /batch 0 of 33 bytes: not a whole, non-zero number of 32-byte points/,
    ],
    [{ type: 'batch', index: 0, points: new Uint8Array(0) }, /not a whole, non-zero number/],
    [
      { type: 'batch', index: 0, points: new Uint8Array(5 * 32) },
      /batch 0 of 5 points: more than the agreed batch size 4/,
    ],
    [{ type: 'batch', index: 2 ** 31, points: new Uint8Array(32) }, /the index is out of range/],
    [{ type: 'returned', index: 0, doubles: new Uint8Array(13) }, /returned batch 0 of 13 bytes/],
    [
      { type: 'shuffled', part: 0, doubles: new Uint8Array(12 * 5) },
      /shuffled part 0 of 5 values: more than the agreed batch size 4/,
    ],
    [{ type: 'end', batches: -1, items: 0 }, /'end' whose batches is not a non-negative integer/],
    [{ ...hello(), side: 'middle' }, /'hello' whose side is not "left" or "right"/],
    [{ ...hello(), from: { path: '/x' } }, /'hello' whose from is not an actor ref/],
    [{ ...hello(), resume: { peerRun: 1 } }, /'hello' whose resume .peerRun is not a string/],
    [{ ...hello(), session: 'x'.repeat(3000) }, /'hello' whose session is not a string of at most 2000 characters/],
    [{ type: 'abort', code: 'X' }, /'abort' whose reason is not a string/],
  ];
  for (const [msg, problem] of bad) {
    it(`names what is wrong with ${JSON.stringify(msg, (_k, v) => (v instanceof Uint8Array ? `<${v.length} bytes>` : v))?.slice(0, 70)}`, () => {
      expect(checkPeerMessage(msg, limits)).toMatch(problem);
    });
  }
});

describe('peerMessageBytes', () => {
  it('counts byte arrays exactly, 8 per number, strings as UTF-8, a ref as its path', () => {
    expect(peerMessageBytes({ type: 'batch', index: 3, points: new Uint8Array(64) })).toBe(5 + 8 + 64);
    expect(peerMessageBytes({ type: 'ping' })).toBe(4);
    expect(peerMessageBytes({ type: 'abort', code: 'É', reason: 'ab' })).toBe(5 + 2 + 2);
    const h = hello();
    expect(peerMessageBytes(h)).toBeGreaterThan(ref.path.length + 32);
  });
});

describe('checkHellos', () => {
  it('agrees when only the sides differ', () => {
    expect(checkHellos(hello(), hello({ side: 'right', run: 'b'.repeat(32) }))).toBeUndefined();
  });

  it('names the field and both values, by side, the same from either side', () => {
    const left = hello({ batchSize: 32 });
    const right = hello({ side: 'right', batchSize: 64 });
    const a = checkHellos(left, right);
    const b = checkHellos(right, left);
    expect(a).toBeInstanceOf(PsiHandshakeError);
    expect(a?.message).toBe(b?.message);
    expect(a?.message).toBe(
      'psi session s: the parties disagree on batchSize: left has 32, right has 64. Both must be started with the same --batch.',
    );
  });

  it('checks the protocol version first, then the curve', () => {
    expect(checkHellos(hello({ protocol: 2, curve: 'p256' }), hello({ side: 'right' }))?.field).toBe('protocol');
    expect(checkHellos(hello({ curve: 'p256' }), hello({ side: 'right' }))?.field).toBe('curve');
  });

  it('refuses a resume against a fresh run, and a resume of two different runs', () => {
    const resume = (peerRun: string) => ({
      peerRun,
      peerBatches: new Uint8Array(0),
      ownReturned: new Uint8Array(0),
      committed: false,
    });
    const l = hello({ run: 'L', resume: resume('R') });
    expect(checkHellos(l, hello({ side: 'right', run: 'R' }))?.message).toMatch(
      /disagree on resume: left has a resume of run L, right has a fresh run\. Resume both parties/,
    );
    expect(checkHellos(l, hello({ side: 'right', run: 'R', resume: resume('L') }))).toBeUndefined();
    expect(checkHellos(l, hello({ side: 'right', run: 'R2', resume: resume('L') }))?.message).toMatch(
      /disagree on run: left has run L \(paired with R\), right has run R2 \(paired with L\)/,
    );
  });
});

describe('shuffles', () => {
  it('draws every permutation of 3 items about equally often', () => {
    const counts = new Map<string, number>();
    const n = 12_000;
    for (let i = 0; i < n; i++) {
      const p = randomPermutation(3).join('');
      counts.set(p, (counts.get(p) ?? 0) + 1);
    }
    expect(counts.size).toBe(6);
    // Each is expected 2000 times (sd ~ 41): allow 5 sd.
    for (const c of counts.values()) expect(Math.abs(c - n / 6)).toBeLessThan(210);
  });

  it('shuffles records in place, keeping each record whole', () => {
    const values = new Uint8Array(1000 * 12);
    for (let i = 0; i < 1000; i++) values.fill(i % 251, i * 12, (i + 1) * 12);
    const before = [...values];
    shuffleRecords(values, 12);
    for (let i = 0; i < 1000; i++) {
      const r = values.subarray(i * 12, (i + 1) * 12);
      expect(r.every((b) => b === r[0])).toBe(true);
    }
    expect([...values]).not.toEqual(before);
    expect([...values].sort((a, b) => a - b)).toEqual([...before].sort((a, b) => a - b));
  });
});

describe('BatchSet', () => {
  it('adds, finds, grows and round-trips through its bytes', () => {
    const s = new BatchSet();
    expect(s.add(3)).toBe(true);
    expect(s.add(3)).toBe(false);
    s.add(5000);
    expect(s.has(3) && s.has(5000) && !s.has(4)).toBe(true);
    expect(s.size).toBe(2);
    expect(s.max()).toBe(5000);
    const back = new BatchSet(s.toBytes());
    expect(back.size).toBe(2);
    expect(back.has(5000)).toBe(true);
    expect(new BatchSet().toBytes().byteLength).toBe(0);
  });
});
