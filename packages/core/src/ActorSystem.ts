import { fileURLToPath } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import { EventEmitter } from 'eventemitter3';
import type { ActorDefinition } from './ActorDefinition.js';
import type { ActorRef, AskOptions, Message, TerminationReason } from './ActorRef.js';
import { type Clock, systemClock } from './Clock.js';
import { DeadLetters, typeOf } from './DeadLetters.js';
import {
  ActorNotFoundError,
  describe,
  NotMainThreadError,
  ShuttingDownError,
  SystemAlreadyStartedError,
} from './errors.js';
import { Introspection } from './Introspection.js';
import { ActorCell, cellOf, Status, type SystemInternals } from './internal/ActorCell.js';
import { AskRegistry } from './internal/Asks.js';
import { HostPool, spawnWorkerProxy } from './internal/WorkerHost.js';
import { consoleLogger, type Logger } from './Logger.js';
import { resolveMailboxOptions } from './Mailbox.js';
import type { ActorMetrics } from './Metrics.js';
import {
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_PHASE_TIMEOUT,
  formatShutdownReport,
  type PhaseReport,
  type ShutdownCause,
  type ShutdownPhase,
  type ShutdownReport,
  shutdownPhases,
} from './ShutdownReport.js';
import type { SpawnOptions, WorkerSpawnOptions } from './SpawnOptions.js';
import { defaultStrategy, type SupervisionStrategy } from './SupervisionStrategy.js';
import type { SystemEventMap } from './SystemEvents.js';
import { SystemLifecycle } from './SystemLifecycle.js';
import type { WorkerActorSpec, WorkerPoolOptions } from './WorkerActor.js';

/** Options of {@link ActorSystem.start}. */
export interface ActorSystemOptions {
  /** Shown in logs and reports. */
  name: string;
  /**
   * Signals that trigger coordinated shutdown; default `['SIGTERM', 'SIGINT']`.
   * `false` installs no handlers (embedding in a host that owns signals, or tests).
   */
  signals?: false | readonly NodeJS.Signals[];
  /**
   * Exit the process when a signal-triggered shutdown completes (Node no longer
   * exits on SIGTERM by itself once a listener exists). Default `true` when
   * signals are handled. After any shutdown of a signal-handling system,
   * `process.exitCode` is set to the report's exit code.
   */
  exitOnSignal?: boolean;
  /**
   * Keep the process alive until shutdown, as a server would (Akka's system does
   * the same for the JVM). Default `true` when signals are handled; the handle
   * is released when shutdown completes, so the process can then exit by itself.
   */
  keepAlive?: boolean;
  /** Exit code after a clean signal-triggered shutdown; default 0. A batch job may prefer `128 + n`. */
  exitCodeOnSignal?: (signal: NodeJS.Signals) => number;
  /** Runs exactly once, on the main thread, before the system is `running`; a throw fails `start`. */
  init?: (system: ActorSystem) => void | Promise<void>;
  clock?: Clock;
  logger?: Logger;
  /** Randomness in [0, 1) for backoff jitter. */
  random?: () => number;
  /** Default ask timeout; 5000 ms. */
  askTimeoutMs?: number;
  /** How long one actor may take to finish its in-flight message and its afterStop hook when stopped; 5000 ms. */
  stopTimeoutMs?: number;
  /** Strategy for top-level actors that name none; default {@link defaultStrategy}. */
  supervision?: SupervisionStrategy;
  /** The worker host threads for `spawnWorker` (started lazily). */
  workers?: WorkerPoolOptions;
  /** Per-phase timeouts of coordinated shutdown, in ms. Defaults: stop-intake 5000, drain 10000, stop-actors 10000, before-exit 5000. */
  phaseTimeoutsMs?: Partial<Record<ShutdownPhase, number>>;
}

/** Options of {@link ActorSystem.shutdown}. */
export interface ShutdownOptions {
  /** Exit code to report when nothing goes wrong; default 0. */
  exitCode?: number;
}

const GLOBAL = Symbol.for('troupe.actorSystem');
interface Registration {
  name: string;
  startedAt: string;
}
const registry = globalThis as unknown as { [GLOBAL]?: Registration | undefined };

