/**
 * The main-thread side of worker hosting: host threads, the pool that places
 * actors on them, and the proxy cells that stand for worker actors in the
 * main tree (so supervision, watch, stop order and dead letters work exactly
 * as for local actors).
 *
 * @internal
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type TransferListItem, Worker } from 'node:worker_threads';
import type { ActorDefinition } from '../ActorDefinition.js';
import type { ActorRef, AskOptions, Message, TellOptions } from '../ActorRef.js';
import { typeOf } from '../DeadLetters.js';
import {
  ActorNotFoundError,
  deserializeError,
  type SerializedError,
  serializeError,
  UnserializableMessageError,
  WorkerExitedError,
} from '../errors.js';
import { resolveMailboxOptions } from '../Mailbox.js';
import type { SpawnOptions } from '../SpawnOptions.js';
import type { Placement, WorkerActorSpec, WorkerPoolOptions } from '../WorkerActor.js';
import { type ActorCell, cellOf, LocalActorRef, type ReplyTarget, Status, type SystemInternals } from './ActorCell.js';
import { DataCloneError, decode, encode, encodedHadRefs, REF_BRAND } from './codec.js';
import { FrameReply } from './FrameReply.js';
import { type Frame, type HostWorkerData, Op, type SpawnFrame, type WireRef } from './wire.js';

/** Fields after each opcode, for walking a batch. */
export const arity: Record<number, number> = {
  [Op.Tell]: 2,
  [Op.TellRefs]: 2,
  [Op.Ask]: 3,
  [Op.Reply]: 2,
  [Op.ReplyError]: 2,
  [Op.Spawn]: 1,
  [Op.Restart]: 3,
  [Op.Resume]: 1,
  [Op.Stop]: 1,
  [Op.Started]: 1,
  [Op.Failed]: 2,
  [Op.Stopped]: 1,
  [Op.TellMain]: 2,
  [Op.AskMain]: 3,
  [Op.DeadLetter]: 3,
};

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

/** Most frames per post: a bound on one clone's size and latency. */
const MAX_BATCH_FIELDS = 4096;

/**
 * An encoded message that needs more than a plain frame: it holds refs (the
 * worker must decode it) or buffers to move rather than copy. Plain messages
 * travel unwrapped, so the common case allocates nothing.
 */
class Outbound {
  constructor(
    readonly message: unknown,
    readonly refs: boolean,
    readonly transfer: readonly TransferListItem[] | undefined,
  ) {}
}

/** Wrap an encoded message if it needs it (see {@link Outbound}). */
function outbound(encoded: unknown, transfer: readonly TransferListItem[] | undefined): unknown {
  const hasTransfer = transfer !== undefined && transfer.length > 0;
  return encodedHadRefs || hasTransfer
    ? new Outbound(encoded, encodedHadRefs, hasTransfer ? transfer : undefined)
    : encoded;
}

interface Pending {
  target: ReplyTarget;
  path: string;
  handle: number;
}

/** One worker thread and its message channel. */
export class WorkerHost {
  readonly worker: Worker;
  readonly threadId: number;
  alive = true;
  private out: Frame = [];
  private transfer: TransferListItem[] | undefined;
  private flushScheduled = false;
  private nextHandle = 1;
  private nextReply = 1;
  readonly proxies = new Map<number, WorkerProxy>();
  readonly pending = new Map<number, Pending>();
  private exitCause: unknown;
  private readonly exited: Promise<void>;
  private readonly flushBound = () => this.flush();

  constructor(
    readonly pool: HostPool,
    readonly index: number,
    resourceLimits: WorkerPoolOptions['resourceLimits'],
  ) {
    const here = import.meta.url;
    const fromSource = here.endsWith('.ts');
    const entry = new URL(fromSource ? '../worker/entry.ts' : '../worker/entry.js', here);
    const data: HostWorkerData = { hostIndex: index, ...(fromSource ? { tsEntry: entry.href } : {}) };
    this.worker = new Worker(fromSource ? new URL('../worker/ts-boot.mjs', here) : entry, {
      workerData: data,
      // From sources, the thread must resolve `@troupe/*` to TypeScript as well.
      ...(fromSource ? { execArgv: sourceExecArgv(process.execArgv) } : {}),
      ...(resourceLimits ? { resourceLimits } : {}),
      stdout: false,
      stderr: false,
    });
    this.threadId = this.worker.threadId;
    this.worker.on('message', (batch: Frame) => this.receive(batch));
    this.worker.on('error', (error) => {
      this.exitCause = error;
    });
    this.exited = new Promise((resolve) => {
      this.worker.on('exit', (code) => {
        this.died(code);
        resolve();
      });
    });
  }

