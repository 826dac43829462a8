/**
 * `psi party` as it is meant to run: each party its own `node` process on its
 * own file, the two meeting by session name on a real `nats-server` (started
 * by @troupe/remote's test helper on a free loopback port). A full run against
 * the plain intersection, a peer killed mid-run (and `--resume` after it),
 * signals on either side, a side claimed twice, a party that cannot reach
 * its server, a lying peer (its own process, on the real transport) and the
 * server restarted mid-run.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, type NatsServer, startNatsServer } from '../../remote/test/helpers/NatsServer.js';
import {
  bothExit,
  checkpointBytes,
  outputs,
  type PartyProcess,
  partyArgs,
  startParty,
  until,
  writePair,
} from './helpers/party.js';

let server: NatsServer;
let work: string;
const started: PartyProcess[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  work = mkdtempSync(join(tmpdir(), 'troupe-psi-nats-'));
});
afterAll(async () => {
  for (const p of started) if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill('SIGKILL');
  await server?.close();
  rmSync(work, { recursive: true, force: true });
});

let sessions = 0;
/** A fresh folder with two overlapping files of `n` rows, and a session name of its own. */
function scenario(n: number) {
  const dir = mkdtempSync(join(work, 'run-'));
  const files = writePair(dir, n);
  const session = `t${++sessions}-${process.pid}`;
  const outL = join(dir, 'out-left');
  const outR = join(dir, 'out-right');
  const run = (side: 'left' | 'right', extra: string[] = [], env: Record<string, string> = {}) => {
    const p = startParty(
      partyArgs({
        side,
        file: side === 'left' ? files.left : files.right,
        out: side === 'left' ? outL : outR,
        session,
        nats: server.url,
        extra,
      }),
      env,
    );
    started.push(p);
    return p;
  };
  return { dir, files, session, outL, outR, run };
}

const json = (p: PartyProcess) => {
  const lines = p.stdout().trim().split('\n');
  return JSON.parse(lines[lines.length - 1] as string) as Record<string, unknown> & { error?: Record<string, string> };
};
const explain = (p: PartyProcess) => `stdout:\n${p.stdout()}\nstderr:\n${p.stderr()}`;

