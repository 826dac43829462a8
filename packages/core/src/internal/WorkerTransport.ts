import { createRequire } from 'node:module';
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type ResourceLimits, type TransferListItem, Worker } from 'node:worker_threads';
import type { Batch, Transport, TransportClosed } from '../Transport.js';
import type { NodeAddress } from './wire.js';

/** Data the main thread hands a new worker host. @internal */
export interface HostWorkerData {
  hostIndex: number;
  /** The node the thread belongs to: refs it sends out carry this address. */
  address: NodeAddress;
  /** The system's default ask timeout, for asks made inside the thread. */
  askTimeoutMs: number;
  /** For source (TypeScript) mode: the entry to import after registering the loader. */
  tsEntry?: string;
}

/** The working directory when the runtime was loaded: what `--import ./x` and `--import pkg` were resolved from. */
const startCwd = process.cwd();

/**
 * A loader flag's value made absolute, so a thread resolves it the same after
 * the program has `process.chdir()`ed: a bare specifier (`tsx`) or a relative
 * path would otherwise be looked up from the new working directory.
 */
function absoluteLoader(flag: string, value: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(value) || isAbsolute(value)) return value;
  const relative = value.startsWith('./') || value.startsWith('../');
  try {
    if (flag === '--require' || flag === '-r') return createRequire(join(startCwd, 'noop.js')).resolve(value);
    if (relative) return pathToFileURL(resolve(startCwd, value)).href;
    return import.meta.resolve(value);
  } catch {
    return value;
  }
}

/**
 * The flags a host thread needs when Troupe runs from its TypeScript sources:
 * the parent's module-resolution flags (`--conditions`, `--import`, `--require`,
 * `--loader`, loaders made absolute) plus `--conditions=source`. Only those: Node
 * refuses V8 and process-wide flags (`--expose-gc`, `--max-old-space-size`...)
 * in a worker's `execArgv`, and a worker given one would never start.
 * @internal
 */
export function sourceExecArgv(execArgv: readonly string[]): string[] {
  const has = execArgv.some(
    (a, i) => a === '--conditions=source' || ((a === '--conditions' || a === '-C') && execArgv[i + 1] === 'source'),
  );
  const kept: string[] = [];
  const loader = /^(--import|--require|-r|--loader|--experimental-loader)$/;
  for (let i = 0; i < execArgv.length; i++) {
    const a = execArgv[i] as string;
    const eq = /^(--conditions|-C|--import|--require|-r|--loader|--experimental-loader)=(.*)$/s.exec(a);
    if (eq !== null) {
      const [, flag, value] = eq as unknown as [string, string, string];
      kept.push(loader.test(flag) ? `${flag}=${absoluteLoader(flag, value)}` : a);
    } else if (/^(--conditions|-C)$/.test(a) && i + 1 < execArgv.length) {
      kept.push(a, execArgv[++i] as string);
    } else if (loader.test(a) && i + 1 < execArgv.length) {
      kept.push(a, absoluteLoader(a, execArgv[++i] as string));
    }
  }
  return has ? kept : [...kept, '--conditions=source'];
}

/**
 * The main-thread end of the worker-thread transport: one host thread, over
 * its `Worker`. It starts the thread (from sources through tsx when Troupe
 * runs from TypeScript), applies `resourceLimits`, and closes with the
 * thread's exit code and the cause its `error` event gave (an uncaught
 * exception, `ERR_WORKER_OUT_OF_MEMORY`).
 *
 * A thread's channel is never down: it is up until the thread exits.
 * @internal
 */
export class WorkerTransport implements Transport {
  readonly worker: Worker;
  readonly threadId: number;
  readonly label: string;
  /** Set when the thread has exited. */
  exitCode: number | undefined = undefined;
  /** What the thread's `error` event gave before it exited. */
  exitCause: unknown = undefined;
  /** Resolves when the thread has exited. */
  readonly exited: Promise<void>;
  private receiver: ((batch: Batch) => void) | undefined;
  private paused = false;
  private backlog: Batch[] = [];
  private readonly closeListeners: ((closed: TransportClosed) => void)[] = [];

  constructor(index: number, address: NodeAddress, askTimeoutMs: number, resourceLimits: ResourceLimits | undefined) {
    const here = import.meta.url;
    const fromSource = here.endsWith('.ts');
    const entry = new URL(fromSource ? '../worker/entry.ts' : '../worker/entry.js', here);
    const data: HostWorkerData = {
      hostIndex: index,
      address,
      askTimeoutMs,
      ...(fromSource ? { tsEntry: entry.href } : {}),
    };
    const execArgv = fromSource ? sourceExecArgv(process.execArgv) : undefined;
    this.worker = new Worker(fromSource ? new URL('../worker/ts-boot.mjs', here) : entry, {
      workerData: data,
      // From sources, the thread must resolve `@troupe/*` to TypeScript as well, with the loaders made absolute.
      ...(execArgv !== undefined ? { execArgv } : {}),
      ...(resourceLimits ? { resourceLimits } : {}),
      stdout: false,
      stderr: false,
    });
    this.threadId = this.worker.threadId;
    this.label = `worker host ${index} (thread ${this.threadId})`;
    this.worker.on('message', (batch: Batch) => {
      if (this.paused || this.backlog.length > 0) this.backlog.push(batch);
      else this.receiver?.(batch);
    });
    this.worker.on('error', (error) => {
      this.exitCause = error;
    });
    this.exited = new Promise((resolve) => {
      this.worker.on('exit', (code) => {
        this.exitCode = code;
        const closed: TransportClosed = {
          reason: this.exitCause === undefined ? 'exited' : 'error',
          detail: `thread ${this.threadId} exited with code ${code}`,
          ...(this.exitCause === undefined ? {} : { cause: this.exitCause }),
        };
        for (const l of this.closeListeners.splice(0)) l(closed);
        resolve();
      });
    });
  }

  get up(): boolean {
    return this.exitCode === undefined;
  }

  post(batch: Batch, transfer?: readonly ArrayBuffer[]): boolean {
    if (this.exitCode !== undefined) return false;
    // A thread moves any transferable the sender listed (ports too), not only ArrayBuffers.
    this.worker.postMessage(batch, transfer as readonly TransferListItem[] | undefined);
    return true;
  }

  onBatch(receive: (batch: Batch) => void): void {
    this.receiver = receive;
  }

  /** A `Worker` emits every message it gets; paused batches wait here, in order. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    while (!this.paused && this.backlog.length > 0) this.receiver?.(this.backlog.shift() as Batch);
  }

  onStatus(_listener: (up: boolean, detail: string) => void): void {}

  onClose(listener: (closed: TransportClosed) => void): void {
    this.closeListeners.push(listener);
  }

  /** Terminate the thread (its 'exit' closes the transport). */
  close(): void {
    if (this.exitCode === undefined) void this.worker.terminate();
  }
}