  /** Actors hosted plus asks in flight: what least-loaded placement compares. */
  get load(): number {
    return this.proxies.size + this.pending.size;
  }

  allocateHandle(proxy: WorkerProxy): number {
    const handle = this.nextHandle++;
    this.proxies.set(handle, proxy);
    return handle;
  }

  release(handle: number): void {
    this.proxies.delete(handle);
  }

  // ------------------------------------------------------------ outbound

  push(a: unknown, b: unknown, c?: unknown, d?: unknown, fields = 2): void {
    const out = this.out;
    out.push(a, b);
    if (fields >= 2) out.push(c);
    if (fields >= 3) out.push(d);
    if (out.length >= MAX_BATCH_FIELDS) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(this.flushBound);
    }
  }

  tell(handle: number, message: unknown): void {
    if (message instanceof Outbound) {
      if (message.transfer !== undefined) (this.transfer ??= []).push(...message.transfer);
      this.push(message.refs ? Op.TellRefs : Op.Tell, handle, message.message);
      return;
    }
    this.push(Op.Tell, handle, message);
  }

  ask(handle: number, message: unknown, target: ReplyTarget, path: string): void {
    const replyId = this.nextReply++;
    this.pending.set(replyId, { target, path, handle });
    if (message instanceof Outbound) {
      if (message.transfer !== undefined) (this.transfer ??= []).push(...message.transfer);
      message = message.message;
    }
    this.push(Op.Ask, handle, message, replyId, 3);
  }

  control(op: number, a: unknown, b?: unknown, c?: unknown): void {
    const n = arity[op] ?? 1;
    this.push(op, a, b, c, n);
  }

  flush(): void {
    this.flushScheduled = false;
    if (this.out.length === 0) return;
    const batch = this.out;
    const transfer = this.transfer;
    this.out = [];
    this.transfer = undefined;
    if (!this.alive) {
      this.dropBatch(batch);
      return;
    }
    try {
      this.worker.postMessage(batch, transfer as TransferListItem[] | undefined);
    } catch (error) {
      this.salvage(batch, transfer, error);
    }
  }

  /**
   * The codec refuses what structured clone cannot copy, so a whole batch
   * failing is rare (a WeakMap, say). When it happens, frames are re-posted
   * one by one and only the culprits fail: asks reject, tells become dead
   * letters. Nothing else in the batch is lost.
   */
  private salvage(batch: Frame, transfer: TransferListItem[] | undefined, error: unknown): void {
    for (let i = 0; i < batch.length; ) {
      const op = batch[i] as number;
      const n = (arity[op] ?? 1) + 1;
      const frame = batch.slice(i, i + n);
      i += n;
      try {
        this.worker.postMessage(
          frame,
          transfer?.filter((t) => containsTransfer(frame, t)),
        );
      } catch (e) {
        this.refuseFrame(frame, e ?? error);
      }
    }
  }

  private refuseFrame(frame: Frame, error: unknown): void {
    const op = frame[0];
    if (op === Op.Spawn || op === Op.Restart) {
      // A start that cannot be posted must fail the proxy's init, not leave it waiting.
      const spawn = (op === Op.Spawn ? frame[1] : frame[3]) as SpawnFrame;
      const proxy = this.proxies.get(spawn.handle);
      proxy?.remoteFailed(new UnserializableMessageError(spawn.path, 'spawn input', error));
      return;
    }
    const handle = frame[1] as number;
    const path = this.proxies.get(handle)?.path ?? `worker ${this.index}`;
    const err = new UnserializableMessageError(path, typeOf(frame[2]), error);
    if (op === Op.Ask) {
      const p = this.pending.get(frame[3] as number);
      this.pending.delete(frame[3] as number);
      p?.target.reject(err);
    } else {
      this.pool.internals.logger.error(err.message);
      this.pool.internals.deadLetters.record(path, frame[2], 'unserializable');
    }
  }

  private dropBatch(batch: Frame): void {
    for (let i = 0; i < batch.length; ) {
      const op = batch[i] as number;
      const n = (arity[op] ?? 1) + 1;
      if (op === Op.Tell || op === Op.TellRefs || op === Op.Ask) {
        const path = this.proxies.get(batch[i + 1] as number)?.path ?? `worker ${this.index}`;
        if (op === Op.Ask) {
          const replyId = batch[i + 3] as number;
          const p = this.pending.get(replyId);
          this.pending.delete(replyId);
          p?.target.reject(new WorkerExitedError(path, this.threadId, undefined, this.exitCause));
        } else {
          this.pool.internals.deadLetters.record(path, batch[i + 2], 'actor-stopped');
        }
      }
      i += n;
    }
  }

  // ------------------------------------------------------------ inbound

  private receive(batch: Frame): void {
    const sys = this.pool.internals;
    const prev = sys.currentCell;
    // Messages from worker actors are actor traffic, not new intake: they pass during drain.
    sys.currentCell = this.pool.runtimeCell;
    try {
      for (let i = 0; i < batch.length; ) {
        const op = batch[i] as number;
        switch (op) {
          case Op.Reply: {
            const p = this.pending.get(batch[i + 1] as number);
            if (p !== undefined) {
              this.pending.delete(batch[i + 1] as number);
              if (!p.target.resolve(this.pool.decode(batch[i + 2]))) {
                sys.deadLetters.record(p.path, batch[i + 2], 'late-reply');
              }
            }
            break;
          }
          case Op.ReplyError: {
            const p = this.pending.get(batch[i + 1] as number);
            if (p !== undefined) {
              this.pending.delete(batch[i + 1] as number);
              p.target.reject(deserializeError(batch[i + 2] as SerializedError));
            }
            break;
          }
          case Op.Started:
            this.proxies.get(batch[i + 1] as number)?.remoteStarted();
            break;
          case Op.Failed:
            this.proxies.get(batch[i + 1] as number)?.remoteFailed(deserializeError(batch[i + 2] as SerializedError));
            break;
          case Op.Stopped:
            this.proxies.get(batch[i + 1] as number)?.remoteStopped();
            break;
          case Op.TellMain: {
            const ref = this.pool.fromWire(batch[i + 1] as WireRef);
            try {
              ref.tell(this.pool.decode(batch[i + 2]) as Message);
            } catch (e) {
              sys.logger.warn(`tell from worker ${this.index} to ${ref.path} refused: ${String(e)}`);
            }
            break;
          }
          case Op.AskMain: {
            const w = batch[i + 1] as WireRef;
            const replyId = batch[i + 3] as number;
            const message = this.pool.decode(batch[i + 2]);
            const target = new FrameReply(
              replyId,
              (v) => this.pool.encode(v, w.$troupeRef.path, 'reply'),
              (op, id, payload) => this.control(op, id, payload),
            );
            const cell = this.pool.cellFor(w);
            if (cell !== undefined) cell.enqueue(message, target);
            else if (w.$troupeRef.host !== undefined) {
              // A worker-local actor on another host: relay through its ref.
              this.pool
                .fromWire(w)
                .ask(message as Message)
                .then(
                  (v) => target.resolve(v),
                  (e) => target.reject(e),
                );
            } else {
              sys.deadLetters.record(w.$troupeRef.path, message, 'unknown-actor');
              target.reject(new ActorNotFoundError(w.$troupeRef.path, typeOf(message)));
            }
            break;
          }
          case Op.DeadLetter:
            sys.deadLetters.record(
              batch[i + 1] as string,
              { type: batch[i + 2] as string },
              batch[i + 3] as 'actor-stopped',
            );
            break;
        }
        i += (arity[op] ?? 1) + 1;
      }
    } finally {
      sys.currentCell = prev;
    }
  }

  /** The thread ended: fail what was in flight and tell every proxy. */
  private died(exitCode: number): void {
    this.alive = false;
    const cause = this.exitCause;
    for (const [replyId, p] of this.pending) {
      this.pending.delete(replyId);
      p.target.reject(new WorkerExitedError(p.path, this.threadId, exitCode, cause));
    }
    this.dropBatch(this.out);
    this.out = [];
    const proxies = [...this.proxies.values()];
    this.proxies.clear();
    for (const proxy of proxies) {
      proxy.hostDied(new WorkerExitedError(proxy.path, this.threadId, exitCode, cause));
    }
    this.pool.hostDied(this);
  }

  /** Stop the thread; resolves when it has exited. */
  terminate(): Promise<void> {
    if (this.alive) void this.worker.terminate();
    return this.exited;
  }
}

