// `psi serve` as a real child process: real files, real signals, records on disk.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { call, inputs, type Service, startService, TOKEN, waitFor, waitJob } from './helpers.js';

let small: Awaited<ReturnType<typeof inputs>>;
let medium: Awaited<ReturnType<typeof inputs>>;
let big: Awaited<ReturnType<typeof inputs>>;
beforeAll(async () => {
  small = await inputs(2_000);
  medium = await inputs(30_000); // runs for seconds: long enough to be caught running, short enough to wait for
  big = await inputs(150_000); // runs for half a minute: only ever stopped here
}, 60_000);

const services: Service[] = [];
afterEach(async () => {
  for (const s of services.splice(0)) {
    if (s.proc.exitCode === null && s.proc.signalCode === null) s.proc.kill('SIGKILL');
    await s.exited;
  }
});
async function service(args: string[]): Promise<Service> {
  const s = await startService(args);
  services.push(s);
  return s;
}
const job = (i: typeof small, out: string, extra: Record<string, unknown> = {}) => ({
  left: i.left,
  right: i.right,
  key: 'email',
  out,
  threads: 2,
  ...extra,
});
const record = (data: string, id: string) => JSON.parse(readFileSync(join(data, 'jobs', `${id}.json`), 'utf8'));

describe('psi serve', () => {
  it('runs a submitted job to done with live progress, and returns its summary', async () => {
    const data = join(small.dir, 'data-1');
    const { api } = await service(['--data', data, '--threads', '2']);
    const out = join(small.dir, 'out-1');
    const submitted = await call(`${api}/jobs`, { body: job(small, out) });
    expect(submitted.status).toBe(201);
    expect(submitted.json.job).toMatchObject({ id: 'j-1', request: { key: ['email'], threads: 2 } });
    expect(['queued', 'running']).toContain(submitted.json.job.state); // it starts at once when there is room
    const done = await waitJob(api, 'j-1', (j) => j.state === 'done');
    expect(done.progress).toMatchObject({ phase: 'done', fraction: 1, rows: { left: 2_000, right: 2_000 } });
    const result = await call(`${api}/jobs/j-1/result`);
    expect(result.status).toBe(200);
    expect(result.json.result).toMatchObject({
      intersection: small.expected.intersection,
      left: { rows: 2_000, outFile: join(out, 'left.csv') },
      outputBytes: { left: expect.any(Number), right: expect.any(Number) },
    });
    expect(existsSync(join(out, 'left.csv')) && existsSync(join(out, 'right.csv'))).toBe(true);
    expect(record(data, 'j-1')).toMatchObject({ id: 'j-1', state: 'done' });
    const list = await call(`${api}/jobs`);
    expect(list.json.jobs.map((j: { id: string }) => j.id)).toEqual(['j-1']);
    expect((await call(`${api}/health`)).json).toEqual({ ok: true, queued: 0, running: 0 });

    // The outputs exist now: the same job again is refused at the door, unless it may replace them.
    const again = await call(`${api}/jobs`, { body: job(small, out) });
    expect(again).toMatchObject({
      status: 400,
      json: { field: 'out', error: expect.stringMatching(/already exists/) },
    });
    const replace = await call(`${api}/jobs`, { body: job(small, out, { overwrite: true }) });
    expect(replace.status).toBe(201);
    expect(replace.json.job.request).toMatchObject({ overwrite: true, emptyKeys: 'match' });
    expect(await waitJob(api, replace.json.job.id, (j) => j.state === 'done')).toMatchObject({ warnings: [] });
  }, 120_000);

  it('answers bad requests with a 4xx JSON error naming the field', async () => {
    const { api } = await service(['--data', join(small.dir, 'data-2'), '--threads', '2']);
    const out = join(small.dir, 'out-2');
    const bad = async (body: unknown, status: number, field: string | undefined, error: RegExp) => {
      const r = await call(`${api}/jobs`, { body });
      expect(r.status, JSON.stringify(body)).toBe(status);
      expect(r.json.field, JSON.stringify(r.json)).toBe(field);
      expect(r.json.error).toMatch(error);
    };
    await bad({ ...job(small, out), left: undefined }, 400, 'left', /left is required/);
    await bad({ ...job(small, out), right: '' }, 400, 'right', /right is required/);
    await bad({ ...job(small, out), key: [] }, 400, 'key', /key must name one or more columns/);
    await bad({ ...job(small, out), key: 'email,email' }, 400, 'key', /names a column twice/);
    await bad({ ...job(small, out), key: 'mail' }, 400, 'key', /no column named "mail"/);
    await bad({ ...job(small, out), left: join(small.dir, 'missing.csv') }, 400, 'left', /no such file on the server/);
    await bad({ ...job(small, out), threads: 3 }, 400, 'threads', /threads must be an integer from 1 to 2, got 3/);
    await bad({ ...job(small, out), batch: '4096' }, 400, 'batch', /batch must be an integer/);
    await bad({ ...job(small, out), delimiter: ';;' }, 400, 'delimiter', /one character/);
    await bad({ ...job(small, out), colour: 'blue' }, 400, 'colour', /unknown field colour/);
    await bad({ ...job(small, out), overwrite: 'yes' }, 400, 'overwrite', /overwrite must be true or false/);
    await bad(
      { ...job(small, out), emptyKeys: 'drop' },
      400,
      'emptyKeys',
      /emptyKeys must be one of match, skip, refuse/,
    );
    await bad({ ...job(small, join(small.dir, 'in')) }, 400, 'out', /would replace an input file/);
    await bad([1, 2], 400, undefined, /must be a JSON object/);
    const notJson = await call(`${api}/jobs`, { raw: '{"left":' });
    expect(notJson).toMatchObject({ status: 400, json: { error: expect.stringMatching(/not valid JSON/) } });
    const form = await call(`${api}/jobs`, { raw: 'left=a', type: 'application/x-www-form-urlencoded' });
    expect(form.status).toBe(415);
    expect((await call(`${api}/jobs`, { body: job(small, out), token: false })).status).toBe(401);
    expect((await call(`${api}/jobs`, { body: job(small, out), token: `${TOKEN}-no` })).json).toEqual({
      error: 'wrong token',
    });
    expect((await call(`${api}/jobs/j-9`)).json).toEqual({ error: 'no job j-9', field: 'id' });
    expect((await call(`${api}/jobs/j-9/cancel`, { method: 'POST' })).status).toBe(404);
    expect((await call(`${api}/elsewhere`)).status).toBe(404);
    expect((await call(`${api}/jobs/j-1`, { method: 'DELETE' })).status).toBe(405);
    // Nothing was submitted by any of these.
    expect((await call(`${api}/jobs`)).json.jobs).toEqual([]);
  }, 120_000);

  it('runs at most --max-running jobs and queues the rest; cancels a queued and a running job, leaving no output', async () => {
    const s = await service(['--data', join(big.dir, 'data-3'), '--threads', '2', '--max-running', '1']);
    const { api } = s;
    const outA = join(big.dir, 'out-3a');
    await call(`${api}/jobs`, { body: job(big, outA) });
    await call(`${api}/jobs`, { body: job(small, join(big.dir, 'out-3b')) });
    await call(`${api}/jobs`, { body: job(small, join(big.dir, 'out-3c')) });
    const busy = await call(`${api}/jobs`, { body: job(small, outA) });
    expect(busy).toMatchObject({
      status: 409,
      json: { field: 'out', error: expect.stringMatching(/j-1 .* already writes/) },
    });
    await waitJob(api, 'j-1', (j) => j.state === 'running' && j.progress.rows.left > 0);
    const states = (await call(`${api}/jobs`)).json.jobs.map((j: { state: string }) => j.state);
    expect(states).toEqual(['running', 'queued', 'queued']);

    const cancelQueued = await call(`${api}/jobs/j-2/cancel`, { method: 'POST' });
    expect(cancelQueued.status).toBe(202);
    expect((await call(`${api}/jobs/j-2`)).json.job).toMatchObject({
      state: 'cancelled',
      error: { code: 'ERR_JOB_CANCELLED' },
    });
    expect((await call(`${api}/jobs/j-1/cancel`, { method: 'POST', token: false })).status).toBe(401);
    // A fourth job whose input is gone by the time it starts: the PSI service's own check refuses it then.
    const gone = join(big.dir, 'gone.csv');
    copyFileSync(small.left, gone);
    await call(`${api}/jobs`, { body: { ...job(small, join(big.dir, 'out-3d')), left: gone } });
    rmSync(gone);

    const asked = Date.now();
    const cancelRunning = await call(`${api}/jobs/j-1/cancel`, { method: 'POST' });
    expect(cancelRunning).toMatchObject({ status: 202, json: { job: { id: 'j-1', cancelRequested: true } } });
    const cancelled = await waitJob(api, 'j-1', (j) => j.state === 'cancelled');
    const tookMs = Date.now() - asked;
    expect(cancelled.error).toMatchObject({ code: 'ERR_JOB_CANCELLED', message: expect.stringMatching(/no output/) });
    expect(existsSync(join(outA, 'left.csv')) || existsSync(join(outA, 'right.csv'))).toBe(false);
    // Fast: every stage wound down at once (about 1 s here at load 4.5, HTTP polling included);
    // none waited out its stop budget (5 s) to be abandoned, which the log would say.
    expect(tookMs).toBeLessThan(6_000);
    expect(s.stderr()).not.toMatch(/did not finish|abandon/);
    expect((await call(`${api}/jobs/j-1/cancel`, { method: 'POST' })).status).toBe(409);
    expect((await call(`${api}/jobs/j-1/result`)).status).toBe(409);
    // The queue moves on: the third job runs to the end, the fourth fails naming its missing file.
    await waitJob(api, 'j-3', (j) => j.state === 'done');
    const failed = await waitJob(api, 'j-4', (j) => j.state === 'failed');
    expect(failed.error).toMatchObject({ code: 'ERR_CSV_FILE_NOT_FOUND', message: expect.stringContaining(gone) });
    expect(existsSync(join(big.dir, 'out-3d'))).toBe(false); // the folder it would have made is not left behind
  }, 180_000);

  it('survives a restart: a job that was running is reported interrupted, a queued one then runs', async () => {
    const data = join(big.dir, 'data-4');
    const first = await service(['--data', data, '--threads', '2', '--max-running', '1']);
    const outA = join(big.dir, 'out-4a');
    await call(`${first.api}/jobs`, { body: job(big, outA) });
    await call(`${first.api}/jobs`, { body: job(small, join(big.dir, 'out-4b')) });
    await waitJob(first.api, 'j-1', (j) => j.state === 'running' && j.progress.rows.left > 0);
    first.proc.kill('SIGKILL'); // a crash: nothing gets to clean up
    expect(await first.exited).toBe(137);
    expect(record(data, 'j-1')).toMatchObject({ state: 'running', outFolderMade: true });
    // What a writer killed mid-write leaves: its temporary file, named with its (now dead) pid.
    mkdirSync(outA, { recursive: true });
    const temp = `.left.csv.${first.proc.pid}.0123456789ab.tmp`;
    writeFileSync(join(outA, temp), 'half a row,');

    const second = await service(['--data', data, '--threads', '2', '--max-running', '1']);
    const a = (await call(`${second.api}/jobs/j-1`)).json.job;
    expect(a).toMatchObject({ state: 'interrupted', error: { code: 'ERR_JOB_INTERRUPTED' } });
    expect(record(data, 'j-1').state).toBe('interrupted');
    // No partial output: the temporary file and the folder the run made are gone, and the record says so.
    expect(existsSync(outA)).toBe(false);
    // The killed run's scratch folders (spill files, sort runs) go too, each named.
    expect(a.warnings.filter((w: string) => !/a temporary scratch folder/.test(w))).toEqual([
      expect.stringContaining(`removed ${temp}`),
      expect.stringContaining('removed the folder'),
    ]);
    await waitJob(second.api, 'j-2', (j) => j.state === 'done');
    // New ids continue after the old ones.
    const next = await call(`${second.api}/jobs`, { body: job(small, join(big.dir, 'out-4c')) });
    expect(next.json.job.id).toBe('j-3');
  }, 180_000);

  it('on SIGTERM interrupts running jobs by default and exits 0; queued jobs stay queued on disk', async () => {
    const data = join(big.dir, 'data-5');
    const s = await service(['--data', data, '--threads', '2', '--max-running', '1']);
    const outA = join(big.dir, 'out-5a');
    await call(`${s.api}/jobs`, { body: job(big, outA) });
    await call(`${s.api}/jobs`, { body: job(small, join(big.dir, 'out-5b')) });
    await waitJob(s.api, 'j-1', (j) => j.state === 'running' && j.progress.rows.left > 0);
    const signalled = Date.now();
    s.proc.kill('SIGTERM');
    // A clean stop: every PSI stage wound down at once (none abandoned, which would exit 3).
    expect(await s.exited, s.stderr()).toBe(0);
    expect(Date.now() - signalled, 'the interrupting drain and shutdown').toBeLessThan(10_000);
    expect(s.stderr()).not.toMatch(/did not finish|abandon/);
    expect(s.stderr()).toMatch(/1 queued job\(s\) stay queued/);
    expect(record(data, 'j-1')).toMatchObject({ state: 'interrupted', error: { code: 'ERR_JOB_INTERRUPTED' } });
    expect(record(data, 'j-2').state).toBe('queued');
    // No partial output: the interrupted run removed what it had begun, the folder it made too.
    expect(existsSync(outA)).toBe(false);

    // The records survive the stop: the next start keeps j-1 interrupted and runs the queued j-2.
    const next = await service(['--data', data, '--threads', '2', '--max-running', '1']);
    expect((await call(`${next.api}/jobs/j-1`)).json.job).toMatchObject({ state: 'interrupted', warnings: [] });
    await waitJob(next.api, 'j-2', (j) => j.state === 'done');
  }, 180_000);

  it('on SIGTERM with --on-sigterm finish lets the running job finish and refuses new ones meanwhile', async () => {
    const data = join(medium.dir, 'data-6');
    const s = await service(['--data', data, '--threads', '2', '--on-sigterm', 'finish']);
    const out = join(medium.dir, 'out-6');
    await call(`${s.api}/jobs`, { body: job(medium, out) });
    await waitJob(s.api, 'j-1', (j) => j.state === 'running' && j.progress.rows.left > 0);
    s.proc.kill('SIGTERM');
    await waitFor(
      () => /SIGTERM: taking no new jobs; letting running jobs finish/.test(s.stderr()),
      'the drain to begin',
    );
    const refused = await call(`${s.api}/jobs`, { body: job(small, join(medium.dir, 'out-6b')) });
    expect(refused).toMatchObject({ status: 503, json: { error: expect.stringMatching(/shutting down/) } });
    expect(await s.exited).toBe(0);
    expect(record(data, 'j-1')).toMatchObject({
      state: 'done',
      result: { intersection: medium.expected.intersection },
    });
    // The whole output and nothing else: no temporary file left beside it.
    expect(readdirSync(out).sort()).toEqual(['left.csv', 'right.csv']);
    // Complete: a header and every matching row.
    const lines = readFileSync(join(out, 'left.csv'), 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(record(data, 'j-1').result.left.matchedRows + 1);
    expect(record(data, 'j-1').result.left.matchedRows).toBeGreaterThan(medium.expected.intersection * 0.99);
  }, 180_000);

  it('on SIGTERM with --on-sigterm finish interrupts a job still running when --drain-timeout runs out', async () => {
    const data = join(big.dir, 'data-8');
    const s = await service(['--data', data, '--threads', '2', '--on-sigterm', 'finish', '--drain-timeout', '1']);
    const out = join(big.dir, 'out-8');
    await call(`${s.api}/jobs`, { body: job(big, out) });
    await waitJob(s.api, 'j-1', (j) => j.state === 'running' && j.progress.rows.left > 0);
    s.proc.kill('SIGTERM');
    expect(await s.exited, s.stderr()).toBe(0);
    expect(s.stderr()).toMatch(/letting running jobs finish[\s\S]*drain timeout \(1 s\); interrupting running jobs/);
    expect(s.stderr()).not.toMatch(/did not finish|abandon/);
    expect(record(data, 'j-1')).toMatchObject({ state: 'interrupted', error: { code: 'ERR_JOB_INTERRUPTED' } });
    expect(existsSync(out)).toBe(false);
  }, 180_000);

  it('skips a record file that is not a job, naming it, and keeps serving', async () => {
    const data = join(small.dir, 'data-7');
    const first = await service(['--data', data]);
    first.proc.kill('SIGTERM');
    await first.exited;
    writeFileSync(join(data, 'jobs', 'j-1.json'), '{"id": "j-1", "sta');
    const s = await service(['--data', data]);
    expect(s.stderr()).toMatch(/skipping j-1\.json/);
    expect((await call(`${s.api}/jobs`)).json.jobs).toEqual([]);
  }, 60_000);
});
