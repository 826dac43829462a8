import { fileURLToPath } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import type { EventEmitter } from 'eventemitter3';
import { nanoid } from 'nanoid';
import type { ActorDefinition } from './ActorDefinition.js';
import type { ActorRef, Message, TerminationReason } from './ActorRef.js';
import { type Clock, systemClock } from './Clock.js';
import { DeadLetters } from './DeadLetters.js';
import { describe, NotMainThreadError, ShuttingDownError, SystemAlreadyStartedError } from './errors.js';
import { ActorCell } from './internal/ActorCell.js';
import { AskRegistry } from './internal/Asks.js';
import { ContainedEmitter, callContained, containLogger } from './internal/Containment.js';
import { CoordinatedShutdown, type ShutdownRequest, walkTree } from './internal/CoordinatedShutdown.js';
import { type DefinitionLoader, Host } from './internal/Host.js';
import { HostPool } from './internal/HostPool.js';
import { Link, type LinkPolicy, nodeLinkPolicy } from './internal/Link.js';
import { RefProvider } from './internal/RefProvider.js';
import { type HostSite, spawnProxy } from './internal/RemoteProxy.js';
import type { SystemInternals } from './internal/SystemInternals.js';
import type { NodeAddress } from './internal/wire.js';
import { consoleLogger, type Logger } from './Logger.js';
import { resolveMailboxOptions } from './Mailbox.js';
import type { ActorMetrics } from './Metrics.js';
import {
  EXIT_FAILURE,
  EXIT_OK,
  formatShutdownReport,
  type ShutdownPhase,
  type ShutdownReport,
  shutdownPhases,
} from './ShutdownReport.js';
import { type SpawnOptions, validateSpawnOptions, type WorkerSpawnOptions } from './SpawnOptions.js';
import { defaultStrategy, SupervisionStrategy } from './SupervisionStrategy.js';
import type { SystemEventMap } from './SystemEvents.js';
import { SystemLifecycle } from './SystemLifecycle.js';
import type { Transport } from './Transport.js';
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
  /** The event bus. A listener that throws is contained (and reported once): it never changes what the runtime does. */
  readonly events: EventEmitter<SystemEventMap> = new ContainedEmitter<SystemEventMap>();
  readonly deadLetters: DeadLetters;
  readonly clock: Clock;
  /** The logger given at start, contained: a method that throws is reported once and otherwise ignored. */
  readonly logger: Logger;

  private readonly internals: SystemInternals;
  private readonly provider: RefProvider;
  private readonly lifecycle = new SystemLifecycle();
  private readonly userGuardian: ActorCell;
  private readonly systemGuardian: ActorCell;
  private readonly coordinated: CoordinatedShutdown;
  private readonly signalHandlers = new Map<NodeJS.Signals, () => void>();
  private keepAliveHandle: NodeJS.Timeout | undefined;
  private pool: HostPool | undefined;
  /** Hosts serving proxies on other nodes (remote deployment), one per peer link that accepts it. */
  private readonly peerHosts = new Set<Host>();
  private remotingValue: Remoting | undefined;
  private shutdownPromise: Promise<ShutdownReport> | undefined;
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
    this.logger = containLogger(options.logger ?? consoleLogger('info'));
    (this.events as ContainedEmitter<SystemEventMap>).report = (line) => this.logger.error(line);
    this.deadLetters = new DeadLetters(this.events, this.logger, () => this.clock.now());
    this.whenShutdown = new Promise((r) => {
      this.resolveShutdown = r;
    });
    const self = this;
    this.provider = new RefProvider({ cluster: 'local', node: options.name, incarnation: nanoid(8) });
    this.internals = {
      facade: this,
      clock: this.clock,
      logger: this.logger,
      random: options.random ?? Math.random,
      events: this.events,
      deadLetters: this.deadLetters,
      asks: new AskRegistry(this.clock),
      provider: this.provider,
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
        return self.spawnWorkerUnder(parent, spec, options).cell;
      },
      stopTimedOut(cell, what) {
        const line = `${cell.path} did not finish ${what} within ${self.internals.stopTimeoutMs} ms (stopTimeoutMs); abandoning it`;
        self.logger.warn(line);
        self.coordinated.abandon(cell.path, line);
      },
    };
    this.provider.bind(this.internals);
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
    this.provider.addRoot(this.userGuardian);
    this.provider.addRoot(this.systemGuardian);
    this.coordinated = new CoordinatedShutdown({
      name: this.name,
      clock: this.clock,
      logger: this.logger,
      deadLetters: this.deadLetters,
      internals: this.internals,
      lifecycle: this.lifecycle,
      user: this.userGuardian,
      system: this.systemGuardian,
      phaseTimeouts: { ...defaultPhaseTimeouts, ...options.phaseTimeoutsMs },
      hosted: () => [...this.peerHosts].flatMap((h) => h.hosted),
      terminateThreads: async () => {
        await this.pool?.terminateAll();
      },
    });
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
    return this.lifecycle.subscribe((state) =>
      callContained(listener, [state], 'an onLifecycle listener', (line) => this.logger.error(line)),
    );
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
    return this.spawnWorkerUnder(this.userGuardian, spec, options as WorkerSpawnOptions<unknown>)
      .ref as unknown as ActorRef<M>;
  }

  private spawnWorkerUnder(
    parent: ActorCell,
    spec: WorkerActorSpec,
    options: WorkerSpawnOptions<unknown> | undefined,
  ): ReturnType<typeof spawnProxy> {
    validateSpawnOptions(options, `spawnWorker under [${parent.path}]`, true);
    const site = this.workerPool().site(options?.host, `spawnWorker under [${parent.path}]`);
    const { host: _host, ...spawnOptions } = options ?? {};
    return spawnProxy(parent, site, spec, spawnOptions, 'spawnWorker');
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
   * The ref at `path` (e.g. `/user/psi/left`), also below a worker actor (its
   * children live in its thread: the ref reaches them through it). For a path
   * with no actor, a ref whose tells become dead letters (`unknown-actor`)
   * and whose asks reject with `ActorNotFoundError`.
   */
  // biome-ignore lint/suspicious/noExplicitAny: any protocol
  select<M extends Message = any>(path: string): ActorRef<M> {
    return this.provider.select(path) as unknown as ActorRef<M>;
  }

  /** Stop an actor (and its children), wherever it lives; resolves when it has terminated. */
  // biome-ignore lint/suspicious/noExplicitAny: any protocol
  stop(ref: ActorRef<any>): Promise<void> {
    return this.provider.stop(ref);
  }

  /** Resolves with the termination reason when `ref` has terminated, wherever it lived. */
  // biome-ignore lint/suspicious/noExplicitAny: any protocol
  whenTerminated(ref: ActorRef<any>): Promise<TerminationReason> {
    return this.provider.whenTerminated(ref);
  }

  /** Metrics of one actor of this process's tree. */
  // biome-ignore lint/suspicious/noExplicitAny: any protocol
  metrics(ref: ActorRef<any>): ActorMetrics | undefined {
    return this.provider.local(ref)?.metrics();
  }

  /** Queued plus in-flight messages of `ref` (0 once it has stopped): cheap enough for a router's every message. */
  // biome-ignore lint/suspicious/noExplicitAny: any protocol
  loadOf(ref: ActorRef<any>): number {
    return this.provider.load(ref);
  }

  /** Metrics of every live actor under `/user`, depth first. */
  allMetrics(): ActorMetrics[] {
    const out: ActorMetrics[] = [];
    walkTree(this.userGuardian, (c) => {
      if (c !== this.userGuardian) out.push(c.metrics());
    });
    return out;
  }

  /** Number of asks awaiting a reply. */
  get outstandingAsks(): number {
    return this.internals.asks.outstanding;
  }

  /**
   * The seam a transport package (`@troupe/remote`) plugs into: the node
   * address, links to peers, ref resolution for other nodes, and remote
   * deployment through the same proxy + host pair worker threads use.
   * @internal
   */
  get remoting(): Remoting {
    this.remotingValue ??= this.makeRemoting();
    return this.remotingValue;
  }

  private makeRemoting(): Remoting {
    const provider = this.provider;
    let linked = false;
    return {
      get address() {
        return provider.address;
      },
      setAddress: (address) => {
        if (linked) throw new TypeError('remoting.setAddress: set the node address before connecting any link');
        // Threads already running carry the old address in every ref they send out.
        if ((this.pool?.liveThreads ?? 0) > 0) {
          throw new TypeError(
            'remoting.setAddress: worker threads are already running with the previous node address; join the cluster before spawning worker actors',
          );
        }
        provider.address = Object.freeze({ ...address });
      },
      connect: (transport, options) => {
        linked = true;
        const policy = { ...nodeLinkPolicy, ...options.policy };
        // Messages from another system are new intake (refused once shutdown begins); a thread's are our own actors'.
        const sender = options.external === true ? undefined : this.systemGuardian;
        const link = new Link(transport, this.internals, policy, sender);
        provider.attachNode(options.address, link);
        if (options.host !== false) {
          const load = typeof options.host === 'object' ? options.host.load : undefined;
          const host = new Host(link, this.internals, load);
          this.peerHosts.add(host);
          link.onClose(() => this.peerHosts.delete(host));
        }
        return link;
      },
      resolveNodesWith: (resolver) => {
        provider.nodeResolver = resolver;
      },
      resolve: (wire) => provider.fromWire(wire),
      toWire: (ref) => provider.toWire(ref),
      spawnAt: (site, spec, options, parent) => {
        const parentCell = parent === undefined ? this.userGuardian : provider.local(parent);
        if (parentCell === undefined) throw new TypeError('remoting.spawnAt: the parent must be a local actor');
        return spawnProxy(parentCell, site, spec, options, 'spawnAt').ref;
      },
    };
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
    return this.coordinated.addHook(phase, name, fn);
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

  private beginShutdown(request: ShutdownRequest): Promise<ShutdownReport> {
    if (this.shutdownPromise !== undefined) return this.shutdownPromise;
    this.shutdownPromise = this.runShutdown(request);
    return this.shutdownPromise;
  }

  private async runShutdown(request: ShutdownRequest): Promise<ShutdownReport> {
    const report = await this.coordinated.run(request);
    this.removeSignalHandlers();
    clearInterval(this.keepAliveHandle);
    void this.userGuardian.stop({ kind: 'shutdown' });
    void this.systemGuardian.stop({ kind: 'shutdown' });
    this.lifecycle.send('DONE');
    registry[GLOBAL] = undefined;
    this.logger.info(formatShutdownReport(report));
    if (this.ownsProcess && report.exitCode !== EXIT_OK) process.exitCode = report.exitCode;
    this.resolveShutdown(report);
    return report;
  }

  private get ownsProcess(): boolean {
    return this.options.signals !== false;
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

/**
 * Options of {@link Remoting.connect}.
 * @internal
 */
export interface ConnectOptions {
  /** The peer's node address: refs naming it route over this link. */
  address: NodeAddress;
  /**
   * Whether the peer may deploy actors here (default true). An object names
   * how its spawn frames find their definitions (`load`; default: import the
   * module the frame names), e.g. only definitions registered by name.
   */
  host?: boolean | { load: DefinitionLoader };
  /**
   * The peer is another actor system (a node), not a thread of this one: its
   * messages are new intake, so once shutdown begins tells from it become
   * `shutting-down` dead letters and its asks reject with `ShuttingDownError`
   * (replies, watches and `Terminated` still flow). Default false.
   */
  external?: boolean;
  policy?: Partial<LinkPolicy>;
}

/**
 * What `@troupe/remote` (or any transport package) plugs into: the extension
 * point on the system side of {@link Transport}.
 * @internal
 */
export interface Remoting {
  /** This node's address; refs sent over links carry it. */
  readonly address: NodeAddress;
  /** Set the node address (cluster, node name, a fresh incarnation) before any link connects. */
  setAddress(address: NodeAddress): void;
  /**
   * Run a link to the peer at `address` over `transport`: refs with that
   * address resolve to remote refs over it, inbound tells and asks are
   * delivered here by uid or path, watches travel as frames, and (unless
   * `host: false`) the peer may deploy actors here through a host.
   */
  connect(transport: Transport, options: ConnectOptions): Link;
  /** Called for a ref to a node with no link yet: return a link (connect on demand) or undefined (no route). */
  resolveNodesWith(resolver: (address: NodeAddress) => Link | undefined): void;
  /** The ref a wire marker names (e.g. one read from a registry). */
  resolve(wire: import('./internal/wire.js').WireRef): ActorRef<Message>;
  /** The wire marker of a ref (e.g. to publish it in a registry). */
  // biome-ignore lint/suspicious/noExplicitAny: any protocol
  toWire(ref: ActorRef<any>): import('./internal/wire.js').WireRef;
  /**
   * Remote deployment: spawn the actor `spec` names at `site` (e.g. another
   * node), supervised here by a proxy under `parent` (default `/user`).
   */
  spawnAt(
    site: HostSite,
    spec: WorkerActorSpec,
    options: SpawnOptions<unknown> | undefined,
    // biome-ignore lint/suspicious/noExplicitAny: any protocol
    parent?: ActorRef<any>,
  ): ActorRef<Message>;
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
  if (o.supervision !== undefined && !(o.supervision instanceof SupervisionStrategy)) {
    throw new TypeError(
      `ActorSystem.start: supervision must be a SupervisionStrategy (restart(), resume(), stop(), escalate() or decide(fn)), got ${describe(o.supervision)}`,
    );
  }
  if (o.signals !== undefined && o.signals !== false && !Array.isArray(o.signals)) {
    throw new TypeError('ActorSystem.start: signals must be false or an array of signal names');
  }
}
