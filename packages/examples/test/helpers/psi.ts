import { type ChildProcess, execFileSync, type SpawnOptions, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../../..', import.meta.url));
export const psiMain = fileURLToPath(new URL('../../src/psi/main.ts', import.meta.url));
const signalNumbers: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/** A running command (psi itself, or the npm that runs it). */
export interface Run {
  readonly pid: number;
  code: Promise<number>;
  out: () => string;
  err: () => string;
  kill: (s: NodeJS.Signals) => void;
  /** Resolves when stderr matches `re`; rejects after `ms` or when the process exits first. */
  waitErr: (re: RegExp, ms?: number) => Promise<void>;
}

/** Children still running, so a failed test does not leave them behind (see {@link killLeftovers}). */
const running = new Set<ChildProcess>();

/** SIGKILL every child a test started that is still running (and npm's child, psi). Use in `afterEach`. */
export function killLeftovers(): void {
  for (const proc of running) {
    for (const pid of childrenOf(proc.pid as number)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    proc.kill('SIGKILL');
  }
  running.clear();
}

/** Run `command args` as a real child process, collecting its output. */
export function start(command: string, args: readonly string[], options: SpawnOptions = {}): Run {
  const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  running.add(proc);
  proc.on('close', () => running.delete(proc));
  let out = '';
  let err = '';
  proc.stdout?.on('data', (d) => {
    out += d;
  });
  proc.stderr?.on('data', (d) => {
    err += d;
  });
  let exited = false;
  const code = new Promise<number>((resolve) =>
    proc.on('close', (c, s) => {
      exited = true;
      resolve(c ?? 128 + (signalNumbers[s ?? ''] ?? 0));
    }),
  );
  return {
    pid: proc.pid as number,
    code,
    out: () => out,
    err: () => err,
    kill: (s) => proc.kill(s),
    waitErr: (re, ms = 90_000) =>
      new Promise((resolve, reject) => {
        const t0 = Date.now();
        const check = () => {
          if (re.test(err)) resolve();
          else if (Date.now() - t0 > ms) reject(new Error(`no ${re} in stderr within ${ms} ms:\n${err}`));
          else if (exited) reject(new Error(`exited without ${re}:\nstderr:\n${err}\nstdout:\n${out}`));
          else setTimeout(check, 50);
        };
        check();
      }),
  };
}

/** The psi command as a real child process (node with the TypeScript loader, as the npm script runs it). */
export function psi(args: readonly string[], options: SpawnOptions = {}): Run {
  return start(process.execPath, ['--conditions=source', '--import', 'tsx', psiMain, ...args], {
    cwd: repoRoot,
    ...options,
  });
}

/** `npm run <script> -- args` from the repository root: exactly what the README tells people to run. */
export function npmRun(script: string, args: readonly string[], options: SpawnOptions = {}): Run {
  return start('npm', ['run', script, '--', ...args], { cwd: repoRoot, ...options });
}

/** Pids of the direct children of `pid`. */
export function childrenOf(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((l) => Number(l.trim()))
      .filter((n) => n > 0);
  } catch {
    return []; // ps exits 1 when there are none
  }
}

/** True while process `pid` exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Wait until `pid` has exited (or `ms` passed); returns whether it did. */
export async function gone(pid: number, ms = 20_000): Promise<boolean> {
  const t0 = Date.now();
  while (alive(pid) && Date.now() - t0 < ms) await new Promise((r) => setTimeout(r, 50));
  return !alive(pid);
}

export const good = 'id,name\na,1\nb,2\nc,3\n';

/** A fresh folder with `left.csv` and a right file, and the args of a run over them. */
export function inputs(right: string | Buffer, left: string = good, name = 'right.csv') {
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

/** The files in `dir`, or [] if it does not exist. */
export function filesIn(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

/** `n` rows `id-i,name-i`, with a header. */
export function rows(n: number, prefix = 'id'): string {
  const lines = ['id,name'];
  for (let i = 0; i < n; i++) lines.push(`${prefix}-${i},name-${i}`);
  return `${lines.join('\n')}\n`;
}
