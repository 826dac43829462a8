/**
 * `psi party` as two organisations would run it: over TLS with user
 * credentials (a certificate the test makes with `openssl`), and with one
 * nats-server per organisation, joined by a leaf-node link, each party
 * connected only to its own server.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LeafPair, startLeafPair } from '../../remote/test/helpers/LeafPair.js';
import { makeTestCertificate, type NatsServer, startNatsServer } from '../../remote/test/helpers/NatsServer.js';
import { outputs, type PartyProcess, partyArgs, startParty, writePair } from './helpers/party.js';

let work: string;
const started: PartyProcess[] = [];

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'troupe-psi-orgs-'));
});
afterAll(() => {
  for (const p of started) if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

const explain = (p: PartyProcess) => `stdout:\n${p.stdout()}\nstderr:\n${p.stderr()}`;
const lastJson = (p: PartyProcess) => JSON.parse(p.stdout().trim().split('\n').pop() as string);

/** Both parties of a session, each with its own server URL, flags and environment. */
async function runPair(
  session: string,
  each: Record<'left' | 'right', { nats: string; extra: string[]; env?: Record<string, string> }>,
) {
  const dir = mkdtempSync(join(work, 'run-'));
  const files = writePair(dir, 1_000);
  const out = { left: join(dir, 'out-left'), right: join(dir, 'out-right') };
  const procs = (['left', 'right'] as const).map((side) => {
    const p = startParty(
      partyArgs({
        side,
        file: files[side],
        out: out[side],
        session,
        nats: each[side].nats,
        extra: each[side].extra,
      }),
      each[side].env ?? {},
    );
    started.push(p);
    return p;
  });
  const codes = await Promise.all(procs.map((p) => p.exited));
  return { files, out, procs: procs as [PartyProcess, PartyProcess], codes: codes.map((c) => c.code) };
}

describe('psi party over TLS with user credentials', { timeout: 120_000 }, () => {
  let server: NatsServer;
  let cert: { certFile: string; keyFile: string; caFile: string };
  beforeAll(async () => {
    const dir = mkdtempSync(join(work, 'tls-'));
    cert = makeTestCertificate(dir);
    server = await startNatsServer({ tls: cert, user: 'payroll', pass: 'p4ss word' });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('runs both parties through a TLS server that requires a password, the password from the environment', async () => {
    const flags = {
      nats: server.url,
      extra: ['--nats-ca', cert.caFile, '--nats-user', 'payroll'],
      env: { PSI_NATS_PASSWORD: 'p4ss word' },
    };
    const run = await runPair('tls-ok', { left: flags, right: flags });
    expect(run.codes[0], explain(run.procs[0])).toBe(0);
    expect(run.codes[1], explain(run.procs[1])).toBe(0);
    expect(readFileSync(join(run.out.left, 'left.csv'), 'utf8')).toBe(run.files.expectLeft);
    expect(readFileSync(join(run.out.right, 'right.csv'), 'utf8')).toBe(run.files.expectRight);
  });

  it('refuses a wrong password and an untrusted certificate with exit 6, naming the cause, writing nothing', async () => {
    const dir = mkdtempSync(join(work, 'refused-'));
    const files = writePair(dir, 10);
    const one = (extra: string[], env: Record<string, string>) => {
      const p = startParty(
        partyArgs({
          side: 'left',
          file: files.left,
          out: join(dir, 'out'),
          session: 'tls-bad',
          nats: server.url,
          extra,
        }),
        env,
      );
      started.push(p);
      return p;
    };
    const wrong = one(['--nats-ca', cert.caFile, '--nats-user', 'payroll'], { PSI_NATS_PASSWORD: 'wrong' });
    const untrusted = one(['--nats-user', 'payroll'], { PSI_NATS_PASSWORD: 'p4ss word' });
    const [w, u] = await Promise.all([wrong.exited, untrusted.exited]);
    expect(w.code, explain(wrong)).toBe(6);
    expect(wrong.stderr()).toMatch(/authoriz/i);
    expect(u.code, explain(untrusted)).toBe(6);
    expect(untrusted.stderr()).toMatch(/certificate|self.signed|TLS/i);
    expect(outputs(join(dir, 'out'))).toEqual([]);
    expect(lastJson(wrong).error).toMatchObject({ name: 'ClusterJoinError' });
  });
});

describe('two organisations: one nats-server each, joined by a leaf-node link', { timeout: 120_000 }, () => {
  let pair: LeafPair;
  beforeAll(async () => {
    pair = await startLeafPair({ domain: 'psihub' });
  });
  afterAll(async () => {
    await pair?.close();
  });

  it('each party connects only to its own server; they find each other and both get their rows', async () => {
    const run = await runPair('two-orgs', {
      left: { nats: pair.hub.url, extra: ['--nats-js-domain', 'psihub'] },
      right: { nats: pair.leaf.url, extra: ['--nats-js-domain', 'psihub'] },
    });
    expect(run.codes[0], explain(run.procs[0])).toBe(0);
    expect(run.codes[1], explain(run.procs[1])).toBe(0);
    expect(readFileSync(join(run.out.left, 'left.csv'), 'utf8')).toBe(run.files.expectLeft);
    expect(readFileSync(join(run.out.right, 'right.csv'), 'utf8')).toBe(run.files.expectRight);
    expect(lastJson(run.procs[1])).toMatchObject({ side: 'right', matchedKeys: 500, peerConfirmed: true });
  });

  it('without the JetStream domain the leaf-side party is told how to fix it (exit 6)', async () => {
    const dir = mkdtempSync(join(work, 'nodomain-'));
    const files = writePair(dir, 10);
    const p = startParty(
      partyArgs({ side: 'right', file: files.right, out: join(dir, 'out'), session: 'no-domain', nats: pair.leaf.url }),
    );
    started.push(p);
    const e = await p.exited;
    expect(e.code, explain(p)).toBe(6);
    expect(p.stderr()).toMatch(/jetstreamDomain|--nats-js-domain/);
  });
});
