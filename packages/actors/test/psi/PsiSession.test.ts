/**
 * Two sessions, each a party on its own, wired only by their ports: the
 * handshake, the commit protocol, liveness, and what each side ends with.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ActorRef, ActorSystem, defineActor, silentLogger } from '@troupe/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CsvMissingColumnError,
  type PartyConfig,
  type PeerMsg,
  PsiHandshakeError,
  PsiInterruptedError,
  PsiPeerAbortedError,
  PsiPeerLostError,
  PsiSession,
  PsiSideTakenError,
  type SessionConfig,
  type SessionProgress,
  type SideSummary,
} from '../../src/index.js';
import { corrupting, csvFile, emails, PassRelay, party, startPair, tmp } from './helpers.js';

let system: ActorSystem;
beforeAll(async () => {
  system = await ActorSystem.start({ name: 'psi-session', signals: false, logger: silentLogger, workers: { size: 2 } });
});
afterAll(async () => {
  await system.shutdown();
});

const leftKeys = emails(0, 300);
const rightKeys = emails(150, 300);

function configs(
  leftExtra: Partial<PartyConfig> = {},
  rightExtra: Partial<PartyConfig> = {},
  session: Partial<SessionConfig> = {},
  n = 300,
): { left: SessionConfig; right: SessionConfig; out: string } {
  const d = tmp('session');
  const out = join(d, 'out');
  mkdirSync(out);
  const a = csvFile(d, 'a.csv', n === 300 ? leftKeys : emails(0, n));
  const b = csvFile(d, 'b.csv', n === 300 ? rightKeys : emails(n / 2, n));
  return {
    left: { session: 'test', party: party('left', a, out, leftExtra), peerTimeoutMs: 2_000, ...session },
    right: { session: 'test', party: party('right', b, out, rightExtra), peerTimeoutMs: 2_000, ...session },
    out,
  };
}

const files = (dir: string) => (existsSync(dir) ? readdirSync(dir).sort() : []);

describe('PsiSession', { timeout: 60_000 }, () => {
  it('runs a PSI between two sessions that share only their ports, each ending with its own summary', async () => {
    const c = configs();
    const pair = await startPair(system, c.left, c.right);
    const [l, r] = await Promise.all([pair.ended.left, pair.ended.right]);
    await pair.stop();
    const left = l.ok as SideSummary;
    const right = r.ok as SideSummary;
    expect(l.error).toBeUndefined();
    expect(left).toMatchObject({
      side: 'left',
      learned: 'rows',
      matchedKeys: 150,
      matchedRows: 150,
      peerUniqueKeys: 300,
    });
    expect(right).toMatchObject({ side: 'right', learned: 'rows', matchedKeys: 150, peerUniqueKeys: 300 });
    expect(left.peerConfirmed && right.peerConfirmed).toBe(true);
    expect(files(c.out)).toEqual(['left.csv', 'right.csv']);
    expect(readFileSync(join(c.out, 'left.csv'), 'utf8').split('\n')[1]).toBe('user-00150@example.com,150');
    // What one sends is what the other receives; at least 32 + 12 bytes per item each way (points, returns).
    expect(left.bytesSent).toBe(right.bytesReceived);
    expect(right.bytesSent).toBe(left.bytesReceived);
    expect(left.bytesSent).toBeGreaterThanOrEqual(300 * (32 + 12));
    expect(left.bytesSent).toBeLessThan(300 * (32 + 12) + 2_000);
    expect(left.messagesSent).toBe(right.messagesReceived);
    const { handshake, exchange, write, commit } = left.stages;
    for (const v of Object.values(left.stages)) expect(v).toBeGreaterThanOrEqual(0);
    expect(handshake + exchange + write + commit).toBeLessThanOrEqual(left.elapsedMs + 1);
  });

  const mismatches: [field: string, left: Partial<PartyConfig>, right: Partial<PartyConfig>, message: RegExp][] = [
    [
      'batchSize',
      { batchSize: 32 },
      { batchSize: 64 },
      /disagree on batchSize: left has 32, right has 64\. Both must be started with the same --batch/,
    ],
    ['reveal', { reveal: 'left' }, { reveal: 'both' }, /disagree on reveal: left has left, right has both/],
    ['cardinalityOnly', { cardinalityOnly: true }, {}, /disagree on cardinalityOnly: left has true, right has false/],
    ['keyColumns', {}, { keyColumns: ['id', 'n'] }, /disagree on keyColumns: left has 1, right has 2/],
  ];
  for (const [field, l, r, message] of mismatches) {
    it(`ends both sides with an error naming ${field} and both values when the parties disagree on it`, async () => {
      const c = configs(l, r);
      const pair = await startPair(system, c.left, c.right);
      const [le, re] = await Promise.all([pair.ended.left, pair.ended.right]);
      await pair.stop();
      for (const e of [le, re]) {
        expect(e.error).toBeInstanceOf(PsiHandshakeError);
        expect((e.error as PsiHandshakeError).field).toBe(field);
        expect((e.error as Error).message).toMatch(message);
        expect(e.ms).toBeLessThan(10_000); // found in the handshake, not by a timeout
      }
      expect(files(c.out)).toEqual([]);
    });
  }

  it('ends both sides when their session names differ', async () => {
    const c = configs();
    const pair = await startPair(system, c.left, { ...c.right, session: 'other' });
    const [le, re] = await Promise.all([pair.ended.left, pair.ended.right]);
    await pair.stop();
    for (const e of [le, re])
      expect((e.error as Error).message).toMatch(/disagree on session: left has test, right has other/);
  });

  it('refuses a pair that both claim the same side', async () => {
    const c = configs();
    const pair = await startPair(system, c.left, { ...c.right, party: { ...c.right.party, side: 'left' } });
    const [le, re] = await Promise.all([pair.ended.left, pair.ended.right]);
    await pair.stop();
    for (const e of [le, re]) {
      expect(e.error).toBeInstanceOf(PsiHandshakeError);
      expect((e.error as Error).message).toMatch(/psi session test: both parties claim side left/);
    }
    expect(files(c.out)).toEqual([]);
  });

  it('refuses a further party claiming a side of a paired session, and the pair goes on', async () => {
    const c = configs({}, {}, {}, 4000);
    const pair = await startPair(system, c.left, c.right);
    // Once left is paired, a third party claims right of the same session at left's port.
    for (;;) {
      const p = await pair.left.ask<SessionProgress>({ type: 'progress-snapshot' });
      if (p.phase === 'exchanging') break;
      await new Promise((r) => setTimeout(r, 5));
    }
    const leftPort = await pair.left.ask<ActorRef<PeerMsg>>({ type: 'get-port' });
    const third = system.spawn(PsiSession, { name: 'third', input: { config: { ...c.right } } });
    const refused = third.ask({ type: 'result' }, { timeoutMs: 60_000 }).catch((e: unknown) => e);
    third.tell({ type: 'connect', peer: leftPort });
    const error = await refused;
    expect(error).toBeInstanceOf(PsiSideTakenError);
    expect((error as Error).message).toMatch(/psi session test: side right is already taken by another party/);
    const [l, r] = await Promise.all([pair.ended.left, pair.ended.right]);
    await pair.stop();
    await system.stop(third);
    expect(l.error).toBeUndefined();
    expect(l.ok?.matchedKeys).toBe(2000);
    expect(r.ok?.matchedKeys).toBe(2000);
  });

  it('pairs with a peer it was not told of: a waiting session answers the first hello', async () => {
    const c = configs();
    const left = system.spawn(PsiSession, { name: 'listen-left', input: { config: c.left } });
    const right = system.spawn(PsiSession, { name: 'listen-right', input: { config: c.right } });
    const port = await left.ask<ActorRef<PeerMsg>>({ type: 'get-port' });
    right.tell({ type: 'connect', peer: port }); // left is never told where right is
    const [l, r] = await Promise.all([
      left.ask<SideSummary>({ type: 'result' }, { timeoutMs: 60_000 }),
      right.ask<SideSummary>({ type: 'result' }, { timeoutMs: 60_000 }),
    ]);
    await Promise.all([system.stop(left), system.stop(right)]);
    expect(l.matchedKeys).toBe(150);
    expect(r.matchedKeys).toBe(150);
  });

  it("ends with peer lost at once when the peer's ref terminates mid-run (no goodbye)", async () => {
    const c = configs({}, {}, { peerTimeoutMs: 30_000 });
    // The ref left sends to dies after the third batch, as a remote node's would.
    const relay = corrupting('left', (m, seen) => ((seen.batch ?? 0) >= 3 ? 'stop' : [m]));
    const pair = await startPair(system, c.left, c.right, relay);
    const l = await pair.ended.left;
    expect(l.error).toBeInstanceOf(PsiPeerLostError);
    expect((l.error as PsiPeerLostError).reason).toBe('terminated');
    expect((l.error as Error).message).toMatch(/^psi left: peer lost \(the peer's session stopped \(.*relay-l\)\)/);
    expect(l.ms).toBeLessThan(15_000); // well under peerTimeoutMs: the watch, not the heartbeat
    await pair.stop();
    await pair.ended.right;
    expect(files(c.out)).toEqual([]);
  });

  it('tells the peer when it is aborted: both end, the peer with the reason, and nothing is written', async () => {
    const c = configs({}, {}, { peerTimeoutMs: 30_000 }, 4000);
    const pair = await startPair(system, c.left, c.right);
    for (;;) {
      const p = await pair.left.ask<SessionProgress>({ type: 'progress-snapshot' });
      if (p.progress.ownMasked > 0) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    pair.left.tell({ type: 'abort' });
    const [l, r] = await Promise.all([pair.ended.left, pair.ended.right]);
    await pair.stop();
    expect(l.error).toBeInstanceOf(PsiInterruptedError);
    expect(r.error).toBeInstanceOf(PsiPeerAbortedError);
    expect((r.error as Error).message).toMatch(/^psi right: the peer aborted the run \(the peer was interrupted\)/);
    expect(r.ms - l.ms).toBeLessThan(10_000); // told, not timed out (the bound is 30 s)
    expect(files(c.out)).toEqual([]);
  });

  it('tells the peer at once when it fails before the handshake (bad input), without revealing its paths', async () => {
    const c = configs({ keyColumns: ['nope'] });
    const pair = await startPair(system, c.left, c.right);
    const [l, r] = await Promise.all([pair.ended.left, pair.ended.right]);
    await pair.stop();
    expect(l.error).toBeInstanceOf(CsvMissingColumnError);
    expect(r.error).toBeInstanceOf(PsiPeerAbortedError);
    expect((r.error as Error).message).toBe(
      "psi right: the peer aborted the run (the peer's own run failed (ERR_CSV_MISSING_COLUMN)); no output was written.",
    );
    expect(r.ms).toBeLessThan(10_000);
  });

  it('gives up after handshakeTimeoutMs when no peer answers', async () => {
    const c = configs();
    const nowhere = defineActor<PeerMsg, undefined>({ init: () => undefined, receive: () => undefined });
    const sink = system.spawn(nowhere, { name: 'nowhere' });
    const left = system.spawn(PsiSession, {
      name: 'alone',
      input: { config: { ...c.left, handshakeTimeoutMs: 300, peerTimeoutMs: 1_000 } },
    });
    const error = left.ask({ type: 'result' }, { timeoutMs: 30_000 }).catch((e: unknown) => e);
    left.tell({ type: 'connect', peer: sink });
    const e = await error;
    expect(e).toBeInstanceOf(PsiPeerLostError);
    expect((e as Error).message).toMatch(/no hello from the peer within 300 ms \(handshakeTimeoutMs\)/);
    await Promise.all([system.stop(left), system.stop(sink)]);
  });
});

describe('PsiSession commit protocol', { timeout: 60_000 }, () => {
  it("deletes its temporary output when the peer is lost before its 'prepared' arrives; the peer commits and says it was not confirmed", async () => {
    const c = configs({}, {}, { peerTimeoutMs: 1_000 });
    // Right's link to left goes dead just before right says it is prepared.
    let dead = false;
    const relay = corrupting('right', (m) => {
      if (m.type === 'prepared') dead = true;
      return dead ? [] : [m];
    });
    const pair = await startPair(system, c.left, c.right, relay);
    const [l, r] = await Promise.all([pair.ended.left, pair.ended.right]);
    await pair.stop();
    expect(l.error).toBeInstanceOf(PsiPeerLostError);
    // Right had left's 'prepared', so it committed; left's abort came after that.
    expect(r.ok).toMatchObject({ matchedKeys: 150, peerConfirmed: false });
    expect(files(c.out)).toEqual(['right.csv']); // never a temporary file, never a half-written one
  });

  it('keeps its output when the peer is lost after both were prepared, and says the peer did not confirm', async () => {
    const c = configs({}, {}, { peerTimeoutMs: 1_000 });
    let dead = false;
    const relay = corrupting('right', (m) => {
      if (m.type === 'committed') dead = true;
      return dead ? [] : [m];
    });
    const pair = await startPair(system, c.left, c.right, relay);
    const [l, r] = await Promise.all([pair.ended.left, pair.ended.right]);
    await pair.stop();
    expect(l.ok).toMatchObject({ matchedKeys: 150, peerConfirmed: false });
    expect(r.ok).toMatchObject({ matchedKeys: 150, peerConfirmed: true });
    expect(files(c.out)).toEqual(['left.csv', 'right.csv']);
  });

  it('passes every message through a relay unchanged and still agrees', async () => {
    const c = configs();
    const pair = await startPair(system, c.left, c.right, PassRelay);
    const [l, r] = await Promise.all([pair.ended.left, pair.ended.right]);
    await pair.stop();
    expect(l.ok?.matchedKeys).toBe(150);
    expect(r.ok?.matchedKeys).toBe(150);
  });
});
