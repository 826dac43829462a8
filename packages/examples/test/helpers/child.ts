import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** An example program running as a real child `node` process. */
export interface Child {
  readonly proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves when stdout contains `text` (or rejects after `ms`, or when the process exits without it). */
  waitFor(text: string | RegExp, ms?: number): Promise<RegExpMatchArray | string>;
  /** The exit code (128 + n when killed by signal n). */
  readonly exited: Promise<number>;
}

const signalNumbers: Record<string, number> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/** Run `src/<example>/main.ts` with the TypeScript loader and the `source` export condition, as `npm run` would. */
export function runExample(example: string, args: readonly string[] = []): Child {
  const file = fileURLToPath(new URL(`../../src/${example}/main.ts`, import.meta.url));
  const cwd = fileURLToPath(new URL('../..', import.meta.url));
  const proc = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', file, ...args], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  proc.stdout?.on('data', (d) => {
    out += d;
    for (const l of listeners) l();
  });
  proc.stderr?.on('data', (d) => {
    err += d;
  });
  const exited = new Promise<number>((resolve) => {
    proc.on('close', (code, signal) => resolve(code ?? 128 + (signalNumbers[signal ?? ''] ?? 0)));
  });
  let done = false;
  void exited.then(() => {
    done = true;
    for (const l of listeners) l();
  });
  return {
    proc,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor(text, ms = 30_000) {
      const match = () => (typeof text === 'string' ? (out.includes(text) ? text : null) : out.match(text));
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = match();
          if (m !== null) {
            finish();
            resolve(m);
          } else if (done) {
            finish();
            reject(new Error(`${example} exited without printing ${String(text)}.\nstdout:\n${out}\nstderr:\n${err}`));
          }
        };
        const timer = setTimeout(() => {
          finish();
          reject(new Error(`${example}: no ${String(text)} within ${ms} ms.\nstdout:\n${out}\nstderr:\n${err}`));
        }, ms);
        const finish = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
  };
}

/** Run an example to its end; resolves with its exit code and output. */
export async function runToEnd(
  example: string,
  args: readonly string[] = [],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = runExample(example, args);
  const code = await child.exited;
  return { code, stdout: child.stdout(), stderr: child.stderr() };
}

/** The last stdout line, parsed as JSON (the examples' `--json` summary). */
export function lastJson<T>(stdout: string): T {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1] as string) as T;
}
