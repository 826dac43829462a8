import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A fixture program running as a real child `node` process. */
export interface Child {
  proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves when stdout+stderr contain `text` (or rejects after `ms`). */
  waitFor(text: string | RegExp, ms?: number): Promise<void>;
  /** Resolves with the exit code (or 128+n for a signal death) and the elapsed ms. */
  exited: Promise<{ code: number; ms: number }>;
}

/** Run `test/fixtures/<name>` with the TypeScript loader and the `source` export condition. */
export function runFixture(
  name: string,
  args: string[] = [],
  env: Record<string, string> = {},
  nodeFlags: string[] = [],
): Child {
  const file = fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
  const started = Date.now();
  const proc = spawn(process.execPath, [...nodeFlags, '--conditions=source', '--import', 'tsx', file, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let out = '';
  let err = '';
  const watchers = new Set<() => void>();
  proc.stdout?.on('data', (d) => {
    out += d;
    for (const w of watchers) w();
  });
  proc.stderr?.on('data', (d) => {
    err += d;
    for (const w of watchers) w();
  });
  const exited = new Promise<{ code: number; ms: number }>((resolve) => {
    proc.on('exit', (code, signal) => {
      const signals: Record<string, number> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
      resolve({ code: code ?? 128 + (signals[signal ?? ''] ?? 0), ms: Date.now() - started });
    });
  });
  return {
    proc,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor(text, ms = 15_000) {
      const seen = () => (typeof text === 'string' ? (out + err).includes(text) : text.test(out + err));
      if (seen()) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          watchers.delete(check);
          reject(new Error(`fixture ${name}: no ${String(text)} within ${ms} ms.\nstdout:\n${out}\nstderr:\n${err}`));
        }, ms);
        const check = () => {
          if (seen()) {
            clearTimeout(timer);
            watchers.delete(check);
            resolve();
          }
        };
        watchers.add(check);
        void exited.then(() => setTimeout(check, 50));
      });
    },
  };
}

/** The last line of stdout that parses as JSON with a `report` key. */
export function reportOf(child: Child): Record<string, unknown> & { report: import('@troupe/core').ShutdownReport } {
  const lines = child.stdout().trim().split('\n').reverse();
  for (const line of lines) {
    try {
      const v = JSON.parse(line);
      if (v && typeof v === 'object' && 'report' in v) return v;
    } catch {}
  }
  throw new Error(`no JSON report in stdout:\n${child.stdout()}\nstderr:\n${child.stderr()}`);
}