function containsTransfer(frame: Frame, t: TransferListItem): boolean {
  const seen = new Set<unknown>();
  const visit = (v: unknown): boolean => {
    if (v === t) return true;
    if (ArrayBuffer.isView(v)) return v.buffer === t;
    if (v === null || typeof v !== 'object' || seen.has(v)) return false;
    seen.add(v);
    return Object.values(v).some(visit);
  };
  return frame.some(visit);
}

/**
 * The host threads of a system. Threads start lazily, one per slot; a slot
 * whose thread died gets a fresh one the next time an actor is placed there
 * (which happens only through a supervised restart, so a thread that keeps
 * dying is bounded by the restart limits).
 */
export class HostPool {
  readonly size: number;
  private readonly hosts: (WorkerHost | undefined)[];
  /** Main-side actors whose refs crossed to a worker, by id. */
  private readonly exported = new Map<string, ActorCell>();

  constructor(
    readonly internals: SystemInternals,
    /** Counts as the sender of messages arriving from workers. */
    readonly runtimeCell: ActorCell,
    private readonly options: WorkerPoolOptions,
  ) {
    const size = options.size ?? availableParallelism();
    if (!Number.isInteger(size) || size < 1) {
      throw new TypeError(`workers.size must be a positive integer, got ${size}`);
    }
    this.size = size;
    this.hosts = new Array(size).fill(undefined);
  }