const defaultPhaseTimeouts: Record<ShutdownPhase, number> = {
  'stop-intake': 5_000,
  drain: 10_000,
  'stop-actors': 10_000,
  'before-exit': 5_000,
};

const signalNumbers: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGTERM: 15 };

const Guardian = {
  name: 'guardian',
  init: () => undefined,
  receive: () => undefined,
} as ActorDefinition<Message, undefined, undefined>;

/**
 * The root of an actor tree and owner of the process's lifecycle: exactly one
 * per process, started on the main thread, shut down in ordered phases on a
 * signal, a call, or a failure that escalates past the top.
 *
 * @example
 * const system = await ActorSystem.start({ name: 'app' });
 * const counter = system.spawn(Counter, { name: 'counter' });
 * counter.tell({ type: 'inc' });
 * console.log(await counter.ask<number>({ type: 'get' }, { timeoutMs: 1000 }));
 * const report = await system.shutdown();
 */
export class ActorSystem {
  readonly name: string;
  /** Where `start` was called (file:line), for error messages. */
  readonly startedAt: string;
  readonly events = new EventEmitter<SystemEventMap>();
  readonly deadLetters: DeadLetters;
  readonly clock: Clock;
  readonly logger: Logger;

  private readonly internals: SystemInternals & { retiredProcessed: number };
  private readonly lifecycle = new SystemLifecycle();
  private readonly userGuardian: ActorCell;
  private readonly systemGuardian: ActorCell;
  private readonly hooks = new Map<ShutdownPhase, Map<string, () => unknown>>();
  private readonly phaseTimeouts: Record<ShutdownPhase, number>;
  private readonly signalHandlers = new Map<NodeJS.Signals, () => void>();
  private keepAliveHandle: NodeJS.Timeout | undefined;
  private pool: HostPool | undefined;
  private shutdownPromise: Promise<ShutdownReport> | undefined;
  private shutdownCause:
    | { cause: ShutdownCause; signal?: NodeJS.Signals; error?: string; exitCode: number }
    | undefined;
  private currentPhase: PhaseReport | undefined;
  private readonly abandoned: string[] = [];
  private resolveShutdown!: (r: ShutdownReport) => void;
  /** Resolves with the report once the system has stopped, however the shutdown began. */
  readonly whenShutdown: Promise<ShutdownReport>;

  private constructor(
    private readonly options: ActorSystemOptions,
    startedAt: string,
  ) {
    this.name = options.name;
    this.startedAt = startedAt;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? consoleLogger('info');
    this.deadLetters = new DeadLetters(this.events, this.logger, () => this.clock.now());
    this.phaseTimeouts = { ...defaultPhaseTimeouts, ...options.phaseTimeoutsMs };
    this.whenShutdown = new Promise((r) => {
      this.resolveShutdown = r;
    });
    const self = this;
    this.internals = {
      facade: this,
      clock: this.clock,
      logger: this.logger,
      random: options.random ?? Math.random,
      events: this.events,
      deadLetters: this.deadLetters,
      asks: new AskRegistry(this.clock),
      askTimeoutMs: options.askTimeoutMs ?? 5_000,
      stopTimeoutMs: options.stopTimeoutMs ?? 5_000,
      defaultStrategy: options.supervision ?? defaultStrategy,
      intakeOpen: true,
      currentCell: undefined,
      refusedDuringShutdown: 0,
      retiredProcessed: 0,
      rootFailed(cell, error) {
        self.rootFailed(cell, error);
      },
      spawnWorker(parent, spec, options) {
        return spawnWorkerProxy(parent, self.workerPool(), spec, options).cell;
      },
      stopTimedOut(cell, what) {
        const line = `${cell.path} did not finish ${what} within ${self.internals.stopTimeoutMs} ms (stopTimeoutMs); abandoning it`;
        self.logger.warn(line);
        self.abandoned.push(cell.path);
        self.currentPhase?.hung.push(line);
      },
    };
    const mailbox = resolveMailboxOptions(undefined, 'guardian');
    const guardianStrategy = this.internals.defaultStrategy;
    const userDef = { ...Guardian, childSupervision: this.internals.defaultStrategy };
    this.userGuardian = new ActorCell(this.internals, userDef, undefined, undefined, guardianStrategy, 'user', mailbox);
    this.systemGuardian = new ActorCell(
      this.internals,
      userDef,
      undefined,
      undefined,
      guardianStrategy,
      'system',
      mailbox,
    );
    this.lifecycle.subscribe((state) => this.events.emit('lifecycle', { state }));
  }

