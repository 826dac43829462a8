import type { EventLoopUtilization } from 'node:perf_hooks';
import type { ActorSystem } from './ActorSystem.js';
import { WorkerExitedError } from './errors.js';
import { type ActorCell, Status } from './internal/ActorCell.js';
import { type HostPool, type WorkerHost, WorkerProxy } from './internal/WorkerHost.js';
import type { ShutdownReport } from './ShutdownReport.js';

/** An actor's lifecycle status, as tools show it. */
export type ActorStatus = 'starting' | 'running' | 'suspended' | 'restarting' | 'stopping' | 'stopped';

const statusNames: readonly ActorStatus[] = ['starting', 'running', 'suspended', 'restarting', 'stopping', 'stopped'];

/** An error reduced to what is safe to show: its name and message, never the value that was thrown. */
export interface ErrorSummary {
  name: string;
  message: string;
}

/** One actor in an {@link IntrospectionSnapshot}: status, counters and handling-time quantiles. No state, no messages. */
export interface ActorNode {
  path: string;
  id: string;
  /** Path of the parent (`/user` or `/system` for top-level actors). */
  parent: string;
  status: ActorStatus;
  /** `definition.name`, when the definition has one (worker actors: `worker:<export>`). */
  kind: string | undefined;
  /** For a worker actor: the index of the host thread it runs on now. */
  workerHost: number | undefined;
  processed: number;
  failed: number;
  restarts: number;
  mailboxDepth: number;
  mailboxHighWater: number;
  /** Handling a message right now. */
  busy: boolean;
  /** Work declared in flight outside the mailbox (`ctx.inFlight`). */
  inFlight: number;
  /** From the sampled handling times (the same sample as `metrics(ref).handlingMs`). */
  handlingMs: { mean: number; p50: number; p99: number; samples: number };
  /** The latest failure seen since this introspection began. */
  lastError: (ErrorSummary & { at: number; directive: string }) | undefined;
  /** The actor's definition object (not serialisable: tools use it to look up per-definition settings). */
  definition: object;
}

/** An actor that stopped since this introspection began. */
export interface StoppedActor {
  path: string;
  reason: 'stopped' | 'failed' | 'shutdown';
  error: ErrorSummary | undefined;
  at: number;
}

/** How a worker thread ended. */
export interface WorkerExit {
  threadId: number;
  hostIndex: number;
  exitCode: number | undefined;
  cause: ErrorSummary | undefined;
  at: number;
}

/** One slot of the worker host pool. */
export interface WorkerSlot {
  index: number;
  /** Thread id of the live thread in this slot, if any. */
  threadId: number | undefined;
  alive: boolean;
  /** Worker actors hosted on it. */
  actors: number;
  /** Asks in flight to it. */
  pendingAsks: number;
  /** Event-loop utilisation of the thread (0..1) since the previous snapshot. */
  utilization: number | undefined;
  /** Threads this slot has started (seen by this introspection); more than one means it was restarted. */
  threadsStarted: number;
}

/** Everything a tool needs to draw the system at one instant. Plain data except `ActorNode.definition`. */
export interface IntrospectionSnapshot {
  system: string;
  /** System clock, ms. */
  at: number;
  state: string;
  /** Actors under `/user` and `/system`, depth first, parents before children, at most `maxActors`. */
  actors: ActorNode[];
  /** Live actors in the tree (beyond `maxActors` too). */
  actorCount: number;
  /** Messages handled since the start, by every actor, stopped ones included (a rate's numerator). */
  processedTotal: number;
  /** Queued messages in every live actor. */
  mailboxTotal: number;
  stopped: StoppedActor[];
  workers: { size: number; slots: WorkerSlot[]; exits: WorkerExit[] };
  deadLetters: { total: number; byReason: Record<string, number> };
  outstandingAsks: number;
  /** Lifecycle states entered since this introspection began (e.g. `stopping.drain`), with when. */
  transitions: { state: string; at: number }[];
  /** The shutdown report, once the system has stopped. */
  shutdown: ShutdownReport | undefined;
}

/** What an introspection can reach inside the system. @internal */
export interface IntrospectionRoots {
  user: ActorCell;
  system: ActorCell;
  pool: () => HostPool | undefined;
  /** Messages handled by actors that have since stopped. */
  retiredProcessed: () => number;
}

const KEEP = 50;

/**
 * A live view into a running system, for tools such as `@troupe/inspector`:
 * the supervision tree with each actor's status, worker threads with their
 * load and exits, dead-letter counts, lifecycle transitions. It shows
 * counters, never message contents or actor state. Get one with
 * `system.introspect()`; call `dispose()` when done (it listens to
 * `failed`, `stopped` and lifecycle events).
 *
 * @example
 * const view = system.introspect();
 * for (const a of view.snapshot().actors) console.log(a.path, a.status, a.mailboxDepth);
 * view.dispose();
 */