  /** Pick (and start if needed) the host for a new worker actor. */
  place(placement: Placement | undefined): WorkerHost {
    let index: number;
    if (typeof placement === 'number') {
      if (!Number.isInteger(placement) || placement < 0 || placement >= this.size) {
        throw new TypeError(`worker placement must be a host index in [0, ${this.size - 1}], got ${placement}`);
      }
      index = placement;
    } else {
      index = 0;
      let best = Number.POSITIVE_INFINITY;
      for (let i = 0; i < this.size; i++) {
        const load = this.hosts[i]?.load ?? 0;
        if (load < best) {
          best = load;
          index = i;
        }
      }
    }
    let host = this.hosts[index];
    if (host === undefined || !host.alive) {
      const limits = this.options.hosts?.[index]?.resourceLimits ?? this.options.resourceLimits;
      host = new WorkerHost(this, index, limits);
      this.hosts[index] = host;
    }
    return host;
  }

  host(index: number): WorkerHost | undefined {
    return this.hosts[index];
  }

  hostDied(host: WorkerHost): void {
    if (this.hosts[host.index] === host) this.hosts[host.index] = undefined;
  }

  /** Number of live host threads. */
  get liveThreads(): number {
    return this.hosts.filter((h) => h?.alive).length;
  }

  /** Terminate every host thread; resolves when all have exited. */
  async terminateAll(): Promise<void> {
    await Promise.all(this.hosts.map((h) => h?.terminate()));
  }

  /** Check and encode a message for a worker; throws UnserializableMessageError. */
  encode(message: unknown, target: string, type?: string): unknown {
    try {
      return encode(message, (ref) => this.toWire(ref));
    } catch (error) {
      if (error instanceof DataCloneError) {
        throw new UnserializableMessageError(target, type ?? typeOf(message), error);
      }
      throw error;
    }
  }

  decode(value: unknown): unknown {
    return decode(value, (w) => this.fromWire(w));
  }

  // biome-ignore lint/suspicious/noExplicitAny: any protocol
  toWire(ref: ActorRef<any>): WireRef {
    if (ref instanceof HostLocalRef) return { $troupeRef: { path: ref.path, host: ref.hostIndex, handle: ref.handle } };
    const cell = cellOf(ref);
    if (cell === undefined) return { $troupeRef: { path: ref.path } };
    if (!this.exported.has(cell.id)) {
      this.exported.set(cell.id, cell);
      cell.onTerminated(() => this.exported.delete(cell.id));
    }
    return { $troupeRef: { path: cell.path, mainId: cell.id } };
  }