describe('psi party over NATS, one process per party', { timeout: 120_000 }, () => {
  it('finds the peer by session name and both write exactly their rows of the plain intersection', async () => {
    const s = scenario(2_000);
    const left = s.run('left');
    const right = s.run('right');
    const [l, r] = await Promise.all([left.exited, right.exited]);
    expect(l.code, explain(left)).toBe(0);
    expect(r.code, explain(right)).toBe(0);
    expect(readFileSync(join(s.outL, 'left.csv'), 'utf8')).toBe(s.files.expectLeft);
    expect(readFileSync(join(s.outR, 'right.csv'), 'utf8')).toBe(s.files.expectRight);
    const ls = json(left);
    expect(ls).toMatchObject({
      side: 'left',
      learned: 'rows',
      matchedKeys: 1_000,
      peerUniqueKeys: 2_000,
      peerConfirmed: true,
    });
    // Bytes on the wire as the summary counts them: at least 32 out + 32 back + 12 returned per item.
    expect(ls.bytesSent as number).toBeGreaterThanOrEqual(2_000 * (32 + 12));
    expect(ls.bytesReceived as number).toBeGreaterThanOrEqual(2_000 * (32 + 12));
    expect(Object.keys(ls.stages as object).sort()).toEqual(['commit', 'exchange', 'handshake', 'read', 'write']);
    // The party's own peak RSS (what the two-party bench records per party): more than a bare Node, in MB.
    expect(ls.maxRssMb as number).toBeGreaterThan(20);
    expect(ls.maxRssMb as number).toBeLessThan(4096);
    // Nothing of the run is left behind: the checkpoints (keys) are deleted once both committed.
    expect(outputs(s.outL)).toEqual(['left.csv']);
    expect(checkpointBytes(s.outL, s.session, 'left')).toBe(0);
  });

  it('a peer killed with SIGKILL mid-run ends the other within the detection bound, exit 4, no output; --resume on both then finishes', async () => {
    const s = scenario(40_000);
    // A long peer timeout: only the peer node's death (noticed within 3.25 s) can end it sooner.
    const extra = ['--batch', '256', '--peer-timeout', '120'];
    const left = s.run('left', extra);
    const right = s.run('right', extra);
    await until(
      () => checkpointBytes(s.outR, s.session, 'right') > 50_000 || right.proc.exitCode !== null,
      60_000,
      'the exchange to be under way',
    );
    expect(right.proc.exitCode, explain(right)).toBeNull();
    const killedAt = Date.now();
    left.proc.kill('SIGKILL');
    const r = await right.exited;
    expect(r.code, explain(right)).toBe(4);
    expect(r.at - killedAt).toBeLessThan(15_000); // bound 3.25 s, generous for a loaded machine
    expect(json(right).error).toMatchObject({ name: 'PsiPeerLostError' });
    expect(right.stderr()).toMatch(/peer lost \(the peer's session is gone: its process or node died/);
    expect(outputs(s.outR)).toEqual([]);
    expect(outputs(s.outL, 'left')).toEqual([]);

    // Both resume from their checkpoints and finish, without redoing what was recorded.
    const left2 = s.run('left', [...extra, '--resume']);
    const right2 = s.run('right', [...extra, '--resume']);
    const [l2, r2] = await Promise.all([left2.exited, right2.exited]);
    expect(l2.code, explain(left2)).toBe(0);
    expect(r2.code, explain(right2)).toBe(0);
    expect(readFileSync(join(s.outL, 'left.csv'), 'utf8')).toBe(s.files.expectLeft);
    expect(readFileSync(join(s.outR, 'right.csv'), 'utf8')).toBe(s.files.expectRight);
    const rs = json(right2);
    expect(rs.resumed).toBe(true);
    expect((rs.reusedOwnBatches as number) + (rs.reusedPeerBatches as number)).toBeGreaterThan(0);
    expect(outputs(s.outR)).toEqual(['right.csv']);
    // The killed side's scratch folder went with the resumed run.
    expect(outputs(s.outL)).toEqual(['left.csv']);
  });

  for (const [signal, code, victim] of [
    ['SIGTERM', 143, 'left'],
    ['SIGINT', 130, 'right'],
  ] as const) {
    it(`${signal} to the ${victim} party mid-run: it ends (exit ${code}, nothing written) and the other is told (exit 5)`, async () => {
      const s = scenario(40_000);
      const extra = ['--batch', '256', '--peer-timeout', '120'];
      const left = s.run('left', extra);
      const right = s.run('right', extra);
      const [hit, other] = victim === 'left' ? [left, right] : [right, left];
      const otherSide = victim === 'left' ? 'right' : 'left';
      await until(
        () => checkpointBytes(victim === 'left' ? s.outR : s.outL, s.session, otherSide) > 50_000,
        60_000,
        'the exchange to be under way',
      );
      const sentAt = Date.now();
      hit.proc.kill(signal);
      const [h, o] = await Promise.all([hit.exited, other.exited]);
      expect(h.code, explain(hit)).toBe(code);
      expect(hit.stderr()).toContain(`interrupted by ${signal}; nothing written`);
      expect(o.code, explain(other)).toBe(5);
      expect(json(other).error).toMatchObject({ name: 'PsiPeerAbortedError' });
      expect(other.stderr()).toMatch(/the peer was interrupted/);
      // Told, not timed out: well before the peer timeout (120 s) and without waiting for the detector.
      expect(o.at - sentAt).toBeLessThan(20_000);
      expect(outputs(s.outL)).toEqual([]);
      expect(outputs(s.outR)).toEqual([]);
    });
  }

  it('refuses a second party claiming a side that a live party holds (exit 2), and the run goes on', async () => {
    const s = scenario(2_000);
    // The registry's KV bucket publishes each registration on $KV.<bucket>.<name>: wait for the left's.
    const nc = await connect({ servers: server.url });
    try {
      const registered = nc.subscribe(`$KV.troupe-psi.psi.${s.session}.left`, { max: 1 });
      await nc.flush();
      const left = s.run('left');
      for await (const _ of registered) break;
      const intruder = startParty(
        partyArgs({
          side: 'left',
          file: s.files.left,
          out: join(s.dir, 'out-intruder'),
          session: s.session,
          nats: server.url,
        }),
      );
      started.push(intruder);
      const i = await intruder.exited;
      expect(i.code, explain(intruder)).toBe(2);
      expect(json(intruder).error).toMatchObject({ name: 'PsiSideTakenError' });
      expect(outputs(join(s.dir, 'out-intruder'))).toEqual([]);
      const right = s.run('right');
      const [l, r] = await Promise.all([left.exited, right.exited]);
      expect(l.code, explain(left)).toBe(0);
      expect(r.code, explain(right)).toBe(0);
      expect(readFileSync(join(s.outR, 'right.csv'), 'utf8')).toBe(s.files.expectRight);
    } finally {
      await nc.close();
    }
  });

  it('a party that cannot reach its NATS server says so and exits 6, writing nothing', async () => {
    const s = scenario(10);
    const port = await freePort();
    const p = startParty(
      partyArgs({
        side: 'left',
        file: s.files.left,
        out: s.outL,
        session: s.session,
        nats: `nats://127.0.0.1:${port}`,
      }),
    );
    started.push(p);
    const e = await p.exited;
    expect(e.code, explain(p)).toBe(6);
    expect(p.stderr()).toMatch(/127\.0\.0\.1:\d+/);
    expect(outputs(s.outL)).toEqual([]);
  });
});

describe('psi party over NATS: a peer that lies, over the real transport', { timeout: 120_000 }, () => {
  const liarScript = fileURLToPath(new URL('./fixtures/liarParty.ts', import.meta.url));
  for (const [mode, said] of [
    ['wrong-length', /batch 0 of 33 bytes: not a whole, non-zero number of 32-byte points/],
    ['too-many', /batch 1 after its end \(more items than announced\)/],
    ['low-order', /a low-order point in batch 0/],
    ['replayed', /batch 0 twice \(a replayed or duplicated batch\)/],
  ] as const) {
    it(`a peer sending ${mode} data: a clear error naming it (exit 5), no crash, no output`, async () => {
      const s = scenario(2_000);
      const liar = spawn(
        process.execPath,
        ['--conditions=source', '--import', 'tsx', liarScript, server.url, s.session, mode],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let liarOut = '';
      liar.stdout?.on('data', (d) => {
        liarOut += d;
      });
      liar.stderr?.on('data', (d) => {
        liarOut += d;
      });
      try {
        await until(
          () => liarOut.includes('ready') || liar.exitCode !== null,
          30_000,
          `the liar to register: ${liarOut}`,
        );
        expect(liarOut).toContain('ready');
        const right = s.run('right', ['--peer-timeout', '60']);
        const r = await right.exited;
        expect(r.code, explain(right)).toBe(5);
        expect(json(right).error).toMatchObject({ name: 'PsiPeerProtocolError' });
        expect(right.stderr()).toMatch(said);
        expect(right.stderr()).not.toMatch(/\n\s+at /); // an error message, not a stack trace
        expect(outputs(s.outR)).toEqual([]);
        expect(liarOut).toContain('sent');
      } finally {
        liar.kill('SIGKILL');
      }
    });
  }
});

describe('psi party over NATS: the server restarts mid-run', { timeout: 180_000 }, () => {
  it('both end (finished, or peer lost with exit 4: never a hang); --resume on both then finishes with the right rows', async () => {
    const own = await startNatsServer();
    try {
      const s = scenario(40_000);
      const extra = ['--batch', '256', '--peer-timeout', '10'];
      const args = (side: 'left' | 'right', more: string[] = []) =>
        partyArgs({
          side,
          file: side === 'left' ? s.files.left : s.files.right,
          out: side === 'left' ? s.outL : s.outR,
          session: s.session,
          nats: own.url,
          extra: [...extra, ...more],
        });
      const left = startParty(args('left'));
      const right = startParty(args('right'));
      started.push(left, right);
      await until(() => checkpointBytes(s.outR, s.session, 'right') > 50_000, 60_000, 'the exchange to be under way');
      const downAt = Date.now();
      await own.restart(1_000);
      const [l, r] = await bothExit(left, right, 90_000);
      // Bounded: the peer timeout (10 s) after the outage, plus the shutdown; far below the test's timeout.
      expect(Math.max(l.at, r.at) - downAt).toBeLessThan(60_000);
      for (const [p, e] of [
        [left, l],
        [right, r],
      ] as const) {
        expect([0, 4, 5], explain(p)).toContain(e.code);
      }
      if (l.code !== 0 || r.code !== 0) {
        // No half result: a side that did not finish wrote nothing.
        if (l.code !== 0) expect(outputs(s.outL)).toEqual([]);
        if (r.code !== 0) expect(outputs(s.outR)).toEqual([]);
        const left2 = startParty(args('left', ['--resume']));
        const right2 = startParty(args('right', ['--resume']));
        started.push(left2, right2);
        const [l2, r2] = await bothExit(left2, right2, 60_000);
        expect(l2.code, explain(left2)).toBe(0);
        expect(r2.code, explain(right2)).toBe(0);
      }
      expect(readFileSync(join(s.outL, 'left.csv'), 'utf8')).toBe(s.files.expectLeft);
      expect(readFileSync(join(s.outR, 'right.csv'), 'utf8')).toBe(s.files.expectRight);
    } finally {
      await own.close();
    }
  });
});