  /**
   * Start the one actor system of this process, on the main thread.
   *
   * Fails at once with `NotMainThreadError` in a worker thread, and with
   * `SystemAlreadyStartedError` while another system is alive (also when two
   * calls race). After `shutdown()` completes, a new system may start: that is
   * the escape hatch for tests, which run one system at a time with
   * `signals: false`.
   */
  static async start(options: ActorSystemOptions): Promise<ActorSystem> {
    if (!isMainThread) throw new NotMainThreadError();
    validateOptions(options);
    const existing = registry[GLOBAL];
    if (existing !== undefined) throw new SystemAlreadyStartedError(existing.name, existing.startedAt);
    const startedAt = callSite();
    registry[GLOBAL] = { name: options.name, startedAt };
    const system = new ActorSystem(options, startedAt);
    try {
      system.userGuardian.start();
      system.systemGuardian.start();
      if (options.init !== undefined) await options.init(system);
      system.installSignalHandlers();
      if (options.keepAlive ?? options.signals !== false) {
        system.keepAliveHandle = setInterval(() => {}, 2 ** 30);
      }
      system.lifecycle.send('STARTED');
    } catch (error) {
      system.lifecycle.send('FAIL');
      system.removeSignalHandlers();
      registry[GLOBAL] = undefined;
      throw error;
    }
    return system;
  }

  /** The lifecycle state: `starting`, `running`, `stopping.<phase>`, `stopped` or `failed`. */
  get state(): string {
    return this.lifecycle.state;
  }

  /** True from the start of shutdown on. */
  get isShuttingDown(): boolean {
    return this.shutdownPromise !== undefined;
  }

  /** Be told of each lifecycle state change; returns an unsubscribe function. */
  onLifecycle(listener: (state: string) => void): () => void {
    return this.lifecycle.subscribe(listener);
  }

  /** Spawn a top-level actor under `/user`. */
  spawn<M extends Message, S, I = undefined>(
    definition: ActorDefinition<M, S, I>,
    options?: SpawnOptions<I>,
  ): ActorRef<M> {
    if (!this.internals.intakeOpen && this.internals.currentCell === undefined) {
      throw new ShuttingDownError('/user', 'spawn', 'spawn');
    }
    return this.userGuardian.spawnChild(definition, options).ref as unknown as ActorRef<M>;
  }

  /**
   * Spawn a top-level actor on a worker thread. The worker loads the
   * definition from `spec` (module URL + export); the returned ref has the
   * same API as a local one. Messages must be structured-cloneable plain data
   * (refs inside them are fine); anything else fails at the sender with
   * `UnserializableMessageError`.
   * @example
   * const hasher = system.spawnWorker(workerActor<HashMsg>(new URL('./hasher.js', import.meta.url), 'Hasher'), { name: 'hasher' });
   * const digest = await hasher.ask<string>({ type: 'hash', data: 'abc' });
   */
  spawnWorker<M extends Message, I = undefined>(
    spec: WorkerActorSpec<M, I>,
    options?: WorkerSpawnOptions<I>,
  ): ActorRef<M> {
    if (!this.internals.intakeOpen && this.internals.currentCell === undefined) {
      throw new ShuttingDownError('/user', 'spawnWorker', 'spawnWorker');
    }
    return spawnWorkerProxy(this.userGuardian, this.workerPool(), spec, options).ref as unknown as ActorRef<M>;
  }

  /** The worker host pool (created on first use). @internal */
  workerPool(): HostPool {
    this.pool ??= new HostPool(this.internals, this.systemGuardian, this.options.workers ?? {});
    return this.pool;
  }