  /** The main-side cell a wire ref names (refs to worker-local actors have none). */
  cellFor(w: WireRef): ActorCell | undefined {
    const { mainId } = w.$troupeRef;
    return mainId === undefined ? undefined : this.exported.get(mainId);
  }

  // biome-ignore lint/suspicious/noExplicitAny: any protocol
  fromWire(w: WireRef): ActorRef<any> {
    const { path, mainId, host, handle } = w.$troupeRef;
    if (mainId !== undefined) {
      const cell = this.exported.get(mainId);
      if (cell !== undefined) return cell.ref;
    }
    if (host !== undefined && handle !== undefined) {
      const h = this.hosts[host];
      if (h?.alive) return new HostLocalRef(this, host, handle, path);
    }
    return new DeadWireRef(this.internals, path);
  }
}

/** A ref to an actor living only inside a worker (a child of a worker actor). */
class HostLocalRef<M extends Message = Message> implements ActorRef<M> {
  declare readonly [REF_BRAND]: true;
  readonly id: string;
  constructor(
    private readonly pool: HostPool,
    readonly hostIndex: number,
    readonly handle: number,
    readonly path: string,
  ) {
    this.id = `${hostIndex}:${handle}`;
  }
  get name(): string {
    return this.path.split('/').pop() ?? '';
  }
  get isAlive(): boolean {
    return this.pool.host(this.hostIndex)?.alive ?? false;
  }
  tell(message: M): void {
    const host = this.pool.host(this.hostIndex);
    if (!host?.alive) {
      this.pool.internals.deadLetters.record(this.path, message, 'actor-stopped');
      return;
    }
    host.tell(this.handle, outbound(this.pool.encode(message, this.path), undefined));
  }
  send(message: M): Promise<void> {
    try {
      this.tell(message);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }
  ask<R>(message: M, options?: AskOptions): Promise<R> {
    const host = this.pool.host(this.hostIndex);
    const sys = this.pool.internals;
    const type = typeOf(message);
    if (!host?.alive) return Promise.reject(new ActorNotFoundError(this.path, type));
    let encoded: unknown;
    try {
      encoded = this.pool.encode(message, this.path);
    } catch (e) {
      return Promise.reject(e);
    }
    const { promise, record } = sys.asks.create<R>(
      this.path,
      type,
      options?.timeoutMs ?? sys.askTimeoutMs,
      options?.signal,
    );
    if (record !== undefined) host.ask(this.handle, outbound(encoded, options?.transfer), record, this.path);
    return promise;
  }
}
Object.defineProperty(HostLocalRef.prototype, REF_BRAND, { value: true });

/** A ref that crossed a thread but whose actor is gone. */
class DeadWireRef<M extends Message = Message> implements ActorRef<M> {
  declare readonly [REF_BRAND]: true;
  readonly id = '';
  readonly isAlive = false;
  constructor(
    private readonly sys: SystemInternals,
    readonly path: string,
  ) {}
  get name(): string {
    return this.path.split('/').pop() ?? '';
  }
  tell(message: M): void {
    this.sys.deadLetters.record(this.path, message, 'unknown-actor');
  }
  send(message: M): Promise<void> {
    this.tell(message);
    return Promise.reject(new ActorNotFoundError(this.path, typeOf(message)));
  }
  ask<R>(message: M): Promise<R> {
    this.tell(message);
    return Promise.reject(new ActorNotFoundError(this.path, typeOf(message)));
  }
}
Object.defineProperty(DeadWireRef.prototype, REF_BRAND, { value: true });

/**
 * Stands for one worker actor in the main tree. Its cell's definition is a
 * forwarder: `init` starts (or restarts) the real actor in a thread and waits
 * until it runs, `receive` forwards each message, `afterStop` stops it there.
 * While the proxy is suspended or restarting, messages wait in its mailbox on
 * the main side and go to the restarted actor.
 */
export class WorkerProxy {
  cell!: ActorCell;
  host: WorkerHost | undefined;
  handle = 0;
  private remoteExists = false;
  private lastError: unknown;
  private waiting: { resolve: () => void; reject: (e: unknown) => void } | undefined;
  private stopWaiter: (() => void) | undefined;

