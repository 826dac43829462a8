import type { EventLoopUtilization } from 'node:perf_hooks';
import type { ActorSystem } from './ActorSystem.js';
import { WorkerExitedError } from './errors.js';
import { type ActorCell, Status } from './internal/ActorCell.js';
import type { HostPool, WorkerHost } from './internal/HostPool.js';
import type { Link } from './internal/Link.js';
import { RemoteProxy } from './internal/RemoteProxy.js';
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
  private readonly quantiles = new Map<string, { count: number; handlingMs: ActorNode['handlingMs'] }>();
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
    const workers = this.workers();
    const visit = (cell: ActorCell) => {
      for (const child of cell.children.values()) {
        actorCount++;
        processedTotal += child.processed;
        mailboxTotal += child.mailboxSize;
        if (actors.length < max) actors.push(this.node(child, workers.byLink));
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
      workers: { size: workers.size, slots: workers.slots, exits: workers.exits },
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

  private node(cell: ActorCell, hostOf: ReadonlyMap<Link, number>): ActorNode {
    const remote = cell.remote;
    const link = remote instanceof RemoteProxy ? remote.link : undefined;
    return {
      path: cell.path,
      id: cell.id,
      parent: cell.parent?.path ?? '',
      status: statusNames[cell.status] ?? 'running',
      kind: cell.def.name,
      workerHost: link === undefined ? undefined : hostOf.get(link),
      processed: cell.processed,
      failed: cell.failures,
      restarts: cell.restarts,
      mailboxDepth: cell.mailboxSize,
      mailboxHighWater: cell.mailboxHighWater,
      busy: cell.isProcessing,
      inFlight: cell.inFlightWork,
      handlingMs: this.handling(cell),
      lastError: this.lastErrors.get(cell.path),
      definition: cell.def,
    };
  }

  /**
   * The cell's handling-time quantiles, from `metrics()` (which sorts its
   * sample); kept until the cell takes a new sample, so an idle actor costs
   * no sort per snapshot.
   */
  private handling(cell: ActorCell): ActorNode['handlingMs'] {
    const count = cell.samplesTaken;
    const cached = this.quantiles.get(cell.path);
    if (cached !== undefined && cached.count === count) return cached.handlingMs;
    const handlingMs = cell.metrics().handlingMs;
    this.quantiles.set(cell.path, { count, handlingMs });
    return handlingMs;
  }

  /** The pool's slots now, and which slot each worker link belongs to (to place worker actors). */
  private workers(): IntrospectionSnapshot['workers'] & { byLink: ReadonlyMap<Link, number> } {
    const pool = this.roots.pool();
    const byLink = new Map<Link, number>();
    if (pool === undefined) return { size: 0, slots: [], exits: [], byLink };
    const slots: WorkerSlot[] = [];
    for (let index = 0; index < pool.size; index++) {
      const slot = pool.slot(index);
      if (slot !== undefined) this.watch(slot);
      const host = slot?.link.isOpen ? slot : undefined;
      if (host !== undefined) byLink.set(host.link, index);
      slots.push({
        index,
        threadId: host?.transport.threadId,
        alive: host !== undefined,
        actors: host?.link.channels.size ?? 0,
        pendingAsks: host?.link.asksInFlight ?? 0,
        utilization: host === undefined ? undefined : this.utilization(host),
        threadsStarted: this.threadsSeen.get(index)?.size ?? 0,
      });
    }
    return { size: pool.size, slots, exits: [...this.exits], byLink };
  }

  /** Count a slot's thread once, and record its exit (code and cause, from its transport) when it ends. */
  private watch(host: WorkerHost): void {
    if (this.watched.has(host)) return;
    this.watched.add(host);
    const { transport } = host;
    let seen = this.threadsSeen.get(host.index);
    if (seen === undefined) this.threadsSeen.set(host.index, (seen = new Set()));
    seen.add(transport.threadId);
    void transport.exited.then(() => {
      this.elu.delete(transport.threadId);
      this.recordExit(
        { threadId: transport.threadId, exitCode: transport.exitCode, cause: transport.exitCause },
        host.index,
      );
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
    const threadId = host.transport.threadId;
    try {
      const perf = host.transport.worker.performance;
      const prev = this.elu.get(threadId);
      const now = perf.eventLoopUtilization();
      this.elu.set(threadId, now);
      return prev === undefined ? now.utilization : perf.eventLoopUtilization(now, prev).utilization;
    } catch {
      return undefined; // the thread is exiting
    }
  }
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
