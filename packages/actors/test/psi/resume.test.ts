/**
 * `resume`: a run interrupted by a cut link, a lost peer or a crash continues
 * from the stage checkpoints instead of redoing everything (RELIABILITY.md
 * scenario 22, "with --resume, a later run continues from its checkpoint").
 * The crash of a real process is in resume.process.test.ts.
 */
import { existsSync, readdirSync as readdirRaw, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ActorSystem, defineActor, silentLogger } from '@troupe/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type PeerMsg,
  PsiHandshakeError,
  PsiPeerAbortedError,
  PsiPeerLostError,
  type PsiRelayInput,
  runPsi,
  type SideSummary,
} from '../../src/index.js';
import { corrupting, csvFile, emails, party, startPair, tmp } from './helpers.js';

let system: ActorSystem;
beforeAll(async () => {
  system = await ActorSystem.start({ name: 'psi-resume', signals: false, logger: silentLogger, workers: { size: 2 } });
});
afterAll(async () => {
  await system.shutdown();
});

const leftKeys = emails(0, 2000);
const rightKeys = emails(1000, 2400);
const expectedLeft = () =>
  ['id,n', ...leftKeys.slice(1000).map((k) => `${k},${leftKeys.indexOf(k)}`)].join('\n') + '\n';
const expectedRight = () =>
  ['id,n', ...leftKeys.slice(1000).map((k) => `${k},${rightKeys.indexOf(k)}`)].join('\n') + '\n';

function setup() {
  const d = tmp('resume');
  return {
    d,
    left: csvFile(d, 'a.csv', leftKeys),
    right: csvFile(d, 'b.csv', rightKeys),
    out: join(d, 'out'),
    ck: join(d, 'state'),
  };
}

/** A link that carries everything until `left` has sent `after` batches, then nothing, either way. */
function cutAfter(after: number) {
  let sent = 0;
  let cut = false;
  return defineActor<PeerMsg, undefined, PsiRelayInput>({
    init: () => undefined,
    receive: (_s, msg, ctx) => {
      if (ctx.input.from === 'left' && msg.type === 'batch' && ++sent > after) cut = true;
      if (!cut) ctx.input.to.tell(msg);
    },
  });
}

const mode = (p: string) => statSync(p).mode & 0o777;
/** A folder's entries; a failed run removes the output folder it made, so a missing one is empty. */
const readdirSync = (d: string) => (existsSync(d) ? readdirRaw(d) : []);