  constructor(
    readonly pool: HostPool,
    readonly spec: WorkerActorSpec,
    readonly input: unknown,
    private placement: Placement | undefined,
  ) {}

  get path(): string {
    return this.cell.path;
  }

  /** The proxy's definition. */
  definition(): ActorDefinition<Message, undefined, unknown> {
    return {
      name: `worker:${this.spec.exportName}`,
      init: () => this.start(),
      receive: (_s, message) => {
        const env = this.cell.takeReplyTarget();
        const host = this.host as WorkerHost;
        if (env === undefined) host.tell(this.handle, message);
        else host.ask(this.handle, message, env, this.cell.path);
      },
    };
  }

  private spawnFrame(): SpawnFrame {
    return {
      handle: this.handle,
      module: this.spec.module,
      exportName: this.spec.exportName,
      input: this.input,
      name: this.cell.name,
      path: this.cell.path,
      mainId: this.cell.id,
    };
  }

  private async start(): Promise<undefined> {
    const started = new Promise<void>((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
    if (this.host?.alive && this.remoteExists) {
      this.host.control(Op.Restart, this.handle, serializeError(this.lastError), this.spawnFrame());
    } else {
      const host = this.pool.place(this.placement);
      this.placement = host.index; // restarts stay on the same slot
      this.host = host;
      this.handle = host.allocateHandle(this);
      this.pool.toWire(this.cell.ref); // register, so ctx.self in the worker routes back here
      host.control(Op.Spawn, this.spawnFrame());
    }
    await started;
    return undefined;
  }

  remoteStarted(): void {
    this.remoteExists = true;
    const w = this.waiting;
    this.waiting = undefined;
    w?.resolve();
  }

  remoteFailed(error: unknown): void {
    this.lastError = error;
    const w = this.waiting;
    if (w !== undefined) {
      this.waiting = undefined;
      w.reject(error);
      return;
    }
    this.cell.fail(error, undefined);
  }

  /** The parent resumed the proxy: resume the real actor too. */
  resumed(): void {
    if (this.host?.alive) this.host.control(Op.Resume, this.handle);
  }

  hostDied(error: WorkerExitedError): void {
    this.lastError = error;
    this.remoteExists = false;
    this.host = undefined;
    this.handle = 0;
    const s = this.stopWaiter;
    this.stopWaiter = undefined;
    s?.();
    const w = this.waiting;
    if (w !== undefined) {
      this.waiting = undefined;
      w.reject(error);
      return;
    }
    if (this.cell.status === Status.Running) this.cell.fail(error, undefined);
  }

  /** Stop the real actor; if it is still starting, let the start settle first. */
  async stop(): Promise<void> {
    if (this.waiting !== undefined) {
      await new Promise<void>((resolve) => {
        const w = this.waiting as NonNullable<WorkerProxy['waiting']>;
        this.waiting = {
          resolve: () => {
            w.resolve();
            resolve();
          },
          reject: (e) => {
            w.reject(e);
            resolve();
          },
        };
      });
    }
    return this.stopRemote();
  }

  private stopRemote(): Promise<void> {
    const host = this.host;
    if (host === undefined || !host.alive || this.handle === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.stopWaiter = () => {
        host.release(this.handle);
        resolve();
      };
      host.control(Op.Stop, this.handle);
    });
  }

  remoteStopped(): void {
    const s = this.stopWaiter;
    this.stopWaiter = undefined;
    s?.();
  }

  /** Fast path for a tell: straight to the thread when nothing is queued ahead of it. */
  tryDirect(message: unknown): boolean {
    const cell = this.cell;
    if (cell.status !== Status.Running || cell.mailboxSize !== 0 || cell.isProcessing) return false;
    const sys = this.pool.internals;
    if (!sys.intakeOpen && sys.currentCell === undefined) return false;
    (this.host as WorkerHost).tell(this.handle, message);
    return true;
  }
}

/** The ref of a worker actor: checks messages at the sender, then behaves like any ref. */
export class WorkerActorRef<M extends Message = Message> extends LocalActorRef<M> {
  constructor(
    cell: ActorCell,
    private readonly proxy: WorkerProxy,
  ) {
    super(cell);
  }

