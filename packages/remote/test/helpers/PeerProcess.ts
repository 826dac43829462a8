/**
 * Starts `test/fixtures/peer.ts` as a real `node` child process and talks to
 * it over IPC: commands out, events in. `kill('SIGKILL')` is a real crash.
 * Every peer started is killed when the test process ends.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { JoinOptions } from '@troupe/remote';

/** The programs a peer process can run: a bare node (`peer.ts`) or an actor system joined to the cluster (`node.ts`). */
const fixtures = {
  peer: fileURLToPath(new URL('../fixtures/peer.ts', import.meta.url)),
  node: fileURLToPath(new URL('../fixtures/node.ts', import.meta.url)),
};
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

// biome-ignore lint/suspicious/noExplicitAny: IPC messages are loosely typed
export type PeerEvent = { ev: string; [k: string]: any };

export class PeerProcess {
  readonly events: PeerEvent[] = [];
  private readonly waiters: { match: (e: PeerEvent) => boolean; resolve: (e: PeerEvent) => void }[] = [];
  private nextId = 1;
  incarnation = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    readonly name: string,
    readonly proc: ChildProcess,
  ) {
    live.add(proc);
    proc.on('message', (m: PeerEvent) => {
      this.events.push(m);
      for (const w of [...this.waiters])
        if (w.match(m)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(m);
        }
    });
    this.exited = new Promise((resolve) =>
      proc.once('exit', (code, signal) => {
        live.delete(proc);
        resolve({ code, signal });
      }),
    );
  }

  /**
   * Start a peer process and join it to the cluster. `fixture: 'node'` runs an
   * actor system (`join` gets `extra` too, e.g. `phaseTimeoutsMs`).
   */
  static async start(
    options: JoinOptions,
    how: { fixture?: keyof typeof fixtures; extra?: Record<string, unknown> } = {},
  ): Promise<PeerProcess> {
    const proc = fork(fixtures[how.fixture ?? 'peer'], [], {
      execArgv: ['--conditions=source', '--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    const peer = new PeerProcess(options.node, proc);
    await peer.waitFor((e) => e.ev === 'ready', 30_000);
    peer.command({ cmd: 'join', options, ...how.extra });
    const joined = await peer.waitFor((e) => e.ev === 'joined' || e.ev === 'error', 30_000);
    if (joined.ev === 'error') throw new Error(`peer ${options.node} failed to join: ${joined.message}`);
    peer.incarnation = joined.incarnation;
    return peer;
  }

  command(c: Record<string, unknown>): void {
    this.proc.send(c);
  }

  /** Send a command that answers with `{ id }`, and wait for the answer. */
  async call(c: Record<string, unknown>, answer: string, timeoutMs = 30_000): Promise<PeerEvent> {
    const id = this.nextId++;
    const p = this.waitFor((e) => e.ev === answer && e.id === id, timeoutMs);
    this.command({ ...c, id });
    return p;
  }

  report(): Promise<PeerEvent> {
    return this.call({ cmd: 'report' }, 'report');
  }

  /** The first event (already seen or future) matching `match`. */
  waitFor(match: (e: PeerEvent) => boolean, timeoutMs = 10_000): Promise<PeerEvent> {
    const seen = this.events.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(
          new Error(
            `peer ${this.name}: no matching event after ${timeoutMs} ms; saw ${JSON.stringify(this.events.slice(-8))}`,
          ),
        );
      }, timeoutMs);
      const w = {
        match,
        resolve: (e: PeerEvent) => {
          clearTimeout(timer);
          resolve(e);
        },
      };
      this.waiters.push(w);
    });
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.proc.kill(signal);
  }

  /** Kill if still running and wait for the exit. */
  async stop(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
    await this.exited;
  }
}

/** Poll `check` until it returns a value (not undefined) or the time is up. */
export async function eventually<T>(
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until) throw new Error(`not ${what} after ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
