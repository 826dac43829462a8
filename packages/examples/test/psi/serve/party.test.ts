/**
 * Party jobs of `psi serve`: the service (a real child process, joined to a
 * real `nats-server` started by @troupe/remote's test helper) runs one side of
 * a two-party session, and a `psi party` process runs the other, meeting by
 * session name as two `psi party` processes do.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type NatsServer, startNatsServer } from '../../../../remote/test/helpers/NatsServer.js';
import {
  checkpointBytes,
  outputs,
  type PartyProcess,
  partyArgs,
  startParty,
  until,
  writePair,
} from '../../helpers/party.js';
import { call, type Service, startService, waitJob } from './helpers.js';

let server: NatsServer;
let work: string;
const services: Service[] = [];
const parties: PartyProcess[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  work = mkdtempSync(join(tmpdir(), 'troupe-psi-serve-party-'));
});
afterEach(async () => {
  for (const p of parties.splice(0)) {
    if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill('SIGKILL');
    await p.exited;
  }
  for (const s of services.splice(0)) {
    if (s.proc.exitCode === null && s.proc.signalCode === null) s.proc.kill('SIGKILL');
    await s.exited;
  }
});
afterAll(async () => {
  await server?.close();
  rmSync(work, { recursive: true, force: true });
});

async function service(args: string[]): Promise<Service> {
  const s = await startService(args);
  services.push(s);
  return s;
}
let sessions = 0;
function scenario(n: number) {
  const dir = mkdtempSync(join(work, 'run-'));
  return {
    dir,
    files: writePair(dir, n),
    session: `serve${++sessions}-${process.pid}`,
    outL: join(dir, 'out-left'),
    outR: join(dir, 'out-right'),
  };
}
function peer(s: ReturnType<typeof scenario>, extra: string[] = []): PartyProcess {
  const p = startParty(
    partyArgs({ side: 'right', file: s.files.right, out: s.outR, session: s.session, nats: server.url, extra }),
  );
  parties.push(p);
  return p;
}
const lastJson = (p: PartyProcess) => {
  const lines = p.stdout().trim().split('\n');
  return JSON.parse(lines[lines.length - 1] as string) as Record<string, unknown> & { error?: Record<string, string> };
};
const explain = (p: PartyProcess) => `stdout:\n${p.stdout()}\nstderr:\n${p.stderr()}`;

describe('psi serve party jobs', { timeout: 120_000 }, () => {
  it('runs a party job as the left of a session against a psi party process: both sides get their rows of the plain intersection, per reveal', async () => {
    const data = join(work, 'data-run');
    const { api } = await service(['--data', data, '--threads', '2', '--nats', server.url]);
    for (const reveal of ['both', 'right'] as const) {
      const s = scenario(2_000);
      const right = peer(s, ['--reveal', reveal]);
      const submitted = await call(`${api}/jobs`, {
        body: { party: { side: 'left', file: s.files.left, key: 'id', out: s.outL, session: s.session, reveal } },
      });
      expect(submitted.status, JSON.stringify(submitted.json)).toBe(201);
      const id = submitted.json.job.id as string;
      expect(submitted.json.job.request).toMatchObject({ kind: 'party', side: 'left', session: s.session, reveal });
      const done = await waitJob(api, id, (j) => j.state === 'done' || j.state === 'failed');
      expect(done.state, JSON.stringify(done.error)).toBe('done');
      const r = await right.exited;
      expect(r.code, explain(right)).toBe(0);
      expect(readFileSync(join(s.outR, 'right.csv'), 'utf8')).toBe(s.files.expectRight);
      const result = (await call(`${api}/jobs/${id}/result`)).json.result;
      // The link's bytes: at least 32 out + 32 back + 12 returned per item, as psi party counts them.
      expect(result.bytesSent).toBeGreaterThanOrEqual(2_000 * 32);
      expect(result.bytesReceived).toBeGreaterThanOrEqual(2_000 * 32);
      expect(done.progress).toMatchObject({ phase: 'done', fraction: 1, rows: { left: 2_000, right: 0 } });
      expect(done.progress.link.bytesSent).toBeGreaterThan(0);
      if (reveal === 'both') {
        expect(result).toMatchObject({ kind: 'party', side: 'left', learned: 'rows', matchedKeys: 1_000 });
        expect(readFileSync(join(s.outL, 'left.csv'), 'utf8')).toBe(s.files.expectLeft);
        expect(result.outputBytes.left).toBe(Buffer.byteLength(s.files.expectLeft));
        expect(outputs(s.outL)).toEqual(['left.csv']);
      } else {
        // Only the right learns the intersection: this side writes nothing and learns nothing of it.
        expect(result).toMatchObject({ kind: 'party', side: 'left', learned: 'nothing', matchedKeys: null });
        expect(result.outputBytes).toEqual({ left: 0, right: 0 });
        expect(outputs(s.outL)).toEqual([]);
      }
      expect(lastJson(right)).toMatchObject({ side: 'right', learned: 'rows', matchedKeys: 1_000 });
      // The record on disk names the session and the file, never the NATS server or credentials; no checkpoint is kept.
      const text = readFileSync(join(data, 'jobs', `${id}.json`), 'utf8');
      expect(JSON.parse(text)).toMatchObject({ id, state: 'done', request: { kind: 'party' } });
      expect(text).not.toContain(server.url.replace(/^nats:\/\//, ''));
      expect(readdirSync(s.outL, { withFileTypes: true }).filter((d) => d.name.startsWith('.psi-'))).toEqual([]);
    }
  });

  it('cancels a running party job: the peer process is told (its aborted exit 5) and neither side writes anything', async () => {
    const { api } = await service(['--data', join(work, 'data-cancel'), '--threads', '2', '--nats', server.url]);
    const s = scenario(40_000);
    const extra = ['--batch', '256', '--peer-timeout', '120'];
    const right = peer(s, extra);
    const submitted = await call(`${api}/jobs`, {
      body: {
        party: {
          side: 'left',
          file: s.files.left,
          key: 'id',
          out: s.outL,
          session: s.session,
          batch: 256,
          peerTimeout: 120,
        },
      },
    });
    expect(submitted.status, JSON.stringify(submitted.json)).toBe(201);
    const id = submitted.json.job.id as string;
    // The exchange is under way: the peer's checkpoint grows, and the job shows live progress of its own.
    await until(() => checkpointBytes(s.outR, s.session, 'right') > 50_000, 60_000, 'the exchange to be under way');
    const running = await waitJob(api, id, (j) => j.state === 'running' && j.progress.masked > 0);
    expect(['reading', 'masking', 'exchanging']).toContain(running.progress.phase);
    expect(running.progress.link.bytesReceived).toBeGreaterThan(0);
    const sentAt = Date.now();
    const cancel = await call(`${api}/jobs/${id}/cancel`, { method: 'POST' });
    expect(cancel.status).toBe(202);
    const r = await right.exited;
    expect(r.code, explain(right)).toBe(5);
    expect(lastJson(right).error).toMatchObject({ name: 'PsiPeerAbortedError' });
    // Told, not timed out (the peer timeout is 120 s).
    expect(r.at - sentAt).toBeLessThan(20_000);
    const job = await waitJob(api, id, (j) => j.state !== 'running');
    expect(job).toMatchObject({ state: 'cancelled', error: { code: 'ERR_JOB_CANCELLED' }, result: null });
    expect(outputs(s.outL)).toEqual([]);
    expect(outputs(s.outR)).toEqual([]);
  });

  it('SIGTERM to the service with a party job running: the job is recorded interrupted, the peer is told (exit 5), nothing is written', async () => {
    const data = join(work, 'data-term');
    const svc = await service(['--data', data, '--threads', '2', '--nats', server.url]);
    const s = scenario(40_000);
    const right = peer(s, ['--batch', '256', '--peer-timeout', '120']);
    const body = { side: 'left', file: s.files.left, key: 'id', out: s.outL, session: s.session, batch: 256 };
    const submitted = await call(`${svc.api}/jobs`, { body: { party: { ...body, peerTimeout: 120 } } });
    expect(submitted.status, JSON.stringify(submitted.json)).toBe(201);
    await until(() => checkpointBytes(s.outR, s.session, 'right') > 50_000, 60_000, 'the exchange to be under way');
    svc.proc.kill('SIGTERM');
    expect(await svc.exited, svc.stderr()).toBe(0);
    const r = await right.exited;
    expect(r.code, explain(right)).toBe(5);
    expect(lastJson(right).error).toMatchObject({ name: 'PsiPeerAbortedError' });
    const record = JSON.parse(readFileSync(join(data, 'jobs', 'j-1.json'), 'utf8'));
    expect(record).toMatchObject({ state: 'interrupted', error: { code: 'ERR_JOB_INTERRUPTED' }, result: null });
    expect(outputs(s.outL)).toEqual([]);
    expect(outputs(s.outR)).toEqual([]);
  });

  it('a service killed (SIGKILL) under a party job reports it interrupted at the next start, with nothing left; the peer ends as peer lost (exit 4)', async () => {
    const data = join(work, 'data-kill');
    const svc = await service(['--data', data, '--threads', '2', '--nats', server.url]);
    const s = scenario(40_000);
    const right = peer(s, ['--batch', '256', '--peer-timeout', '120']);
    const body = { side: 'left', file: s.files.left, key: 'id', out: s.outL, session: s.session, batch: 256 };
    expect((await call(`${svc.api}/jobs`, { body: { party: body } })).status).toBe(201);
    await until(() => checkpointBytes(s.outR, s.session, 'right') > 50_000, 60_000, 'the exchange to be under way');
    svc.proc.kill('SIGKILL');
    await svc.exited;
    const r = await right.exited;
    expect(r.code, explain(right)).toBe(4);
    const again = await service(['--data', data, '--threads', '2', '--nats', server.url]);
    const job = (await call(`${again.api}/jobs/j-1`)).json.job;
    expect(job).toMatchObject({
      state: 'interrupted',
      error: { code: 'ERR_JOB_INTERRUPTED' },
      request: { kind: 'party' },
    });
    // What the killed run left (its scratch folder, the folder it made) is removed, and the record says so;
    // no checkpoint (key material) was ever kept.
    expect(existsSync(s.outL) ? readdirSync(s.outL) : []).toEqual([]);
    expect(job.warnings.join('\n')).toMatch(/removed .*the run the service was killed under/);
    expect(outputs(s.outL)).toEqual([]);
    expect(outputs(s.outR)).toEqual([]);
  });

  it('answers a bad party request with a 4xx JSON error naming the field', async () => {
    const s = scenario(10);
    const good = { side: 'left', file: s.files.left, key: 'id', out: s.outL, session: s.session };
    const without = await service(['--data', join(work, 'data-bad-0'), '--threads', '2']);
    const refused = await call(`${without.api}/jobs`, { body: { party: good } });
    expect(refused).toMatchObject({ status: 400, json: { field: 'party', error: expect.stringMatching(/--nats/) } });
    const { api } = await service(['--data', join(work, 'data-bad'), '--threads', '2', '--nats', server.url]);
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ ...good, side: 'middle' }, 'party.side', /must be left or right, got "middle"/],
      [{ ...good, session: undefined }, 'party.session', /is required/],
      [{ ...good, session: 'a b' }, 'party.session', /must be 1-128 letters, digits/],
      [{ ...good, file: join(s.dir, 'missing.csv') }, 'party.file', /no such file on the server/],
      [{ ...good, key: 'nope' }, 'party.key', /no column named "nope"/],
      [{ ...good, batch: 0 }, 'party.batch', /must be an integer from 1 to 1048576, got 0/],
      [{ ...good, reveal: 'nobody' }, 'party.reveal', /must be both, left or right/],
      [{ ...good, cardinalityOnly: 'yes' }, 'party.cardinalityOnly', /must be true or false/],
      [{ ...good, nats: 'nats://elsewhere:4222' }, 'party.nats', /unknown field party.nats/],
      [{ ...good, out: s.files.left }, 'party.out', /is not a folder/],
    ];
    for (const [party, field, error] of cases) {
      const r = await call(`${api}/jobs`, { body: { party } });
      expect(r.status, JSON.stringify(party)).toBe(400);
      expect(r.json, JSON.stringify(party)).toMatchObject({ field, error: expect.stringMatching(error) });
    }
    const beside = await call(`${api}/jobs`, { body: { party: good, left: s.files.left } });
    expect(beside).toMatchObject({ status: 400, json: { field: 'left' } });
    const notObject = await call(`${api}/jobs`, { body: { party: 'left' } });
    expect(notObject).toMatchObject({ status: 400, json: { field: 'party' } });
    // Nothing was submitted.
    expect((await call(`${api}/jobs`)).json.jobs).toEqual([]);
  });
});