  override tell(message: M, options?: TellOptions): void {
    const encoded = outbound(this.proxy.pool.encode(message, this.cell.path), options?.transfer);
    if (!this.proxy.tryDirect(encoded)) this.cell.enqueue(encoded, undefined);
  }

  override send(message: M, options?: TellOptions): Promise<void> {
    let encoded: unknown;
    try {
      encoded = outbound(this.proxy.pool.encode(message, this.cell.path), options?.transfer);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.cell.send(encoded);
  }

  override ask<R = unknown>(message: M, options?: AskOptions): Promise<R> {
    let encoded: unknown;
    try {
      encoded = outbound(this.proxy.pool.encode(message, this.cell.path), options?.transfer);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.cell.ask<R>(encoded, options);
  }
}

/** Build the proxy cell for a worker actor under `parent`. */
export function spawnWorkerProxy(
  parent: ActorCell,
  pool: HostPool,
  spec: WorkerActorSpec,
  options: (SpawnOptions<unknown> & { host?: Placement }) | undefined,
): { cell: ActorCell; ref: WorkerActorRef } {
  if (
    spec === null ||
    typeof spec !== 'object' ||
    typeof spec.module !== 'string' ||
    typeof spec.exportName !== 'string'
  ) {
    throw new TypeError(
      `spawnWorker under [${parent.path}]: expected workerActor(moduleUrl, exportName), got ${String(spec)}`,
    );
  }
  if (options?.host !== undefined && options.host !== 'least-loaded') {
    const h = options.host;
    if (typeof h !== 'number' || !Number.isInteger(h) || h < 0 || h >= pool.size) {
      throw new TypeError(
        `spawnWorker under [${parent.path}]: host must be 'least-loaded' or an index in [0, ${pool.size - 1}], got ${String(h)}`,
      );
    }
  }
  // The input is a message on the wire, taken at the call exactly as a tell is:
  // checked (an unserialisable input throws here, nothing spawned), refs swapped
  // for markers, and snapshotted, so what the caller does to its object
  // afterwards (PSI zeroes its key) cannot change what the thread gets, now or
  // at a restart. The snapshot is the proxy's own copy; its binary data is
  // zeroed when the proxy stops for good.
  const input = options?.input;
  const wireInput =
    input === undefined
      ? undefined
      : structuredClone(pool.encode(input, `${parent.path}/${options?.name ?? spec.exportName}`, 'input'));
  const proxy = new WorkerProxy(pool, spec, wireInput, options?.host);
  resolveMailboxOptions(options?.mailbox, `spawnWorker ${spec.exportName}`);
  const { host: _host, ...spawnOptions } = options ?? {};
  let cell: ActorCell;
  try {
    cell = parent.spawnChild(proxy.definition(), spawnOptions, (c) => {
      proxy.cell = c;
      c.remote = proxy;
      return new WorkerActorRef(c, proxy);
    });
  } catch (error) {
    zeroBinary(wireInput);
    throw error;
  }
  cell.onTerminated(() => zeroBinary(wireInput));
  return { cell, ref: cell.ref as WorkerActorRef };
}

/**
 * Overwrite every byte of binary data (typed arrays, ArrayBuffers) inside `value`
 * with zeros: the proxy's snapshot of a spawn input may hold key material,
 * and nothing else references that copy.
 */
function zeroBinary(value: unknown, seen = new Set<unknown>()): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (ArrayBuffer.isView(value)) {
    // Shared memory is not a copy: it still belongs to the caller.
    if (!(value.buffer instanceof ArrayBuffer)) return;
    new Uint8Array(value.buffer, value.byteOffset, value.byteLength).fill(0);
    return;
  }
  if (value instanceof ArrayBuffer) {
    new Uint8Array(value).fill(0);
    return;
  }
  if (value instanceof Map) {
    for (const [k, v] of value) {
      zeroBinary(k, seen);
      zeroBinary(v, seen);
    }
    return;
  }
  if (value instanceof Set) {
    for (const v of value) zeroBinary(v, seen);
    return;
  }
  for (const v of Object.values(value)) zeroBinary(v, seen);
}
