/**
 * Helpers for the two-process `psi party` tests: a party as a real child
 * process (with its own environment), its files, and what it left behind.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A `psi party` running as its own `node` process. */
export interface PartyProcess {
  readonly proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** The exit code (128 + n when killed by signal n), and when it came (`Date.now()`). */
  readonly exited: Promise<{ code: number; at: number }>;
}

const signalNumbers: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
const main = fileURLToPath(new URL('../../src/psi/main.ts', import.meta.url));
const cwd = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Start `psi party <args>` (the environment is this one's plus `env`), through
 * `wrap` if given (e.g. `['ip', 'netns', 'exec', 'ns1']`, which execs the command).
 */
export function startParty(
  args: readonly string[],
  env: Record<string, string> = {},
  wrap: readonly string[] = [],
): PartyProcess {
  const command = [...wrap, process.execPath, '--conditions=source', '--import', 'tsx', main, 'party', ...args];
  const proc = spawn(command[0] as string, command.slice(1), {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout?.on('data', (d) => {
    out += d;
  });
  proc.stderr?.on('data', (d) => {
    err += d;
  });
  const exited = new Promise<{ code: number; at: number }>((resolve) => {
    proc.on('close', (code, signal) =>
      resolve({ code: code ?? 128 + (signalNumbers[signal ?? ''] ?? 0), at: Date.now() }),
    );
  });
  return { proc, stdout: () => out, stderr: () => err, exited };
}

/** The usual flags of one party. */
export function partyArgs(o: {
  side: 'left' | 'right';
  file: string;
  out: string;
  session: string;
  nats: string;
  extra?: readonly string[];
}): string[] {
  return [
    '--side',
    o.side,
    '--file',
    o.file,
    '--key',
    'id',
    '--out',
    o.out,
    '--session',
    o.session,
    '--nats',
    o.nats,
    '--threads',
    '1',
    '--json',
    ...(o.extra ?? []),
  ];
}

/** The key of row `i` (also what the privacy test looks for on the wire). */
export const keyOf = (i: number) => `person-${String(i).padStart(7, '0')}@example.org`;

/**
 * Two files whose keys overlap: left has rows `0 .. n-1`, right `n/2 .. n/2+n-1`
 * (so the intersection is `n/2 .. n-1`). Returns the rows each side should get.
 */
export function writePair(
  dir: string,
  n: number,
): { left: string; right: string; expectLeft: string; expectRight: string; keys: string[] } {
  const l = ['id,name'];
  const r = ['id,city'];
  const el = ['id,name'];
  const er = ['id,city'];
  const keys: string[] = [];
  for (let i = 0; i < n; i++) {
    l.push(`${keyOf(i)},n${i}`);
    keys.push(keyOf(i));
    if (i >= n / 2) el.push(`${keyOf(i)},n${i}`);
  }
  for (let i = n / 2; i < n / 2 + n; i++) {
    r.push(`${keyOf(i)},c${i}`);
    if (i >= n) keys.push(keyOf(i));
    if (i < n) er.push(`${keyOf(i)},c${i}`);
  }
  const left = join(dir, 'left.csv');
  const right = join(dir, 'right.csv');
  writeFileSync(left, `${l.join('\n')}\n`);
  writeFileSync(right, `${r.join('\n')}\n`);
  return { left, right, expectLeft: `${el.join('\n')}\n`, expectRight: `${er.join('\n')}\n`, keys };
}

/**
 * What is in an output folder (names), but the hidden checkpoint folders and
 * (`killed`: a side killed with SIGKILL) its scratch folder of spill files,
 * which the next run there removes.
 */
export function outputs(dir: string, killed?: 'left' | 'right'): string[] {
  if (!existsSync(dir)) return [];
  const scratch = killed === undefined ? undefined : new RegExp(`^\\.psi-${killed}-\\d+-[0-9a-f]{8}\\.tmp$`);
  return readdirSync(dir).filter((f) => !/^\.psi-.*\.state$/.test(f) && !(scratch?.test(f) ?? false));
}

/** The checkpoint's log size of a party (0 before its exchange starts). */
export function checkpointBytes(out: string, session: string, side: string): number {
  const log = join(out, `.psi-${session}-${side}.state`, 'log');
  return existsSync(log) ? statSync(log).size : 0;
}

/**
 * Both parties' exits, or, when either is still running after `ms`, a failure
 * that shows what each printed (both are killed first): a hang is reported
 * with its evidence, not as the test's bare timeout.
 */
export async function bothExit(
  a: PartyProcess,
  b: PartyProcess,
  ms: number,
): Promise<[{ code: number; at: number }, { code: number; at: number }]> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const running = [a, b].filter((p) => p.proc.exitCode === null && p.proc.signalCode === null);
      const report = [a, b].map((p, i) => `party ${i + 1}:\nstdout:\n${p.stdout()}\nstderr:\n${p.stderr()}`);
      for (const p of running) p.proc.kill('SIGKILL');
      reject(new Error(`${running.length} of 2 parties still running after ${ms} ms\n${report.join('\n')}`));
    }, ms);
  });
  try {
    return await Promise.race([Promise.all([a.exited, b.exited]), hung]);
  } finally {
    clearTimeout(timer);
  }
}

/** Wait until `check()` is true (polling), or throw naming `what` after `ms`. */
export async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