describe('resume', { timeout: 120_000 }, () => {
  it('continues a run whose link was cut mid-exchange, redoing only what was missing, then deletes the checkpoints', async () => {
    const f = setup();
    const opts = { left: f.left, right: f.right, key: ['id'], outDir: f.out, threads: 2, batchSize: 64 };
    const first = await runPsi(system, {
      ...opts,
      checkpointDir: f.ck,
      peerTimeoutMs: 1_500,
      relay: cutAfter(12),
    }).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(PsiPeerLostError);
    expect(readdirSync(f.out)).toEqual([]); // nothing written, not even a temporary file
    for (const side of ['left', 'right']) {
      expect(mode(join(f.ck, side)), side).toBe(0o700);
      expect(mode(join(f.ck, side, 'key')), side).toBe(0o600);
    }
    const summary = await runPsi(system, { ...opts, checkpointDir: f.ck, resume: true });
    expect(readFileSync(join(f.out, 'left.csv'), 'utf8')).toBe(expectedLeft());
    expect(readFileSync(join(f.out, 'right.csv'), 'utf8')).toBe(expectedRight());
    expect(summary.intersection).toBe(1000);
    const batches = { left: Math.ceil(2000 / 64), right: Math.ceil(2400 / 64) };
    for (const side of ['left', 'right'] as const) {
      const s = summary[side];
      const peer = side === 'left' ? 'right' : 'left';
      expect(s.resumed).toBe(true);
      // Some of the work was kept, not all of it (the cut came mid-exchange).
      expect(s.reusedOwnBatches, `${side} own`).toBeGreaterThan(0);
      expect(s.reusedOwnBatches, `${side} own`).toBeLessThan(batches[side]);
      expect(s.reusedPeerBatches, `${side} peer`).toBeGreaterThan(0);
      expect(s.reusedPeerBatches, `${side} peer`).toBeLessThanOrEqual(batches[peer]);
    }
    // The left side's batches the right side kept are not sent again.
    expect(summary.left.bytesSent).toBeLessThan(2000 * (32 + 12));
    expect(existsSync(join(f.ck, 'left'))).toBe(false);
    expect(existsSync(join(f.ck, 'right'))).toBe(false);
  });

  it('continues after the peer was stopped mid-run, once both parties resume', async () => {
    const f = setup();
    const cfg = (side: 'left' | 'right', resume: boolean) => ({
      session: 'resume-2',
      party: party(side, side === 'left' ? f.left : f.right, f.out, { batchSize: 64 }),
      peerTimeoutMs: 2_000,
      checkpointDir: join(f.ck, side),
      resume,
    });
    const { mkdirSync } = await import('node:fs');
    mkdirSync(f.out);
    const pair = await startPair(system, cfg('left', false), cfg('right', false));
    for (;;) {
      const p = await pair.left.ask<{ progress: { returned: number } }>({ type: 'progress-snapshot' });
      if (p.progress.returned >= 500) break;
      await new Promise((r) => setTimeout(r, 2));
    }
    await system.stop(pair.right); // the right party goes away mid-run
    const l = await pair.ended.left;
    // Its port goes first (children stop before their parent), so left sees it terminate, or reads its goodbye.
    expect(l.error instanceof PsiPeerLostError || l.error instanceof PsiPeerAbortedError, String(l.error)).toBe(true);
    await pair.stop();
    const again = await startPair(system, cfg('left', true), cfg('right', true));
    const [l2, r2] = await Promise.all([again.ended.left, again.ended.right]);
    await again.stop();
    expect(l2.error).toBeUndefined();
    expect((l2.ok as SideSummary).reusedOwnBatches).toBeGreaterThan(0);
    expect((r2.ok as SideSummary).matchedKeys).toBe(1000);
    expect(readFileSync(join(f.out, 'left.csv'), 'utf8')).toBe(expectedLeft());
    expect(readFileSync(join(f.out, 'right.csv'), 'utf8')).toBe(expectedRight());
  });

  it('finishes with a resume when a message was lost on the way (the checkpoint is kept for it)', async () => {
    const f = setup();
    const opts = { left: f.left, right: f.right, key: ['id'], outDir: f.out, threads: 2, batchSize: 64 };
    const relay = corrupting('right', (m) => (m.type === 'batch' && m.index === 3 ? [] : [m]));
    const first = await runPsi(system, { ...opts, checkpointDir: f.ck, relay }).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(PsiPeerLostError);
    expect(existsSync(join(f.ck, 'left', 'key'))).toBe(true);
    const summary = await runPsi(system, { ...opts, checkpointDir: f.ck, resume: true });
    expect(readFileSync(join(f.out, 'left.csv'), 'utf8')).toBe(expectedLeft());
    expect(readFileSync(join(f.out, 'right.csv'), 'utf8')).toBe(expectedRight());
    expect(summary.left.reusedPeerBatches).toBeGreaterThan(0);
  });

  // A network blink while both stay up: the link drops one message and records it as a `disconnected`
  // dead letter (as a remote link does), and pings go on both ways, so no timeout would ever fire.
  for (const lost of ['end', 'batch'] as const) {
    it(`ends both at once, resumable, when the link dead-letters left's ${lost} while pings go on; a resume finishes`, async () => {
      const f = setup();
      const opts = { left: f.left, right: f.right, key: ['id'], outDir: f.out, threads: 2, batchSize: 64 };
      let dropped = 0;
      const blinking = defineActor<PeerMsg, undefined, PsiRelayInput>({
        init: () => undefined,
        receive: (_s, msg, ctx) => {
          const hit = ctx.input.from === 'left' && msg.type === lost && (msg.type !== 'batch' || msg.index === 5);
          if (!hit || dropped > 0) ctx.input.to.tell(msg);
          else {
            dropped++;
            ctx.system.deadLetters.record(ctx.self.path, msg, 'disconnected');
          }
        },
      });
      const started = Date.now();
      // peerTimeoutMs far above the bound below: only the dead letter can end this run in time.
      const first = await runPsi(system, {
        ...opts,
        checkpointDir: f.ck,
        peerTimeoutMs: 120_000,
        relay: blinking,
      }).catch((e: unknown) => e);
      expect(dropped).toBe(1);
      expect(Date.now() - started).toBeLessThan(30_000);
      expect(first).toBeInstanceOf(PsiPeerLostError);
      expect((first as PsiPeerLostError).reason).toBe('messages-lost');
      expect((first as Error).message).toMatch(new RegExp(`${lost} message to the peer was lost in transit`));
      expect(readdirSync(f.out)).toEqual([]);
      expect(existsSync(join(f.ck, 'left', 'key'))).toBe(true);
      expect(existsSync(join(f.ck, 'right', 'key'))).toBe(true);
      await runPsi(system, { ...opts, checkpointDir: f.ck, resume: true });
      expect(readFileSync(join(f.out, 'left.csv'), 'utf8')).toBe(expectedLeft());
      expect(readFileSync(join(f.out, 'right.csv'), 'utf8')).toBe(expectedRight());
    });
  }

  // The same loss as the receiver sees it first: the next message comes before the sender learns of
  // the loss (over NATS the gap is found on the receiving side). A message that can only follow the
  // lost one means a loss, not a lie: resumable, and no checkpoint is thrown away.
  for (const [lost, next] of [
    ['end', 'prepared'],
    ['prepared', 'committed'],
  ] as const) {
    it(`ends resumable (not as a protocol error) when left's ${lost} is lost silently and its ${next} arrives; a resume finishes`, async () => {
      const f = setup();
      const opts = { left: f.left, right: f.right, key: ['id'], outDir: f.out, threads: 2, batchSize: 64 };
      let dropped = 0;
      const relay = corrupting('left', (m) => (m.type === lost && dropped++ === 0 ? [] : [m]));
      const first = await runPsi(system, { ...opts, checkpointDir: f.ck, peerTimeoutMs: 120_000, relay }).catch(
        (e: unknown) => e,
      );
      expect(dropped).toBe(1);
      expect(first).toBeInstanceOf(PsiPeerLostError);
      expect((first as PsiPeerLostError).reason).toBe('messages-lost');
      expect((first as Error).message).toMatch(
        new RegExp(`^psi right: peer lost \\(the peer's ${next} arrived but its ${lost} did not`),
      );
      expect(existsSync(join(f.ck, 'right', 'key'))).toBe(true);
      // Left commits when its prepared was the loss (it had right's): its output stands, and the resume writes it again.
      expect(readdirSync(f.out)).toEqual(lost === 'prepared' ? ['left.csv'] : []);
      await runPsi(system, { ...opts, checkpointDir: f.ck, resume: true, overwrite: true });
      expect(readFileSync(join(f.out, 'left.csv'), 'utf8')).toBe(expectedLeft());
      expect(readFileSync(join(f.out, 'right.csv'), 'utf8')).toBe(expectedRight());
    });
  }

  it('refuses, on both sides and keeping the checkpoint, to resume against a party that starts afresh', async () => {
    const f = setup();
    const opts = { left: f.left, right: f.right, key: ['id'], outDir: f.out, threads: 2, batchSize: 64 };
    await runPsi(system, { ...opts, checkpointDir: f.ck, peerTimeoutMs: 1_500, relay: cutAfter(5) }).catch(
      () => undefined,
    );
    const { rmSync } = await import('node:fs');
    rmSync(join(f.ck, 'right'), { recursive: true }); // the right party lost its checkpoint
    const e = await runPsi(system, { ...opts, checkpointDir: f.ck, resume: true }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(PsiHandshakeError);
    expect((e as Error).message).toMatch(
      /disagree on resume: left has a resume of run [0-9a-f]{32}, right has a fresh run\. Resume both parties/,
    );
    expect(existsSync(join(f.ck, 'left', 'key'))).toBe(true); // a mistake in the flags must not cost the checkpoint
    expect(readdirSync(f.out)).toEqual([]);
  });

  it('lets a side that had committed serve the peer that had not, then both delete their checkpoints', async () => {
    const f = setup();
    const opts = { left: f.left, right: f.right, key: ['id'], outDir: f.out, threads: 2, batchSize: 64 };
    // Left's 'prepared' never reaches right: left commits (it has right's), right loses left and aborts.
    let dead = false;
    const relay = corrupting('left', (m) => {
      if (m.type === 'prepared') dead = true;
      return dead ? [] : [m];
    });
    const first = await runPsi(system, { ...opts, checkpointDir: f.ck, peerTimeoutMs: 1_500, relay }).catch(
      (x: unknown) => x,
    );
    expect(first).toBeInstanceOf(PsiPeerLostError);
    expect(readdirSync(f.out)).toEqual(['left.csv']);
    expect(existsSync(join(f.ck, 'left', 'key'))).toBe(false); // committed: the key is gone
    expect(existsSync(join(f.ck, 'left', 'run.json'))).toBe(true); // the rest stays, to serve the peer
    expect(existsSync(join(f.ck, 'right', 'key'))).toBe(true);
    // Left's output is there already (it committed): the resume writes it again, so it must be allowed to.
    const summary = await runPsi(system, { ...opts, checkpointDir: f.ck, resume: true, overwrite: true });
    expect(readFileSync(join(f.out, 'right.csv'), 'utf8')).toBe(expectedRight());
    expect(readFileSync(join(f.out, 'left.csv'), 'utf8')).toBe(expectedLeft());
    // Nothing was masked again: every batch came from the checkpoints.
    expect(summary.left.reusedOwnBatches).toBe(Math.ceil(2000 / 64));
    expect(summary.right.reusedOwnBatches).toBe(Math.ceil(2400 / 64));
    expect(existsSync(join(f.ck, 'left'))).toBe(false);
    expect(existsSync(join(f.ck, 'right'))).toBe(false);
  });
});