  /** Number of live worker host threads. */
  get workerThreads(): number {
    return this.pool?.liveThreads ?? 0;
  }

  /** Spawn an internal actor under `/system` (testkit probes, runtime services). @internal */
  spawnSystemActor<M extends Message, S, I = undefined>(
    definition: ActorDefinition<M, S, I>,
    options?: SpawnOptions<I>,
  ): ActorRef<M> {
    return this.systemGuardian.spawnChild(definition, options).ref as unknown as ActorRef<M>;
  }

  /**
   * The ref at `path` (e.g. `/user/psi/left`). For a path with no actor, a ref
   * whose tells become dead letters (`unknown-actor`) and whose asks reject
   * with `ActorNotFoundError`.
   */
  // biome-ignore lint/suspicious/noExplicitAny: any protocol
  select<M extends Message = any>(path: string): ActorRef<M> {
    const parts = path.split('/').filter((p) => p.length > 0);
    let cell: ActorCell | undefined =
      parts[0] === 'user' ? this.userGuardian : parts[0] === 'system' ? this.systemGuardian : undefined;
    for (let i = 1; i < parts.length && cell !== undefined; i++) cell = cell.children.get(parts[i] as string);
    // The guardians themselves are not for users: stopping one would end the tree.
    if (cell === undefined || parts.length < 2 || cell.status >= Status.Stopping) {
      return new UnknownActorRef<M>(path, this.deadLetters);
    }
    return cell.ref as unknown as ActorRef<M>;
  }

  /** Stop an actor (and its children); resolves when it has terminated. */
  // biome-ignore lint/suspicious/noExplicitAny: any protocol
  stop(ref: ActorRef<any>): Promise<void> {
    const cell = cellOf(ref);
    if (cell === undefined) return Promise.resolve();
    return cell.stop({ kind: 'stopped' });
  }

  /** Resolves with the termination reason when `ref` has terminated. */
  // biome-ignore lint/suspicious/noExplicitAny: any protocol
  whenTerminated(ref: ActorRef<any>): Promise<TerminationReason> {
    const cell = cellOf(ref);
    if (cell === undefined) return Promise.resolve({ kind: 'stopped' });
    return new Promise((resolve) => cell.onTerminated(resolve));
  }

  /** Metrics of one actor. */
  // biome-ignore lint/suspicious/noExplicitAny: any protocol
  metrics(ref: ActorRef<any>): ActorMetrics | undefined {
    return cellOf(ref)?.metrics();
  }

  /** Queued plus in-flight messages of `ref` (0 once it has stopped): cheap enough for a router's every message. */
  // biome-ignore lint/suspicious/noExplicitAny: any protocol
  loadOf(ref: ActorRef<any>): number {
    return cellOf(ref)?.load ?? 0;
  }

  /** Metrics of every live actor under `/user`, depth first. */
  allMetrics(): ActorMetrics[] {
    const out: ActorMetrics[] = [];
    walk(this.userGuardian, (c) => {
      if (c !== this.userGuardian) out.push(c.metrics());
    });
    return out;
  }

  /** A live view of the tree, worker threads and lifecycle, for tools such as `@troupe/inspector`. */
  introspect(): Introspection {
    const retired = () => this.internals.retiredProcessed;
    return new Introspection(this, {
      user: this.userGuardian,
      system: this.systemGuardian,
      pool: () => this.pool,
      retiredProcessed: retired,
    });
  }

  /** Number of asks awaiting a reply. */
  get outstandingAsks(): number {
    return this.internals.asks.outstanding;
  }

  /**
   * Register `fn` to run in a shutdown phase; hooks of one phase run
   * concurrently, bounded by the phase timeout, and a hook that hangs is named
   * in the report. Messages a hook sends synchronously count as the system's
   * own, so they pass the closed intake (e.g. telling a job to abort).
   * Returns a function that unregisters it.
   * @example
   * system.onShutdown('stop-intake', 'http', () => new Promise((r) => server.close(r)));
   */
  onShutdown(phase: ShutdownPhase, name: string, fn: () => unknown): () => void {
    if (!shutdownPhases.includes(phase)) {
      throw new TypeError(`onShutdown: phase must be one of ${shutdownPhases.join(', ')}, got ${String(phase)}`);
    }
    if (typeof fn !== 'function') throw new TypeError(`onShutdown(${phase}, ${name}): fn must be a function`);
    let byName = this.hooks.get(phase);
    if (byName === undefined) this.hooks.set(phase, (byName = new Map()));
    if (byName.has(name)) throw new TypeError(`onShutdown: a hook named ${name} is already registered in ${phase}`);
    byName.set(name, fn);
    return () => byName.delete(name);
  }

