/**
 * What the psi command says, and what it refuses (issue 14, items 5 and 7):
 * every test runs the real command as a child process.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { good, inputs, killLeftovers, psi, rows } from './helpers/psi.js';

afterEach(killLeftovers);

const cores = availableParallelism();
const max = Math.max(4, 4 * cores);

describe('psi messages', { timeout: 120_000 }, () => {
  it('names a bad flag once, without a doubled prefix', async () => {
    const { args } = inputs(good);
    const run = psi(args.map((a) => (a === 'id' ? 'id,id' : a)));
    expect(await run.code).toBe(2);
    expect(run.err()).toMatch(/^psi: --key names a column twice: id,id$/m);
    expect(run.err()).not.toMatch(/psi: psi:/);
  });

  it("reads a tab-separated file with --delimiter '\\t' (as a shell passes it) or tab", async () => {
    for (const delimiter of ['\\t', 'tab']) {
      const { d, args } = inputs('id\tname\nc\tx\n', 'id\tname\na\t1\nc\t3\n');
      const run = psi([...args, '--delimiter', delimiter]);
      expect(await run.code, run.err()).toBe(0);
      expect(readFileSync(join(d, 'result', 'left.csv'), 'utf8')).toBe('id\tname\nc\t3\n');
    }
  });

  it('hints at --delimiter when a ;-separated file is read with the default comma', async () => {
    const { args } = inputs('id;name\na;1\n');
    const run = psi(args);
    expect(await run.code).toBe(2);
    expect(run.err()).toMatch(/right\.csv:1:1: the header has no column named "id"/);
    expect(run.err()).toMatch(
      /psi: hint: the header of .*right\.csv is one field with --delimiter ',', but it has 1 × ;: .*pass --delimiter ';'/,
    );
  });

  it('reports a bad row once: no runtime WARN line repeats it first', async () => {
    // Late in the file, so the reader actor fails mid-run (the case that was logged twice before).
    const { args } = inputs(`${rows(30_000)}broken\n`, rows(30_000));
    const run = psi(args);
    expect(await run.code).toBe(2);
    expect(run.err()).not.toMatch(/\[troupe\]/);
    expect(run.err().match(/ragged row/g)).toHaveLength(1);
  });

  it('says "1 key" and "1 row", not "1 keys"', async () => {
    const { args } = inputs('id,name\nb,x\n', 'id,name\nb,1\n');
    const run = psi(args);
    expect(await run.code, run.err()).toBe(0);
    expect(run.out()).toMatch(/psi: 1 row x 1 row \(1 unique key x 1\)/);
    expect(run.out()).toMatch(/intersection: 1 key;/);
  });

  it('-h and --help describe every flag with its default, the outputs, the sort order and the exit codes', async () => {
    for (const flag of ['-h', '--help']) {
      const run = psi([flag]);
      expect(await run.code).toBe(0);
      const help = run.out();
      for (const f of [
        '--left',
        '--right',
        '--key',
        '--out',
        '--force',
        '--delimiter',
        '--empty-keys',
        '--threads',
        '--batch',
        '--json',
        '--quiet',
        '--no-progress',
        '--rows',
        '--overlap',
        '--dir',
      ]) {
        expect(help).toMatch(new RegExp(`^ +(-h, )?${f} `, 'm'));
      }
      expect(help).toMatch(/default 4096/);
      expect(help).toMatch(/left\.csv +the left file's rows/);
      expect(help).toMatch(/sorted by key as text/);
      expect(help).toMatch(/^ +2 +bad input or usage/m);
      expect(help).toMatch(/^ +129\/130\/143 +interrupted/m);
    }
  });

  it('refuses a demo-only flag in a run, and a run flag in the demo', async () => {
    const { args } = inputs(good);
    const run = psi([...args, '--rows', '10']);
    expect(await run.code).toBe(2);
    expect(run.err()).toMatch(/--rows is a flag of `psi demo`, not of a run/);
    const demo = psi(['demo', '--left', 'a.csv']);
    expect(await demo.code).toBe(2);
    expect(demo.err()).toMatch(/--left is a flag of a run, not of `psi demo`/);
  });

  it('warns about empty keys by default, skips them with --empty-keys skip, refuses them with refuse', async () => {
    const left = 'id,name\n,l-empty\na,1\n';
    const right = 'id,name\n,r-empty\na,2\n';
    const warned = inputs(right, left);
    const run = psi(warned.args);
    expect(await run.code, run.err()).toBe(0);
    expect(run.err()).toMatch(
      /psi: warning: .*left\.csv: 1 row with an empty key \(first on line 2\) were matched like any key/,
    );
    expect(readFileSync(join(warned.d, 'result', 'left.csv'), 'utf8')).toBe('id,name\n,l-empty\na,1\n');
    const skipped = inputs(right, left);
    const skip = psi([...skipped.args, '--empty-keys', 'skip']);
    expect(await skip.code, skip.err()).toBe(0);
    expect(readFileSync(join(skipped.d, 'result', 'left.csv'), 'utf8')).toBe('id,name\na,1\n');
    const refused = inputs(right, left);
    const refuse = psi([...refused.args, '--empty-keys', 'refuse']);
    expect(await refuse.code).toBe(2);
    expect(refuse.err()).toMatch(/left\.csv:2:1: the key \(id\) is empty on this row/);
  });

  it('says an input must be a regular file when given a pipe or /dev/stdin, instead of "the file is empty"', async () => {
    const d = mkdtempSync(join(tmpdir(), 'troupe-psi-fifo-'));
    writeFileSync(join(d, 'left.csv'), good);
    execFileSync('mkfifo', [join(d, 'pipe.csv')]);
    for (const right of [join(d, 'pipe.csv'), '/dev/stdin']) {
      const run = psi(['--left', join(d, 'left.csv'), '--right', right, '--key', 'id', '--out', join(d, 'out')]);
      expect(await run.code).toBe(2);
      expect(run.err()).toMatch(
        /psi: --right .* is a (pipe \(FIFO\)|character device.*): an input must be a regular file/,
      );
      expect(run.err()).not.toMatch(/empty/);
    }
  });

  it('with --json, prints an error as JSON on stdout too', async () => {
    const { args } = inputs('id,name\na,1\nb\n');
    const run = psi([...args, '--json']);
    expect(await run.code).toBe(2);
    const json = JSON.parse(run.out().trim());
    expect(json).toMatchObject({
      error: { name: 'CsvRaggedRowError', code: 'ERR_CSV_RAGGED_ROW', line: 3, column: 2 },
      exitCode: 2,
    });
    expect(json.error.file).toMatch(/right\.csv$/);
    const usage = psi(['--json', '--bogus']);
    expect(await usage.code).toBe(2);
    expect(JSON.parse(usage.out().trim())).toMatchObject({ error: { name: 'UsageError' }, exitCode: 2 });
  });

  it('--quiet prints no progress and no summary, --no-progress only drops the progress', async () => {
    const { args } = inputs('id,name\nc,x\n');
    const quiet = psi([...args, '--quiet']);
    expect(await quiet.code, quiet.err()).toBe(0);
    expect(quiet.out()).toBe('');
    expect(quiet.err()).toBe('');
    const noProgress = psi([...inputs('id,name\nc,x\n').args, '--no-progress']);
    expect(await noProgress.code).toBe(0);
    expect(noProgress.err()).toBe('');
    expect(noProgress.out()).toMatch(/intersection: 1 key/);
  });
});

describe('psi resource limits', { timeout: 120_000 }, () => {
  it(`refuses --threads far above the cores (here above ${max}), saying why`, async () => {
    const { args } = inputs(good);
    const run = psi([...args.slice(0, -2), '--threads', '256']);
    expect(await run.code).toBe(2);
    expect(run.err()).toMatch(
      new RegExp(
        `--threads must be an integer from 1 to ${max} \\(4 per core: this machine has ${cores}; more threads than cores add memory, not speed\\), got "256"`,
      ),
    );
  });

  it(`starts threads as the data needs them: --threads ${max} on 3-row inputs uses one, and exits 0`, async () => {
    const { args } = inputs(good);
    const run = psi([...args.slice(0, -2), '--threads', String(max), '--json']);
    expect(await run.code, run.err()).toBe(0);
    const summary = JSON.parse(run.out().trim());
    expect(summary).toMatchObject({ threads: max, threadsUsed: 1, intersection: 3, exitCode: 0 });
  });

  it('exits 3, naming it, when the shutdown had to abandon an actor after a successful run', async () => {
    const { args } = inputs(good);
    // Fault injection: an actor whose stop never finishes; a short stop budget keeps the test quick.
    const run = psi(args, { env: { ...process.env, PSI_FAULT: 'hang-on-stop', PSI_STOP_TIMEOUT_MS: '300' } });
    expect(await run.code, run.err()).toBe(3);
    expect(run.err()).toMatch(
      /psi: the shutdown was not clean: 1 actor had to be abandoned \(\/user\/fault-hang-on-stop\); exit code 3/,
    );
    expect(run.out()).toMatch(/intersection: 3 keys/);
  });
});
