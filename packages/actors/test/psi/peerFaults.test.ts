/**
 * A peer that stalls, dies or lies (RELIABILITY.md scenario 22): the other
 * side ends within its bound with a clear error, nothing crashes, and no
 * output is left. The liar is a real session whose messages a corrupting
 * relay rewrites on the wire, exactly where a network would carry them.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ActorSystem, silentLogger } from '@troupe/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type PeerMsg,
  type PsiOptions,
  PsiPeerLostError,
  PsiPeerProtocolError,
  type Reveal,
  runPsi,
} from '../../src/index.js';
import { corrupting, csvFile, type Edit, emails, tmp } from './helpers.js';

let system: ActorSystem;
const failures: string[] = [];
beforeAll(async () => {
  system = await ActorSystem.start({ name: 'psi-faults', signals: false, logger: silentLogger, workers: { size: 2 } });
  system.events.on('failed', (e) => failures.push(`${e.path}: ${String(e.error)}`));
});
afterAll(async () => {
  await system.shutdown();
});

const PEER_TIMEOUT_MS = 1_500;

async function lie(edit: Edit, extra: Partial<PsiOptions> = {}) {
  const d = tmp('faults');
  const left = csvFile(d, 'a.csv', emails(0, 300));
  const right = csvFile(d, 'b.csv', emails(150, 300));
  const outDir = join(d, 'out');
  const before = failures.length;
  const started = Date.now();
  const error = await runPsi(system, {
    left,
    right,
    key: ['id'],
    outDir,
    threads: 2,
    batchSize: 32,
    peerTimeoutMs: PEER_TIMEOUT_MS,
    relay: corrupting('right', edit),
    ...extra,
  }).then(
    () => undefined,
    (e: unknown) => e,
  );
  return {
    error: error as Error,
    ms: Date.now() - started,
    files: existsSync(outDir) ? readdirSync(outDir) : [],
    actorFailures: failures.slice(before),
  };
}

const same = (m: PeerMsg): PeerMsg[] => [m];
const lowOrder = (u: number) => {
  const p = new Uint8Array(32);
  p[0] = u;
  return p;
};

/** Who names the lie: the side it was told to, unless the case says otherwise. */
const LEFT_NAMES_IT = /^psi left: the peer broke the protocol: it sent /;