  /**
   * Coordinated shutdown, in phases, each bounded by its timeout:
   * 1. `stop-intake`: new tells from outside the actors become dead letters
   *    (`shutting-down`), new asks reject with `ShuttingDownError`;
   * 2. `drain`: wait until every mailbox is empty and no message is in flight;
   * 3. `stop-actors`: stop top-level actors in reverse start order, children before parents;
   * 4. `before-exit`: last hooks; then every ask still pending is rejected.
   *
   * Idempotent: every caller gets the same report.
   */
  shutdown(options?: ShutdownOptions): Promise<ShutdownReport> {
    return this.beginShutdown({ cause: 'call', exitCode: options?.exitCode ?? EXIT_OK });
  }

  private beginShutdown(cause: NonNullable<ActorSystem['shutdownCause']>): Promise<ShutdownReport> {
    if (this.shutdownPromise !== undefined) return this.shutdownPromise;
    this.shutdownCause = cause;
    this.shutdownPromise = this.runShutdown();
    return this.shutdownPromise;
  }

  private async runShutdown(): Promise<ShutdownReport> {
    const cause = this.shutdownCause as NonNullable<ActorSystem['shutdownCause']>;
    this.lifecycle.send('SHUTDOWN');
    const t0 = performance.now();
    const processed0 = this.totalProcessed();
    const dead0 = this.deadLetters.byReason();
    const deadTotal0 = this.deadLetters.total;
    const refused0 = this.internals.refusedDuringShutdown;
    const phases: PhaseReport[] = [];

    const runPhase = async (phase: ShutdownPhase, work: () => Promise<void>, hung: () => string[]) => {
      const report: PhaseReport = { phase, durationMs: 0, timedOut: false, hung: [] };
      this.currentPhase = report;
      const start = performance.now();
      const hooks = [...(this.hooks.get(phase) ?? new Map()).entries()];
      const pendingHooks = new Set(hooks.map(([n]) => n));
      const all = Promise.all([
        work(),
        ...hooks.map(([name, fn]) =>
          Promise.resolve()
            // Hooks are the system's own code: what they send synchronously passes the intake gate.
            .then(() => this.userGuardian.withCurrent(fn))
            .catch((e) => this.logger.error(`shutdown hook ${name} (${phase}) threw: ${describe(e)}`))
            .finally(() => pendingHooks.delete(name)),
        ),
      ]);
      const timeoutMs = this.phaseTimeouts[phase];
      let timer: unknown;
      const timedOut = await Promise.race([
        all.then(() => false),
        new Promise<boolean>((r) => {
          timer = this.clock.setTimeout(() => r(true), timeoutMs);
        }),
      ]);
      this.clock.clearTimeout(timer);
      if (timedOut) {
        report.timedOut = true;
        for (const n of pendingHooks) report.hung.push(`hook ${n}`);
        report.hung.push(...hung());
        this.logger.error(
          `shutdown phase ${phase} timed out after ${timeoutMs} ms${report.hung.length ? `; still waiting on: ${report.hung.join('; ')}` : ''}`,
        );
      }
      report.durationMs = performance.now() - start;
      phases.push(report);
      this.currentPhase = undefined;
    };

    await runPhase(
      'stop-intake',
      async () => {
        this.internals.intakeOpen = false;
      },
      () => [],
    );
    this.lifecycle.send('NEXT');
    await runPhase(
      'drain',
      () => this.waitQuiet(),
      () => this.busyActors(),
    );
    this.lifecycle.send('NEXT');
    await runPhase(
      'stop-actors',
      async () => {
        await this.userGuardian.stopChildren();
        await this.systemGuardian.stopChildren();
        // Worker actors' stop hooks have run inside their threads; now end the threads.
        await this.pool?.terminateAll();
      },
      () => {
        const stuck: string[] = [];
        walk(this.userGuardian, (c) => {
          if (c.status === Status.Stopping) stuck.push(`actor ${c.path} (stopping)`);
        });
        this.abandoned.push(...stuck.map((s) => s.replace(/^actor | \(stopping\)$/g, '')));
        return stuck;
      },
    );
    this.lifecycle.send('NEXT');
    await runPhase(
      'before-exit',
      async () => {},
      () => [],
    );

    // A thread that hung past the phase timeout is terminated all the same.
    await this.pool?.terminateAll();
    const pendingAsksRejected = this.internals.asks.rejectAll((r) => new ShuttingDownError(r.target, r.messageType));
    this.internals.asks.dispose();
    this.removeSignalHandlers();
    clearInterval(this.keepAliveHandle);
    void this.userGuardian.stop({ kind: 'shutdown' });
    void this.systemGuardian.stop({ kind: 'shutdown' });

    const dead1 = this.deadLetters.byReason();
    const byReason: Record<string, number> = {};
    for (const [k, v] of Object.entries(dead1)) {
      const d = v - (dead0[k] ?? 0);
      if (d > 0) byReason[k] = d;
    }
    let exitCode = cause.exitCode;
    if (exitCode === EXIT_OK && (phases.some((p) => p.timedOut) || this.abandoned.length > 0)) {
      exitCode = EXIT_PHASE_TIMEOUT;
    }
    const report: ShutdownReport = {
      system: this.name,
      cause: cause.cause,
      ...(cause.signal !== undefined ? { signal: cause.signal } : {}),
      ...(cause.error !== undefined ? { error: cause.error } : {}),
      exitCode,
      durationMs: performance.now() - t0,
      phases,
      processed: this.totalProcessed() - processed0,
      deadLettered: this.deadLetters.total - deadTotal0,
      deadLettersByReason: byReason,
      rejected: this.internals.refusedDuringShutdown - refused0,
      pendingAsksRejected,
      abandoned: [...new Set(this.abandoned)],
    };
    this.lifecycle.send('DONE');
    registry[GLOBAL] = undefined;
    this.logger.info(formatShutdownReport(report));
    if (this.ownsProcess && exitCode !== EXIT_OK) process.exitCode = exitCode;
    this.resolveShutdown(report);
    return report;
  }

