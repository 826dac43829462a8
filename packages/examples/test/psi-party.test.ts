/**
 * `psi party`: the command surface of one party on its own (flags, checks,
 * exit codes) as a real child process, and `runParty` with the peer in this
 * process (the NATS connection that finds the peer by session name comes
 * with @troupe/remote: psi-party-nats.test.ts).
 */
import { linkSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  PsiHandshakeError,
  PsiPeerLostError,
  PsiPeerProtocolError,
  PsiSession,
  resolvePartyOptions,
} from '@troupe/actors';
import { type ActorRef, ActorSystem, silentLogger } from '@troupe/core';
import { describe, expect, it } from 'vitest';
import { formatPartySummary, partyExitCode, runParty } from '../src/psi/party.js';
import { runToEnd } from './helpers/child.js';

function files() {
  const d = mkdtempSync(join(tmpdir(), 'troupe-psi-party-'));
  writeFileSync(join(d, 'a.csv'), 'id,name\na,1\nb,2\nc,3\n');
  writeFileSync(join(d, 'b.csv'), 'id,name\nb,x\nc,y\nd,z\n');
  return { d, a: join(d, 'a.csv'), b: join(d, 'b.csv') };
}
const base = (f: { d: string; a: string }) => [
  'party',
  '--side',
  'left',
  '--file',
  f.a,
  '--key',
  'id',
  '--out',
  join(f.d, 'out'),
  '--session',
  'payroll-2026-12',
  '--threads',
  '2',
];

describe('psi party (command)', { timeout: 120_000 }, () => {
  it('prints its usage with every flag and the exit codes', async () => {
    const r = await runToEnd('psi', ['party', '--help']);
    expect(r.code).toBe(0);
    for (const flag of [
      '--side',
      '--file',
      '--key',
      '--out',
      '--session',
      '--nats',
      '--reveal',
      '--cardinality-only',
      '--resume',
      '--peer-timeout',
    ]) {
      expect(r.stdout).toContain(flag);
    }
    expect(r.stdout).toMatch(/exit codes: 0 done; 2 bad input or usage, or the parties disagree; 4 peer lost/);
  });

  it('never replaces its input or an existing file with its result: refused before meeting the peer (exit 2)', async () => {
    const f = files();
    const nats = ['--nats', 'nats://127.0.0.1:4222'];
    const run = (file: string, out: string) =>
      runToEnd('psi', [...base(f).map((a) => (a === f.a ? file : a === join(f.d, 'out') ? out : a)), ...nats]);
    // The input is <out>/left.csv itself.
    const input = join(f.d, 'left.csv');
    writeFileSync(input, 'id,v\n1,x\n2,y\n');
    const same = await run(input, f.d);
    expect(same.code).toBe(2);
    expect(same.stderr).toMatch(/--out would write the result to .*left\.csv, which is the input file/);
    expect(readFileSync(input, 'utf8')).toBe('id,v\n1,x\n2,y\n');
    // The same file through a hard link.
    const linked = join(f.d, 'linked');
    mkdirSync(linked);
    linkSync(f.a, join(linked, 'left.csv'));
    expect((await run(f.a, linked)).stderr).toMatch(/which is the input file/);
    // An existing file that is not the input.
    const taken = join(f.d, 'taken');
    mkdirSync(taken);
    writeFileSync(join(taken, 'left.csv'), 'precious\n');
    const existing = await run(f.a, taken);
    expect(existing.code).toBe(2);
    expect(existing.stderr).toMatch(/left\.csv already exists: choose another folder/);
    expect(readFileSync(join(taken, 'left.csv'), 'utf8')).toBe('precious\n');
  });

  it('checks its flags and its input, and needs --nats to meet the peer (exit 2)', async () => {
    const f = files();
    const r = await runToEnd('psi', base(f));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--nats is needed: the two parties meet over a NATS server/);
    const n = await runToEnd('psi', [...base(f), '--nats', 'http://example.org']);
    expect(n.code).toBe(2);
    expect(n.stderr).toMatch(/--nats must be server URLs such as nats:\/\/host:4222, got "http:\/\/example.org"/);
    const u = await runToEnd('psi', [...base(f), '--nats', 'nats://127.0.0.1:4222', '--nats-user', 'troupe']);
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(/--nats-user needs its password in the environment variable PSI_NATS_PASSWORD/);
    // Two ways to authenticate: refused before anything runs, naming both (the child inherits this environment).
    process.env.PSI_NATS_PASSWORD = 'secret';
    process.env.PSI_NATS_TOKEN = 'token';
    try {
      const two = await runToEnd('psi', [...base(f), '--nats', 'nats://127.0.0.1:4222', '--nats-user', 'troupe']);
      expect(two.code).toBe(2);
      expect(two.stderr).toMatch(/--nats-user cannot be combined with PSI_NATS_TOKEN: give one way to authenticate/);
    } finally {
      delete process.env.PSI_NATS_PASSWORD;
      delete process.env.PSI_NATS_TOKEN;
    }
  });

  const bad: [string, string[], RegExp][] = [
    ['a missing --session', ['--session'], /--session is required/],
    ['a bad --side', ['--side=middle'], /--side must be left or right, got "middle"/],
    ['a bad --reveal', ['--reveal=nobody'], /--reveal must be both, left or right, got "nobody"/],
    ['a bad --batch', ['--batch=0'], /--batch must be an integer from 1 to 1048576, got "0"/],
    [
      '--resume with --cardinality-only',
      ['--resume', '--cardinality-only'],
      /--resume cannot be used with --cardinality-only/,
    ],
    ['a bad --session name', ['--session=a b'], /--session must be 1-128 letters, digits/],
  ];
  for (const [what, change, message] of bad) {
    it(`exits 2 on ${what}, naming the flag`, async () => {
      const f = files();
      let args = base(f);
      if (change[0] === '--session') args = args.filter((a, i) => a !== '--session' && args[i - 1] !== '--session');
      else
        for (const c of change) {
          const [flag, value] = c.split('=');
          const at = args.indexOf(flag as string);
          if (value !== undefined && at >= 0) args[at + 1] = value;
          else if (value !== undefined) args.push(flag as string, value);
          else args.push(flag as string);
        }
      const r = await runToEnd('psi', args);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
    });
  }

  it('exits 2 on bad input before it would contact anyone, naming the file', async () => {
    const f = files();
    const r = await runToEnd(
      'psi',
      base(f).map((a) => (a === f.a ? join(f.d, 'missing.csv') : a)),
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/missing\.csv: no such file/);
    const k = await runToEnd(
      'psi',
      base(f).map((a) => (a === 'id' ? 'nope' : a)),
    );
    expect(k.code).toBe(2);
    expect(k.stderr).toMatch(/a\.csv:1:1: the header has no column named "nope"/);
  });
});

