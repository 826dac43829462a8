import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const main = fileURLToPath(new URL('../src/psi/main.ts', import.meta.url));
const signalNumbers: Record<string, number> = { SIGINT: 2, SIGTERM: 15, SIGKILL: 9 };

interface Run {
  code: Promise<number>;
  out: () => string;
  err: () => string;
  kill: (s: NodeJS.Signals) => void;
  waitErr: (re: RegExp, ms?: number) => Promise<void>;
  started: number;
}

/** The psi command as a real child process (RELIABILITY.md scenarios 17 and 18). */
function psi(args: string[]): Run {
  const proc = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', main, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout.on('data', (d) => {
    out += d;
  });
  proc.stderr.on('data', (d) => {
    err += d;
  });
  const code = new Promise<number>((resolve) =>
    proc.on('close', (c, s) => resolve(c ?? 128 + (signalNumbers[s ?? ''] ?? 0))),
  );
  return {
    code,
    out: () => out,
    err: () => err,
    kill: (s) => proc.kill(s),
    started: Date.now(),
    waitErr: (re, ms = 60_000) =>
      new Promise((resolve, reject) => {
        const t0 = Date.now();
        const check = () => {
          if (re.test(err)) resolve();
          else if (Date.now() - t0 > ms) reject(new Error(`no ${re} in stderr within ${ms} ms:\n${err}`));
          else if (proc.exitCode !== null) reject(new Error(`psi exited (${proc.exitCode}) without ${re}:\n${err}`));
          else setTimeout(check, 50);
        };
        check();
      }),
  };
}

const good = 'id,name\na,1\nb,2\nc,3\n';
function inputs(right: string | Buffer, left: string = good, name = 'right.csv') {
  const d = mkdtempSync(join(tmpdir(), 'troupe-psi-cli-'));
  writeFileSync(join(d, 'left.csv'), left);
  writeFileSync(join(d, name), right);
  return {
    d,
    args: [
      '--left',
      join(d, 'left.csv'),
      '--right',
      join(d, name),
      '--key',
      'id',
      '--out',
      join(d, 'result'),
      '--threads',
      '2',
    ],
  };
}
/** No output at all: neither result file nor any temporary file. */
function nothingWritten(d: string): void {
  const result = join(d, 'result');
  expect(existsSync(result) ? readdirSync(result) : []).toEqual([]);
}

describe('psi command', { timeout: 120_000 }, () => {
  it('runs the demo end to end and checks the result against a plain set intersection', async () => {
    const run = psi(['demo', '--rows', '3000', '--threads', '2', '--json']);
    expect(await run.code, run.err()).toBe(0);
    const summary = JSON.parse(run.out().trim());
    expect(summary.verified).toBe(true);
    expect(summary.left.rows).toBe(3000);
    expect(summary.intersection).toBe(1485);
  });

  it('writes both sides sorted by key with the header, and prints a summary', async () => {
    const { d, args } = inputs('id,name\nc,x\nzz,y\na,z\na,w\n');
    const run = psi(args);
    expect(await run.code, run.err()).toBe(0);
    expect(run.out()).toMatch(/intersection: 2 keys; rows written: left 2, right 3/);
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(join(d, 'result', 'left.csv'), 'utf8')).toBe('id,name\na,1\nc,3\n');
    expect(readFileSync(join(d, 'result', 'right.csv'), 'utf8')).toBe('id,name\na,z\na,w\nc,x\n');
  });

  const bad: [string, string | Buffer, RegExp][] = [
    [
      'a missing key column',
      'key,name\na,1\n',
      /right\.csv:1:1: the header has no column named "id"; its columns are "key", "name"/,
    ],
    ['a ragged row', 'id,name\na,1\nb\n', /right\.csv:3:2: ragged row: expected 2 fields \(as in the header\), got 1/],
    ['bad quoting', 'id,name\na,"unterminated\n', /right\.csv:2:\d+.*quote/i],
    [
      'invalid UTF-8',
      Buffer.concat([Buffer.from('id,name\na,'), Buffer.from([0xff, 0xfe]), Buffer.from('\n')]),
      /right\.csv:2:\d+.*UTF-8/i,
    ],
    ['an empty file', '', /right\.csv.*empty/i],
    [
      'a key column named twice in the header',
      'id,id\na,1\n',
      /right\.csv.*"id".*(twice|more than once|ambiguous|columns 1, 2)/i,
    ],
  ];
  for (const [what, content, message] of bad) {
    it(`exits 2 on ${what}, naming the file, line and column, and writes nothing`, async () => {
      const { d, args } = inputs(content);
      const run = psi(args);
      expect(await run.code).toBe(2);
      expect(run.err()).toMatch(message);
      nothingWritten(d);
    });
  }

  it('exits 2 on a missing input file and on a bad flag', async () => {
    const { d, args } = inputs(good);
    const missing = psi(args.map((a) => (a.endsWith('right.csv') ? join(d, 'nope.csv') : a)));
    expect(await missing.code).toBe(2);
    expect(missing.err()).toMatch(/nope\.csv/);
    const flag = psi([...args, '--batch', '0']);
    expect(await flag.code).toBe(2);
    expect(flag.err()).toMatch(/--batch must be an integer from 1 to 1048576, got "0"/);
    nothingWritten(d);
  });

  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    it(`stops on ${signal} mid-run within the shutdown budget, exits ${code}, and leaves no output`, async () => {
      const d = mkdtempSync(join(tmpdir(), 'troupe-psi-int-'));
      mkdirSync(d, { recursive: true });
      const run = psi(['demo', '--rows', '150000', '--threads', '2', '--dir', d]);
      await run.waitErr(/masking +\d+%/);
      const sent = Date.now();
      run.kill(signal);
      expect(await run.code, run.err()).toBe(code);
      // Well within the shutdown budget (phase timeouts of 5-10 s): the run aborts, it does not drain.
      expect(Date.now() - sent).toBeLessThan(15_000);
      nothingWritten(d);
    });
  }
});