export class Introspection {
  private readonly lastErrors = new Map<string, ErrorSummary & { at: number; directive: string }>();
  private readonly stoppedActors: StoppedActor[] = [];
  private readonly exits: WorkerExit[] = [];
  private readonly exitSeen = new Set<number>();
  private readonly threadsSeen = new Map<number, Set<number>>();
  private readonly watched = new WeakSet<WorkerHost>();
  private readonly elu = new Map<number, EventLoopUtilization>();
  private readonly quantiles = new Map<string, { count: number; mean: number; p50: number; p99: number }>();
  private readonly transitionLog: { state: string; at: number }[] = [];
  private report: ShutdownReport | undefined;
  private readonly unsubscribe: (() => void)[] = [];

  /** @internal Use `system.introspect()`. */
  constructor(
    private readonly sys: ActorSystem,
    private readonly roots: IntrospectionRoots,
  ) {
    const now = () => sys.clock.now();
    const onFailed = (e: { path: string; error: unknown; directive: string }) => {
      if (this.lastErrors.size > 10_000 && !this.lastErrors.has(e.path)) return;
      this.lastErrors.set(e.path, { ...summarizeError(e.error), at: now(), directive: e.directive });
      if (e.error instanceof WorkerExitedError) this.recordExit(e.error, undefined);
    };
    const onStopped = (e: { path: string; reason: { kind: string; error?: unknown } }) => {
      this.quantiles.delete(e.path);
      this.lastErrors.delete(e.path);
      const kind = e.reason.kind as StoppedActor['reason'];
      // Shutdown stops every actor: a list of them all says nothing.
      if (kind === 'shutdown') return;
      push(this.stoppedActors, {
        path: e.path,
        reason: kind,
        error: kind === 'failed' ? summarizeError(e.reason.error) : undefined,
        at: now(),
      });
    };
    sys.events.on('failed', onFailed);
    sys.events.on('stopped', onStopped);
    this.unsubscribe.push(
      () => sys.events.off('failed', onFailed),
      () => sys.events.off('stopped', onStopped),
      sys.onLifecycle((state) => this.transitionLog.push({ state, at: now() })),
    );
    void sys.whenShutdown.then((r) => {
      this.report = r;
    });
  }

  /** The system's state now. `maxActors` (default 1000) bounds the actors listed (depth first). */
  snapshot(options?: { maxActors?: number }): IntrospectionSnapshot {
    const max = options?.maxActors ?? 1000;
    const actors: ActorNode[] = [];
    let actorCount = 0;
    let processedTotal = this.roots.retiredProcessed();
    let mailboxTotal = 0;
    const visit = (cell: ActorCell) => {
      for (const child of cell.children.values()) {
        actorCount++;
        processedTotal += child.processed;
        mailboxTotal += child.mailboxSize;
        if (actors.length < max) actors.push(this.node(child));
        visit(child);
      }
    };
    visit(this.roots.user);
    visit(this.roots.system);
    return {
      system: this.sys.name,
      at: this.sys.clock.now(),
      state: this.sys.state,
      actors,
      actorCount,
      processedTotal,
      mailboxTotal,
      stopped: [...this.stoppedActors],
      workers: this.workers(),
      deadLetters: { total: this.sys.deadLetters.total, byReason: this.sys.deadLetters.byReason() },
      outstandingAsks: this.sys.outstandingAsks,
      transitions: [...this.transitionLog],
      shutdown: this.report,
    };
  }

  /** Stop the actor at `path` (and its children). False when there is no such live actor. */
  stop(path: string): boolean {
    const cell = this.find(path);
    if (cell === undefined) return false;
    void cell.stop({ kind: 'stopped' });
    return true;
  }

  /**
   * Restart the actor at `path` now, as its supervisor would (children stopped,
   * `beforeRestart`, fresh `init`, mailbox kept), without counting towards its
   * restart limit. False when there is no such live actor.
   */
  restart(path: string): boolean {
    const cell = this.find(path);
    if (cell === undefined || cell.status === Status.Restarting) return false;
    void cell.restart(new Error(`restarted by an operator (introspection) at ${path}`), 0);
    return true;
  }

  /** Stop listening to the system. */
  dispose(): void {
    for (const u of this.unsubscribe.splice(0)) u();
  }

  private find(path: string): ActorCell | undefined {
    const parts = path.split('/').filter((p) => p.length > 0);
    let cell: ActorCell | undefined =
      parts[0] === 'user' ? this.roots.user : parts[0] === 'system' ? this.roots.system : undefined;
    for (let i = 1; i < parts.length && cell !== undefined; i++) cell = cell.children.get(parts[i] as string);
    if (cell === undefined || parts.length < 2 || cell.status >= Status.Stopping) return undefined;
    return cell;
  }