describe('runParty', { timeout: 60_000 }, () => {
  it('runs one party against a peer it is connected to, and prints what it learned, the link and the stages', async () => {
    const f = files();
    mkdirSync(join(f.d, 'out'));
    const system = await ActorSystem.start({
      name: 'party',
      signals: false,
      logger: silentLogger,
      workers: { size: 2 },
    });
    try {
      const opts = { key: ['id'], outDir: join(f.d, 'out'), session: 's1', threads: 2, reveal: 'left' as const };
      const left = resolvePartyOptions({ side: 'left', file: f.a, ...opts });
      const right = resolvePartyOptions({ side: 'right', file: f.b, ...opts });
      const peer = system.spawn(PsiSession, { name: 'peer', input: { config: right } });
      const peerPort = await peer.ask<ActorRef<never>>({ type: 'get-port' });
      const peerDone = peer.ask({ type: 'result' }, { timeoutMs: 60_000 });
      const summary = await runParty(system, left, async (port) => {
        peer.tell({ type: 'connect', peer: port });
        return peerPort;
      });
      await peerDone;
      expect(summary).toMatchObject({ side: 'left', learned: 'rows', matchedKeys: 2, matchedRows: 2 });
      expect(readFileSync(join(f.d, 'out', 'left.csv'), 'utf8')).toBe('id,name\nb,2\nc,3\n');
      const text = formatPartySummary(summary);
      expect(text).toMatch(/^psi party left \(session s1\): 3 rows, 3 unique keys/);
      expect(text).toMatch(/learned: the intersection: 2 keys; 2 rows written to .*left\.csv/);
      expect(text).toMatch(/of the peer: its number of unique keys \(3, in 1 batches\)/);
      expect(text).toMatch(/peer link: sent \d+\.\d MB in \d+ messages, received \d+\.\d MB in \d+/);
      expect(text).toMatch(/stages: handshake \d+\.\d\d s, read .*, exchange .*, write .*, commit .*; total/);
      await system.stop(peer);
    } finally {
      await system.shutdown();
    }
  });

  it('maps how a party ends to its documented exit code', () => {
    expect(partyExitCode(new PsiPeerLostError('left', 'stalled', 'x'))).toBe(4);
    expect(partyExitCode(new PsiPeerProtocolError('left', 'x'))).toBe(5);
    expect(partyExitCode(new PsiHandshakeError('s', 'batchSize', 1, 2))).toBe(2);
    expect(partyExitCode(new Error('x'))).toBe(1);
  });
});