const lies: [what: string, edit: Edit, message: RegExp, reveal?: Reveal | undefined, namer?: RegExp][] = [
  [
    'a batch whose length is not a whole number of points',
    (m) => (m.type === 'batch' && m.index === 0 ? [{ ...m, points: m.points.subarray(5) }] : same(m)),
    /batch 0 of \d+ bytes: not a whole, non-zero number of 32-byte points/,
  ],
  [
    'a batch larger than the agreed batch size',
    (m) => {
      if (m.type !== 'batch' || m.index !== 0) return same(m);
      const twice = new Uint8Array(m.points.byteLength * 2);
      twice.set(m.points);
      twice.set(m.points, m.points.byteLength);
      return [{ ...m, points: twice }];
    },
    /batch 0 of 64 points: more than the agreed batch size 32/,
  ],
  [
    'an end that announces fewer items than were sent',
    (m) => (m.type === 'end' ? [{ ...m, items: m.items - 1 }] : same(m)),
    /300 items in all but announced 299 \(more items than announced\)/,
  ],
  [
    'a batch after the end (more items than announced)',
    (m) => (m.type === 'end' ? [m, { type: 'batch', index: m.batches, points: new Uint8Array(32).fill(9) }] : same(m)),
    /batch 10 after its end \(more items than announced\)/,
  ],
  [
    'a low-order point (u = 0)',
    (m) => {
      if (m.type !== 'batch' || m.index !== 1) return same(m);
      const points = m.points.slice();
      points.set(lowOrder(0), 3 * 32);
      return [{ ...m, points }];
    },
    /a low-order point in batch 1 \(point #3\)/,
  ],
  [
    'a low-order point (u = 1)',
    (m) => {
      if (m.type !== 'batch' || m.index !== 2) return same(m);
      const points = m.points.slice();
      points.set(lowOrder(1), 0);
      return [{ ...m, points }];
    },
    /a low-order point in batch 2 \(point #0\)/,
  ],
  [
    'a replayed batch',
    (m) => (m.type === 'batch' && m.index === 4 ? [m, m] : same(m)),
    /batch 4 twice \(a replayed or duplicated batch\)/,
  ],
  [
    'a batch numbered out of range',
    (m) => (m.type === 'batch' && m.index === 9 ? [{ ...m, index: 999 }] : same(m)),
    // Two honest detections race here: the left side answers batch "999" before it can know the
    // range (only the end tells it), so either the left sees the end, or the right first sees a
    // return for a batch it never sent. Both are the lie found as it arrives; CI saw each.
    /^psi left: .*an end announcing 10 batches after 10 batches numbered up to 999 \(batches out of range, or missing\)|^psi right: .*returned batch 999, which this side never sent/,
    undefined,
    /^psi (left|right): the peer broke the protocol: it sent /,
  ],
  [
    'a replayed return',
    (m) => (m.type === 'returned' && m.index === 3 ? [m, m] : same(m)),
    /returned batch 3 twice \(a replayed or duplicated batch\)/,
  ],
  [
    'a return for a batch that was never sent',
    (m) => (m.type === 'returned' && m.index === 3 ? [{ ...m, index: 777 }] : same(m)),
    /returned batch 777, which this side never sent/,
  ],
  [
    'a return with fewer values than items sent',
    (m) => (m.type === 'returned' && m.index === 2 ? [{ ...m, doubles: m.doubles.subarray(12) }] : same(m)),
    /returned batch 2 with 31 values for the 32 items it was sent \(malformed length\)/,
  ],
  [
    'a message of a type the protocol does not have',
    (m) => (m.type === 'end' ? [{ type: 'gimme-your-key' } as unknown as PeerMsg, m] : same(m)),
    /a message of unknown type "gimme-your-key"/,
  ],
  [
    'a field of the wrong type',
    (m) => (m.type === 'batch' && m.index === 0 ? [{ ...m, index: -1 }] : same(m)),
    /'batch' whose index is not a non-negative integer/,
  ],
  ['its hello twice', (m) => (m.type === 'hello' ? [m, m] : same(m)), /its hello twice \(a replayed hello\)/],
  [
    'returned values to a side that must not learn the intersection',
    (m) =>
      m.type === 'batch' && m.index === 0 ? [m, { type: 'returned', index: 0, doubles: new Uint8Array(12) }] : same(m),
    /returned values, which the protocol never sends this side \(reveal is right: this side must not learn the intersection\)/,
    'right',
  ],
];

describe('PSI with a lying peer', { timeout: 60_000 }, () => {
  for (const [what, edit, message, reveal, namer = LEFT_NAMES_IT] of lies) {
    it(`ends with a clear error, no crash and no output when the peer sends ${what}`, async () => {
      const r = await lie(edit, reveal === undefined ? {} : { reveal });
      expect(r.error).toBeInstanceOf(PsiPeerProtocolError);
      expect(r.error.message).toMatch(namer);
      expect(r.error.message).toMatch(message);
      expect(r.files).toEqual([]);
      expect(r.actorFailures).toEqual([]);
      // Found as the message arrives, not by a timeout.
      expect(r.ms).toBeLessThan(PEER_TIMEOUT_MS + 10_000);
    });
  }
});

describe('PSI with a peer that stalls or dies', { timeout: 60_000 }, () => {
  it('ends with "peer lost" (messages lost, resumable) when the peer says prepared before its end arrived', async () => {
    // What a lost end looks like from here: the peer prepares only after it has sent its end.
    const r = await lie((m) => (m.type === 'batch' && m.index === 0 ? [m, { type: 'prepared' }] : [m]));
    expect(r.error).toBeInstanceOf(PsiPeerLostError);
    expect((r.error as PsiPeerLostError).reason).toBe('messages-lost');
    expect(r.error.message).toMatch(/the peer's prepared arrived but its end did not \(lost in transit\)/);
    expect(r.files).toEqual([]);
    expect(r.actorFailures).toEqual([]);
    expect(r.ms).toBeLessThan(PEER_TIMEOUT_MS + 10_000);
  });

  it('ends with "peer lost" (messages lost, resumable) when a batch never arrives but the end does', async () => {
    const r = await lie((m) => (m.type === 'batch' && m.index === 5 ? [] : [m]));
    expect(r.error).toBeInstanceOf(PsiPeerLostError);
    expect((r.error as PsiPeerLostError).reason).toBe('messages-lost');
    expect(r.error.message).toMatch(/1 of the peer's 10 batches never arrived; resume both parties to finish/);
    expect(r.files).toEqual([]);
    expect(r.ms).toBeLessThan(PEER_TIMEOUT_MS + 10_000);
  });

  it('ends with "peer lost" (messages lost) when the peer says it is prepared but an answer never came', async () => {
    const r = await lie((m) => (m.type === 'returned' && m.index === 7 ? [] : [m]));
    expect(r.error).toBeInstanceOf(PsiPeerLostError);
    expect(r.error.message).toMatch(/the peer said it was prepared, but 1 of this side's batches never came back/);
    expect(r.files).toEqual([]);
  });

  it('ends with "peer lost" within the bound when the peer falls silent mid-run', async () => {
    let silent = false;
    const r = await lie((m, seen) => {
      if ((seen.batch ?? 0) >= 3) silent = true;
      return silent ? [] : [m];
    });
    expect(r.error).toBeInstanceOf(PsiPeerLostError);
    expect((r.error as PsiPeerLostError).reason).toBe('stalled');
    expect(r.error.message).toMatch(
      /^psi left: peer lost \(no message from the peer for \d+ ms, more than peerTimeoutMs = 1500\); no output was written\.$/,
    );
    expect(r.ms).toBeGreaterThanOrEqual(PEER_TIMEOUT_MS);
    // The documented bound: peerTimeoutMs plus one heartbeat, with generous slack for a loaded machine.
    expect(r.ms).toBeLessThan(PEER_TIMEOUT_MS + 10_000);
    expect(r.files).toEqual([]);
  });
});