  private get ownsProcess(): boolean {
    return this.options.signals !== false;
  }

  private totalProcessed(): number {
    let n = this.internals.retiredProcessed;
    walk(this.userGuardian, (c) => {
      n += c.processed;
    });
    walk(this.systemGuardian, (c) => {
      n += c.processed;
    });
    return n;
  }

  /** Resolve when no actor has queued or in-flight messages. */
  private async waitQuiet(): Promise<void> {
    // Polled with real timers (not the injected clock): the phase timeout,
    // which does use the clock, bounds it.
    while (this.busyActors().length > 0) {
      if (this.shutdownCause === undefined) return;
      await new Promise((r) => setTimeout(r, 2));
      if (this.currentPhase?.phase !== 'drain') return;
    }
  }

  private busyActors(): string[] {
    const busy: string[] = [];
    const visit = (c: ActorCell) => {
      if (c.mailboxSize > 0 || c.isProcessing || c.inFlightWork > 0 || c.status === Status.Restarting) {
        const work = c.inFlightWork > 0 ? `, ${c.inFlightWork} declared in flight` : '';
        busy.push(`actor ${c.path} (${c.mailboxSize} queued${c.isProcessing ? ', 1 in flight' : ''}${work})`);
      }
    };
    walk(this.userGuardian, visit);
    walk(this.systemGuardian, visit);
    return busy;
  }

  private rootFailed(cell: ActorCell, error: unknown): void {
    const detail = describe(error);
    this.logger.error(`failure escalated to the root guardian ${cell.path}: ${detail}; shutting down`);
    if (this.shutdownPromise !== undefined) return;
    void this.beginShutdown({ cause: 'failure', error: detail, exitCode: EXIT_FAILURE });
  }