  private node(cell: ActorCell): ActorNode {
    const remote = cell.remote;
    return {
      path: cell.path,
      id: cell.id,
      parent: cell.parent?.path ?? '',
      status: statusNames[cell.status] ?? 'running',
      kind: cell.def.name,
      workerHost: remote instanceof WorkerProxy ? remote.host?.index : undefined,
      processed: cell.processed,
      failed: cell.failures,
      restarts: cell.restarts,
      mailboxDepth: cell.mailboxSize,
      mailboxHighWater: mailboxHighWater(cell),
      busy: cell.isProcessing,
      inFlight: cell.inFlightWork,
      handlingMs: this.handling(cell),
      lastError: this.lastErrors.get(cell.path),
      definition: cell.def,
    };
  }

  /**
   * Mean, p50 and p99 of the cell's handling-time sample. ActorCell keeps
   * the sample private and its `metrics()` has no p50, so this is the one
   * place that reads the ring buffer; results are cached until the sample
   * grows, so an idle actor costs nothing per snapshot.
   */
  private handling(cell: ActorCell): ActorNode['handlingMs'] {
    const sampled = cell as unknown as SampledCell;
    const count = sampled.sampleCount;
    const cached = this.quantiles.get(cell.path);
    if (cached !== undefined && cached.count === count) {
      return { mean: cached.mean, p50: cached.p50, p99: cached.p99, samples: count };
    }
    const n = Math.min(count, 512);
    const s = sampled.samples === undefined ? [] : Array.from(sampled.samples.subarray(0, n)).sort((a, b) => a - b);
    const q = (p: number) => (n === 0 ? 0 : (s[Math.min(n - 1, Math.floor(n * p))] as number));
    const mean = n === 0 ? 0 : s.reduce((a, b) => a + b, 0) / n;
    const result = { count, mean, p50: q(0.5), p99: q(0.99) };
    this.quantiles.set(cell.path, result);
    return { mean, p50: result.p50, p99: result.p99, samples: count };
  }

  private workers(): IntrospectionSnapshot['workers'] {
    const pool = this.roots.pool();
    if (pool === undefined) return { size: 0, slots: [], exits: [] };
    const slots: WorkerSlot[] = [];
    for (let index = 0; index < pool.size; index++) {
      const host = pool.host(index);
      if (host !== undefined) this.watch(host);
      const seen = this.threadsSeen.get(index);
      slots.push({
        index,
        threadId: host?.alive ? host.threadId : undefined,
        alive: host?.alive ?? false,
        actors: host?.alive ? host.proxies.size : 0,
        pendingAsks: host?.alive ? host.pending.size : 0,
        utilization: host?.alive ? this.utilization(host) : undefined,
        threadsStarted: seen?.size ?? 0,
      });
    }
    return { size: pool.size, slots, exits: [...this.exits] };
  }

  private watch(host: WorkerHost): void {
    if (this.watched.has(host)) return;
    this.watched.add(host);
    let seen = this.threadsSeen.get(host.index);
    if (seen === undefined) this.threadsSeen.set(host.index, (seen = new Set()));
    seen.add(host.threadId);
    if (!host.alive) return;
    let cause: unknown;
    host.worker.on('error', (e) => {
      cause = e;
    });
    host.worker.once('exit', (code) => {
      this.elu.delete(host.threadId);
      this.recordExit({ threadId: host.threadId, exitCode: code, cause }, host.index);
    });
  }

  private recordExit(
    e: { threadId: number; exitCode: number | undefined; cause?: unknown },
    index: number | undefined,
  ) {
    if (this.exitSeen.has(e.threadId)) return;
    this.exitSeen.add(e.threadId);
    let hostIndex = index ?? -1;
    for (const [i, ids] of this.threadsSeen) if (ids.has(e.threadId)) hostIndex = i;
    push(this.exits, {
      threadId: e.threadId,
      hostIndex,
      exitCode: e.exitCode,
      cause: e.cause === undefined ? undefined : summarizeError(e.cause),
      at: this.sys.clock.now(),
    });
  }

  private utilization(host: WorkerHost): number | undefined {
    try {
      const perf = host.worker.performance;
      const prev = this.elu.get(host.threadId);
      const now = perf.eventLoopUtilization();
      this.elu.set(host.threadId, now);
      return prev === undefined ? now.utilization : perf.eventLoopUtilization(now, prev).utilization;
    } catch {
      return undefined; // the thread is exiting
    }
  }
}

/** The two private fields of ActorCell that hold its handling-time sample. */
interface SampledCell {
  samples: Float64Array | undefined;
  sampleCount: number;
}

function mailboxHighWater(cell: ActorCell): number {
  // metrics() would also sort the sample; the high-water mark is all that is needed from it.
  return (cell as unknown as { mailbox: { highWater: number } }).mailbox.highWater;
}

function push<T>(list: T[], item: T): void {
  if (list.length >= KEEP) list.shift();
  list.push(item);
}

/** Name and message of an error; for a thrown non-Error, only its type (the value may be a message or a secret). */
export function summarizeError(error: unknown): ErrorSummary {
  if (error instanceof Error) {
    const message = error.message.length > 300 ? `${error.message.slice(0, 300)}…` : error.message;
    return { name: error.name, message };
  }
  return { name: typeof error, message: `thrown value of type ${error === null ? 'null' : typeof error} (not shown)` };
}
