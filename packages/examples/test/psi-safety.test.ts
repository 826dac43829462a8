/**
 * The psi command never touches its inputs, fails before the work when the
 * output cannot be written, and leaves nothing behind (issue 14, items 1, 3, 4;
 * RELIABILITY.md scenario 24). Every test runs the real command as a child process.
 */
import {
  chmodSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { filesIn, good, inputs, killLeftovers, npmRun, psi, repoRoot, rows, start } from './helpers/psi.js';

afterEach(killLeftovers);

const right = 'id,name\nc,x\nzz,y\na,z\n';

/** A folder holding the two inputs, and a psi run started "from" it (as `npm run psi` would be). */
function inFolder(args: string[], extra: Record<string, string> = {}) {
  const d = mkdtempSync(join(tmpdir(), 'troupe-psi-safe-'));
  writeFileSync(join(d, 'left.csv'), good);
  writeFileSync(join(d, 'right.csv'), right);
  const run = psi(['--left', 'left.csv', '--right', 'right.csv', '--key', 'id', '--threads', '2', ...args], {
    env: { ...process.env, INIT_CWD: d, ...extra },
  });
  return { d, run };
}

function inputsUnchanged(d: string): void {
  expect(readFileSync(join(d, 'left.csv'), 'utf8')).toBe(good);
  expect(readFileSync(join(d, 'right.csv'), 'utf8')).toBe(right);
}

describe('psi never replaces its inputs', { timeout: 120_000 }, () => {
  it('refuses --out . in the inputs folder with exit 2, naming both paths, and leaves the inputs as they were', async () => {
    const { d, run } = inFolder(['--out', '.']);
    expect(await run.code, run.err()).toBe(2);
    expect(run.err()).toMatch(/--out would replace the --left input/);
    expect(run.err()).toContain(join(d, 'left.csv'));
    inputsUnchanged(d);
    expect(readdirSync(d).sort()).toEqual(['left.csv', 'right.csv']);
  });

  it('refuses an --out that reaches the inputs through a symbolic link to their folder', async () => {
    const d = mkdtempSync(join(tmpdir(), 'troupe-psi-safe-'));
    writeFileSync(join(d, 'left.csv'), good);
    writeFileSync(join(d, 'right.csv'), right);
    const elsewhere = mkdtempSync(join(tmpdir(), 'troupe-psi-safe-'));
    symlinkSync(d, join(elsewhere, 'via-link'));
    const run = psi(
      ['--left', 'left.csv', '--right', 'right.csv', '--key', 'id', '--out', join(elsewhere, 'via-link'), '--force'],
      {
        env: { ...process.env, INIT_CWD: d },
      },
    );
    expect(await run.code, run.err()).toBe(2);
    expect(run.err()).toMatch(
      /would replace the --left input: the output .*via-link\/left\.csv is the same file as .*left\.csv/,
    );
    inputsUnchanged(d);
  });

  it('refuses an output that is a hard link to an input, even with --force', async () => {
    const d = mkdtempSync(join(tmpdir(), 'troupe-psi-safe-'));
    writeFileSync(join(d, 'left.csv'), good);
    writeFileSync(join(d, 'right.csv'), right);
    mkdirSync(join(d, 'out'));
    linkSync(join(d, 'right.csv'), join(d, 'out', 'right.csv'));
    const run = psi([
      ...['--left', join(d, 'left.csv'), '--right', join(d, 'right.csv'), '--key', 'id'],
      ...['--out', join(d, 'out'), '--force', '--threads', '2'],
    ]);
    expect(await run.code, run.err()).toBe(2);
    expect(run.err()).toMatch(
      /would replace the --right input: .*out\/right\.csv is the same file as .*right\.csv \(a hard link\)/,
    );
    inputsUnchanged(d);
    expect(readFileSync(join(d, 'out', 'right.csv'), 'utf8')).toBe(right);
  });

  it('refuses to replace an existing output unless --force, and says so in --help', async () => {
    const { d, args } = inputs(right);
    mkdirSync(join(d, 'result'));
    writeFileSync(join(d, 'result', 'left.csv'), 'precious\n');
    const refused = psi(args);
    expect(await refused.code).toBe(2);
    expect(refused.err()).toMatch(/--out .*result\/left\.csv already exists; .*--force/);
    expect(readFileSync(join(d, 'result', 'left.csv'), 'utf8')).toBe('precious\n');
    const forced = psi([...args, '--force']);
    expect(await forced.code, forced.err()).toBe(0);
    expect(readFileSync(join(d, 'result', 'left.csv'), 'utf8')).toBe('id,name\na,1\nc,3\n');
    const help = psi(['--help']);
    expect(await help.code).toBe(0);
    expect(help.out()).toMatch(/--force +replace left\.csv \/ right\.csv if they already exist/);
  });
});

describe('psi fails before the work, not after it', { timeout: 120_000 }, () => {
  it('exits 2 naming --out when --out is an existing file (not EEXIST from mkdir)', async () => {
    const { d, args } = inputs(right);
    writeFileSync(join(d, 'result'), 'a file\n');
    const run = psi(args);
    expect(await run.code).toBe(2);
    expect(run.err()).toMatch(/psi: --out .*result is a file, not a folder/);
    expect(run.err()).not.toMatch(/EEXIST/);
    expect(readFileSync(join(d, 'result'), 'utf8')).toBe('a file\n');
  });

  it('exits 2 naming --out when the folder cannot be written, before any masking starts', async () => {
    // A big enough input that the old code masked for seconds before it found out.
    const { d, args } = inputs(rows(50_000), rows(50_000));
    mkdirSync(join(d, 'result'));
    chmodSync(join(d, 'result'), 0o555);
    chmodSync(d, 0o755);
    // Root may write anywhere: run the command as an unprivileged user then (nobody).
    const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    const run = psi(args, { ...asUser, env: { ...process.env, HOME: tmpdir() } });
    expect(await run.code, run.err()).toBe(2);
    expect(run.err()).toMatch(/psi: --out cannot write in .*result \(EACCES/);
    expect(run.err()).not.toMatch(/masking|reading|keys\/s/);
    expect(readdirSync(join(d, 'result'))).toEqual([]);
  });
});

describe('psi leaves nothing behind', { timeout: 180_000 }, () => {
  it('removes the empty --out folder it made when an input error turns up late in the file', async () => {
    const big = rows(30_000);
    const { d, args } = inputs(`${big}broken-row-with-one-field\n`, big);
    const run = psi(args);
    expect(await run.code).toBe(2);
    expect(run.err()).toMatch(/right\.csv:30002:\d+: ragged row/);
    expect(existsSync(join(d, 'result'))).toBe(false);
  });

  it("removes the temporary file of a run that was killed with SIGKILL, and says so; a live run's file is left and named", async () => {
    const { d, args } = inputs(right);
    const out = join(d, 'result');
    mkdirSync(out);
    // A real writer, really killed: it opens left.csv atomically (a temporary file) and is SIGKILLed.
    const writer = start(
      process.execPath,
      [
        '--conditions=source',
        '--import',
        'tsx',
        '-e',
        `import('@troupe/actors').then(async (a) => { await a.AtomicFileWriter.open(${JSON.stringify(join(out, 'left.csv'))}); process.stderr.write('open\\n'); setInterval(() => {}, 1000); })`,
      ],
      { cwd: join(repoRoot, 'packages', 'examples') },
    );
    await writer.waitErr(/open/);
    writer.kill('SIGKILL');
    await writer.code;
    const [stale] = filesIn(out);
    expect(stale).toMatch(new RegExp(`^\\.left\\.csv\\.${writer.pid}\\.[0-9a-f]{12}\\.tmp$`));
    // And one of a process that is still alive (this test's own): it must not be touched.
    const live = `.right.csv.${process.pid}.abcdef012345.tmp`;
    writeFileSync(join(out, live), 'partial');
    const run = psi(args);
    expect(await run.code, run.err()).toBe(0);
    expect(run.err()).toContain(
      `removed ${stale}, a temporary file left by an earlier run (process ${writer.pid}, no longer running)`,
    );
    expect(run.err()).toContain(
      `left ${join(out, live)} alone: process ${process.pid}, which wrote it, is still running`,
    );
    expect(filesIn(out)).toEqual([live, 'left.csv', 'right.csv']);
  });

  it('an interrupted `npm run demo` removes its temporary folder and says so in one line', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'troupe-psi-tmp-'));
    const run = npmRun('demo', ['--rows', '150000', '--threads', '2'], { env: { ...process.env, TMPDIR: tmp } });
    await run.waitErr(/psi \d+s \| (reading|masking)/);
    const demoDirs = () => readdirSync(tmp).filter((n) => n.startsWith('troupe-psi-demo-'));
    expect(demoDirs()).toHaveLength(1);
    run.kill('SIGTERM');
    expect(await run.code, run.err()).toBe(143);
    expect(run.err()).toMatch(/^psi: interrupted by SIGTERM; nothing written$/m);
    expect(demoDirs()).toEqual([]);
  });
});