  private installSignalHandlers(): void {
    if (this.options.signals === false) return;
    const signals = this.options.signals ?? (['SIGTERM', 'SIGINT'] as const);
    for (const signal of signals) {
      const handler = () => this.onSignal(signal);
      this.signalHandlers.set(signal, handler);
      process.on(signal, handler);
    }
  }

  private removeSignalHandlers(): void {
    for (const [signal, handler] of this.signalHandlers) process.off(signal, handler);
    this.signalHandlers.clear();
  }

  private onSignal(signal: NodeJS.Signals): void {
    const code = 128 + (signalNumbers[signal] ?? 0);
    if (this.shutdownPromise !== undefined) {
      this.logger.error(`second signal ${signal} during shutdown; forcing exit with code ${code}`);
      process.exit(code);
    }
    this.logger.info(`${signal} received; shutting down ${this.name}`);
    const exitCode = this.options.exitCodeOnSignal?.(signal) ?? EXIT_OK;
    // The handler stays installed until shutdown ends, so a second signal comes back here and forces exit.
    void this.beginShutdown({ cause: 'signal', signal, exitCode }).then((report) => {
      if (this.options.exitOnSignal !== false) process.exit(report.exitCode);
    });
  }
}

/** A ref to nothing: every message is a dead letter. */
class UnknownActorRef<M extends Message> implements ActorRef<M> {
  readonly id = '';
  readonly isAlive = false;
  constructor(
    readonly path: string,
    private readonly dead: DeadLetters,
  ) {}
  get name(): string {
    return this.path.split('/').pop() ?? '';
  }
  tell(message: M): void {
    this.dead.record(this.path, message, 'unknown-actor');
  }
  send(message: M): Promise<void> {
    this.dead.record(this.path, message, 'unknown-actor');
    return Promise.reject(new ActorNotFoundError(this.path, typeOf(message)));
  }
  ask<R>(message: M, _options?: AskOptions): Promise<R> {
    this.dead.record(this.path, message, 'unknown-actor');
    return Promise.reject(new ActorNotFoundError(this.path, typeOf(message)));
  }
}

function walk(cell: ActorCell, visit: (c: ActorCell) => void): void {
  visit(cell);
  for (const c of cell.children.values()) walk(c, visit);
}

function callSite(): string {
  const lines = (new Error().stack ?? '').split('\n').slice(1);
  const self = fileURLToPath(import.meta.url);
  const outside = lines.find((l) => !l.includes(self) && !l.includes('node:internal'));
  return (outside ?? lines[0] ?? 'unknown').trim().replace(/^at /, '');
}

function validateOptions(o: ActorSystemOptions): void {
  if (o === null || typeof o !== 'object') throw new TypeError('ActorSystem.start: options must be an object');
  if (typeof o.name !== 'string' || o.name.length === 0) {
    throw new TypeError(`ActorSystem.start: name must be a non-empty string, got ${describe(o.name)}`);
  }
  for (const key of ['askTimeoutMs', 'stopTimeoutMs'] as const) {
    const v = o[key];
    if (v !== undefined && (!(v > 0) || !Number.isFinite(v))) {
      throw new TypeError(`ActorSystem.start: ${key} must be a positive finite number, got ${v}`);
    }
  }
  for (const [phase, v] of Object.entries(o.phaseTimeoutsMs ?? {})) {
    if (!shutdownPhases.includes(phase as ShutdownPhase)) {
      throw new TypeError(
        `ActorSystem.start: phaseTimeoutsMs has an unknown phase ${phase}; phases: ${shutdownPhases.join(', ')}`,
      );
    }
    if (!(v > 0) || !Number.isFinite(v)) {
      throw new TypeError(`ActorSystem.start: phaseTimeoutsMs.${phase} must be a positive finite number, got ${v}`);
    }
  }
  if (o.signals !== undefined && o.signals !== false && !Array.isArray(o.signals)) {
    throw new TypeError('ActorSystem.start: signals must be false or an array of signal names');
  }
}
