import { nanoid } from 'nanoid';
import type { Receive, Replier } from '../ActorContext.js';
import type { ActorDefinition } from '../ActorDefinition.js';
import type { ActorRef, AskOptions, Terminated, TerminationReason } from '../ActorRef.js';
import { type DeadLetterReason, typeOf } from '../DeadLetters.js';
import {
  ActorNameTakenError,
  ActorStoppedError,
  DeathPactError,
  describe,
  MailboxFullError,
  ShuttingDownError,
  StashOverflowError,
} from '../errors.js';
import { Mailbox, type ResolvedMailboxOptions, resolveMailboxOptions } from '../Mailbox.js';
import type { ActorMetrics } from '../Metrics.js';
import { type SpawnOptions, validateSpawnOptions } from '../SpawnOptions.js';
import type { SupervisionStrategy } from '../SupervisionStrategy.js';
import { CellContext } from './CellContext.js';
import { CellTimers } from './CellTimers.js';
import { LocalActorRef } from './LocalActorRef.js';
import { childFailed } from './Supervisor.js';
import type { HostedHooks, RemoteAdapter, ReplyTarget, SystemInternals } from './SystemInternals.js';

/**
 * Lifecycle of one actor (xstate's ProcessingStatus, extended):
 * Starting → Running ⇄ Suspended (failed and awaiting its parent's decision,
 * or held while an ancestor is) → Restarting → Running ... → Stopping → Stopped.
 */
export const Status = {
  Starting: 0,
  Running: 1,
  Suspended: 2,
  Restarting: 3,
  Stopping: 4,
  Stopped: 5,
} as const;
export type Status = (typeof Status)[keyof typeof Status];

interface Waiter {
  env: ReplyTarget | undefined;
  resolve: (() => void) | undefined;
  reject: ((e: unknown) => void) | undefined;
}

// `RESOLVED.then(fn)` schedules on the same microtask queue as queueMicrotask,
// at about half its cost in Node 20 (measured in the core benchmark).
const RESOLVED: Promise<void> = Promise.resolve();
/** The default of `ActorDefinition.stashCapacity`. */
const STASH_CAPACITY = 10_000;
const NO_CHILDREN: ReadonlyMap<string, ActorCell> = new Map();
let anonymous = 0;

/**
 * The runtime side of one actor: mailbox, state, behaviour, children,
 * supervision bookkeeping and metrics. Users only ever see its `ref`.
 * @internal
 */
export class ActorCell {
  private idValue: string | undefined = undefined;
  /** nanoid, made on first use: most actors are never asked for it. */
  get id(): string {
    return (this.idValue ??= nanoid());
  }
  readonly name: string;
  readonly path: string;
  readonly ref: LocalActorRef;
  status: Status = Status.Starting;

  private readonly mailbox = new Mailbox();
  private readonly mb: ResolvedMailboxOptions;
  private waiters: Mailbox | undefined;
  // biome-ignore lint/suspicious/noExplicitAny: state is opaque to the runtime
  private state: any = undefined;
  // biome-ignore lint/suspicious/noExplicitAny: behaviour of any protocol
  private behavior: Receive<any, any, any>;
  private initialized = false;
  /** An async `init` still running; a stop waits for it, so `afterStop` can release what it acquired. */
  private initPending: Promise<void> | undefined = undefined;
  private scheduled = false;
  private processing = false;
  private idleWaiters: (() => void)[] | undefined;
  private currentMessage: unknown = undefined;
  private currentEnv: ReplyTarget | undefined = undefined;
  private replyTaken = false;
  private context: CellContext | undefined;

  private kids: Map<string, ActorCell> | undefined = undefined;
  /** Children by name, in start order; a shared empty map until the first spawn (read it, never write it). */
  get children(): ReadonlyMap<string, ActorCell> {
    return this.kids ?? NO_CHILDREN;
  }
  /** Set on proxies: the cell stands for an actor on the far side of a link. */
  remote: RemoteAdapter | undefined;
  /** Set on cells hosted for a supervisor on the far side of a link. */
  hosted: HostedHooks | undefined;
  /** Local cells watching this one. */
  private watchers: Set<ActorCell> | undefined;
  /**
   * What this cell watches: a watched local cell maps to undefined (its
   * `watchers` holds this cell), a remote ref's key to the function that
   * cancels that watch.
   */
  private watching: Map<unknown, (() => void) | undefined> | undefined;
  private timerSet: CellTimers | undefined;
  private stashBuf: unknown[] | undefined;
  /**
   * System messages (Terminated signals, as `[signal, watch key]` pairs): a
   * queue of their own, handled before the next user message, never behind a
   * flooded or bounded mailbox and never counted against its capacity.
   */
  private sysq: unknown[] | undefined;
  /** When recent restarts happened (the parent's restart-limit bookkeeping). @internal */
  restartTimes: number[] | undefined;
  private restartTimer: unknown;
  /** Ends a backoff wait early (the actor is being stopped meanwhile). */
  private endBackoff: (() => void) | undefined;
  /** Suspended because an ancestor is (Akka suspends the whole subtree), not for a failure of its own. */
  private held = false;
  /** Failed, and its parent has not decided yet. */
  private awaitingDecision = false;
  /** A failure that happened while held (an async handler settled): reported when released. */
  private heldFailure: { error: unknown } | undefined;
  /** Children that failed while this cell was suspended: decided once it runs again. */
  private deferredFailures: [ActorCell, unknown][] | undefined;
  private stopPromise: Promise<void> | undefined;
  terminationReason: TerminationReason | undefined;
  private terminationListeners: Set<(r: TerminationReason) => void> | undefined;

  // metrics
  processed = 0;
  failures = 0;
  restarts = 0;
  private sampleCounter = 0;
  private samples: Float64Array | undefined;
  private sampleCount = 0;
  // Bound lazily (an idle actor never needs them), and with bind: tsx's keepNames wraps arrows in `__name()`.
  private runFn: (() => void) | undefined = undefined;
  private get runBound(): () => void {
    return (this.runFn ??= this.run.bind(this));
  }
  private resumeFn: (() => void) | undefined = undefined;
  private get resumeBound(): () => void {
    return (this.resumeFn ??= this.resumeTurn.bind(this));
  }
  /** Messages handled since the actor last yielded to the event loop (sync and async alike). */
  private turn = 0;

  /** Work the actor declared in flight outside its mailbox (`ctx.inFlight`); shutdown's drain waits for it. */
  private outstandingWork = 0;

  constructor(
    readonly system: SystemInternals,
    // biome-ignore lint/suspicious/noExplicitAny: definition of any protocol
    readonly def: ActorDefinition<any, any, any>,
    readonly parent: ActorCell | undefined,
    readonly input: unknown,
    /** How the parent supervises this cell. */
    readonly strategy: SupervisionStrategy,
    name: string | undefined,
    mailbox: ResolvedMailboxOptions,
    makeRef?: (cell: ActorCell) => LocalActorRef,
    /** The path, when it is not the parent's plus the name (a hosted actor keeps its proxy's path). */
    path?: string,
  ) {
    this.name = name ?? `$${(anonymous++).toString(36)}`;
    this.path = path ?? (parent === undefined ? `/${this.name}` : `${parent.path}/${this.name}`);
    this.mb = mailbox;
    this.behavior = def.receive;
    this.ref = makeRef === undefined ? new LocalActorRef(this) : makeRef(this);
  }

  // ---------------------------------------------------------------- spawning

  spawnChild(
    // biome-ignore lint/suspicious/noExplicitAny: definition of any protocol
    def: ActorDefinition<any, any, any>,
    options: SpawnOptions<unknown> | undefined,
    makeRef?: (cell: ActorCell) => LocalActorRef,
  ): ActorCell {
    if (this.status >= Status.Stopping) {
      throw new ActorStoppedError(this.path, 'spawn');
    }
    if (
      def === null ||
      typeof def !== 'object' ||
      typeof def.receive !== 'function' ||
      typeof def.init !== 'function'
    ) {
      throw new TypeError(
        `spawn under [${this.path}]: expected an actor definition (defineActor(...)), got ${describe(def)}`,
      );
    }
    if (options !== undefined) validateSpawnOptions(options, `spawn under [${this.path}]`, false);
    const name = options?.name;
    if (name !== undefined) {
      if (typeof name !== 'string' || name.length === 0 || name.includes('/') || name.startsWith('$')) {
        throw new TypeError(
          `spawn under [${this.path}]: name must be a non-empty string without '/' and not starting with '$', got ${describe(name)}`,
        );
      }
      if (this.children.has(name)) throw new ActorNameTakenError(`${this.path}/${name}`);
    }
    const mailboxOptions = options?.mailbox ?? def.mailbox;
    // The `where` string is built only when there are options to validate (it names the culprit in errors).
    const mailbox = resolveMailboxOptions(
      mailboxOptions,
      mailboxOptions === undefined ? '' : `spawn ${name ?? def.name ?? 'actor'} under [${this.path}]`,
    );
    const strategy = options?.supervision ?? this.def.childSupervision ?? this.system.defaultStrategy;
    const child = new ActorCell(this.system, def, this, options?.input, strategy, name, mailbox, makeRef);
    (this.kids ??= new Map()).set(child.name, child);
    const events = this.system.events;
    if (events.listenerCount('spawned') > 0) events.emit('spawned', { path: child.path, id: child.id });
    void RESOLVED.then(() => child.start());
    return child;
  }

  /** Run `init` (and `afterStart`); used at start and at each restart. */
  start(): void {
    if (this.status !== Status.Starting && this.status !== Status.Restarting) return;
    let result: unknown;
    try {
      result = this.withCurrent(() => this.def.init(this.ctx));
    } catch (error) {
      this.fail(error, undefined);
      return;
    }
    if (isThenable(result)) {
      this.initPending = Promise.resolve(result).then(
        (s) => {
          this.initPending = undefined;
          this.initialised(s);
        },
        (e) => {
          this.initPending = undefined;
          if (this.status === Status.Starting || this.status === Status.Restarting) this.fail(e, undefined);
        },
      );
    } else {
      this.initialised(result);
    }
  }

  private initialised(state: unknown): void {
    if (this.status === Status.Stopping && !this.initialized) {
      // Stopped while an async init ran: keep its state (but do not start) so
      // that finishStop's afterStop can release what init acquired.
      this.state = state;
      this.initialized = true;
      return;
    }
    if (this.status !== Status.Starting && this.status !== Status.Restarting) return;
    this.state = state;
    this.initialized = true;
    const hook = this.def.afterStart;
    if (hook !== undefined) {
      let r: unknown;
      try {
        r = this.withCurrent(() => hook(this.state, this.ctx));
      } catch (e) {
        this.fail(e, undefined);
        return;
      }
      if (isThenable(r)) {
        r.then(
          () => this.running(),
          (e) => this.fail(e, undefined),
        );
        return;
      }
    }
    this.running();
  }

  private running(): void {
    if (this.status !== Status.Starting && this.status !== Status.Restarting) return;
    // A cell that (re)starts while an ancestor is suspended starts held.
    this.status = this.held ? Status.Suspended : Status.Running;
    const events = this.system.events;
    if (events.listenerCount('started') > 0) events.emit('started', { path: this.path, id: this.id });
    this.hosted?.running();
    this.schedule();
  }

  // ---------------------------------------------------------------- sending

  /** Enqueue a message. Throws only for the `reject`/`backpressure` overflow of a plain tell. */
  enqueue(message: unknown, env: ReplyTarget | undefined): void {
    const sys = this.system;
    if (this.status >= Status.Stopping) {
      this.undeliverable(message, env, 'actor-stopped');
      return;
    }
    if (!sys.intakeOpen && sys.currentCell === undefined) {
      this.undeliverable(message, env, 'shutting-down');
      return;
    }
    if (this.mailbox.size >= this.mb.capacity) {
      this.overflow(message, env);
      return;
    }
    this.mailbox.push(message, env);
    if (!this.scheduled && this.status === Status.Running && !this.processing) {
      this.scheduled = true;
      void RESOLVED.then(this.runBound);
    }
  }

  /** `ref.send`: like tell, but waits for room in a backpressure mailbox and reports refusals as a rejection. */
  send(message: unknown): Promise<void> {
    if (
      this.mailbox.size >= this.mb.capacity &&
      this.mb.overflow === 'backpressure' &&
      this.status < Status.Stopping &&
      (this.system.intakeOpen || this.system.currentCell !== undefined)
    ) {
      return new Promise<void>((resolve, reject) => this.wait(message, { env: undefined, resolve, reject }));
    }
    // A send that is refused (stopped actor, shutdown, dropped by overflow) must
    // not resolve as if delivered: the dead letter is recorded and the sender
    // learns it too.
    const type = typeOf(message);
    if (this.status >= Status.Stopping) {
      this.undeliverable(message, undefined, 'actor-stopped');
      return Promise.reject(new ActorStoppedError(this.path, type));
    }
    if (!this.system.intakeOpen && this.system.currentCell === undefined) {
      this.undeliverable(message, undefined, 'shutting-down');
      return Promise.reject(new ShuttingDownError(this.path, type, 'send'));
    }
    if (this.mailbox.size >= this.mb.capacity && this.mb.overflow === 'drop-newest') {
      this.overflow(message, undefined);
      return Promise.reject(new MailboxFullError(this.path, this.mb.capacity, type));
    }
    try {
      this.enqueue(message, undefined);
      return RESOLVED;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Ask this actor. `via`, when given, hands the message and its reply address
   * on instead of the mailbox (a proxy with nothing queued sends straight over
   * its link), after the same checks.
   */
  ask<R>(
    message: unknown,
    options: AskOptions | undefined,
    via?: (message: unknown, record: ReplyTarget) => void,
  ): Promise<R> {
    const sys = this.system;
    const type = typeOf(message);
    const timeoutMs = options?.timeoutMs ?? sys.askTimeoutMs;
    if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) {
      return Promise.reject(
        new TypeError(`ask to [${this.path}]: timeoutMs must be a positive finite number, got ${timeoutMs}`),
      );
    }
    if (this.status >= Status.Stopping) {
      sys.deadLetters.record(this.path, message, 'actor-stopped');
      return Promise.reject(new ActorStoppedError(this.path, type));
    }
    if (!sys.intakeOpen && sys.currentCell === undefined) {
      sys.refusedDuringShutdown++;
      return Promise.reject(new ShuttingDownError(this.path, type));
    }
    const record = sys.asks.create(this.path, type, timeoutMs, options?.signal);
    if (record instanceof Promise) return record;
    if (via === undefined) this.enqueue(message, record);
    else via(message, record);
    return record.promise as Promise<R>;
  }

  private undeliverable(message: unknown, env: ReplyTarget | undefined, reason: DeadLetterReason): void {
    const sys = this.system;
    if (reason === 'shutting-down') sys.refusedDuringShutdown++;
    sys.deadLetters.record(this.path, message, reason);
    if (env !== undefined && !env.settled) {
      const type = typeOf(message);
      env.reject(
        reason === 'shutting-down'
          ? new ShuttingDownError(this.path, type)
          : reason === 'mailbox-full'
            ? new MailboxFullError(this.path, this.mb.capacity, type)
            : new ActorStoppedError(this.path, type),
      );
    }
  }

  private overflow(message: unknown, env: ReplyTarget | undefined): void {
    const { capacity, overflow } = this.mb;
    const events = this.system.events;
    if (events.listenerCount('mailboxOverflow') > 0) {
      events.emit('mailboxOverflow', { path: this.path, capacity, policy: overflow, messageType: typeOf(message) });
    }
    switch (overflow) {
      case 'drop-newest':
        this.undeliverable(message, env, 'mailbox-full');
        return;
      case 'drop-oldest': {
        // Terminated signals are not in the mailbox (they have a queue of their
        // own), so the oldest entry is always a sender's message.
        const mailbox = this.mailbox;
        const oldMessage = mailbox.peekMessage();
        const oldEnv = mailbox.peekEnvelope() as ReplyTarget | undefined;
        mailbox.shift();
        this.undeliverable(oldMessage, oldEnv, 'mailbox-full');
        mailbox.push(message, env);
        return;
      }
      case 'reject':
        if (env !== undefined) {
          env.reject(new MailboxFullError(this.path, capacity, typeOf(message)));
          return;
        }
        throw new MailboxFullError(this.path, capacity, typeOf(message));
      case 'backpressure':
        if (env !== undefined) {
          this.wait(message, { env, resolve: undefined, reject: undefined });
          return;
        }
        throw new MailboxFullError(this.path, capacity, typeOf(message));
    }
  }

  /** Park a sender until there is room; bounded by `capacity` waiters. */
  private wait(message: unknown, waiter: Waiter): void {
    const waiters = (this.waiters ??= new Mailbox());
    if (waiters.size >= this.mb.capacity) {
      const err = new MailboxFullError(this.path, this.mb.capacity, typeOf(message));
      if (waiter.env !== undefined) waiter.env.reject(err);
      waiter.reject?.(err);
      return;
    }
    waiters.push(message, waiter);
  }

  private admitWaiter(): void {
    const waiters = this.waiters as Mailbox;
    // Loop past asks that timed out (or were aborted) while waiting: stopping at
    // one would leave the freed slot to the next plain `send`, which would then
    // overtake a live waiter, possibly from the same sender (per-pair FIFO).
    while (waiters.size > 0 && this.mailbox.size < this.mb.capacity) {
      const message = waiters.peekMessage();
      const w = waiters.peekEnvelope() as Waiter;
      waiters.shift();
      if (w.env?.settled) continue;
      this.mailbox.push(message, w.env);
      w.resolve?.();
      return;
    }
  }

  /**
   * Deliver a signal (Terminated of the watch keyed `key`) to the system
   * queue: it bypasses capacity and the intake gate, and is handled before
   * the next user message.
   */
  private signal(message: Terminated, key: unknown): void {
    if (this.status >= Status.Stopping) return;
    (this.sysq ??= []).push(message, key);
    this.schedule();
  }

  /** Deliver a message from the actor's own timers; bypasses the intake gate. */
  selfDeliver(message: unknown): void {
    const sys = this.system;
    const prev = sys.currentCell;
    sys.currentCell = this;
    try {
      this.enqueue(message, undefined);
    } catch (e) {
      this.system.logger.warn(`timer message to ${this.path} refused: ${describe(e)}`);
    } finally {
      sys.currentCell = prev;
    }
  }

  // ---------------------------------------------------------------- processing

  private schedule(): void {
    if (
      !this.scheduled &&
      this.status === Status.Running &&
      !this.processing &&
      (this.mailbox.size > 0 || (this.sysq !== undefined && this.sysq.length > 0))
    ) {
      this.scheduled = true;
      void RESOLVED.then(this.runBound);
    }
  }

  /**
   * Handle up to `throughput` messages, then yield with setImmediate so timers,
   * I/O and other actors get their turn (fairness). Synchronous handlers run in
   * a tight loop; the first handler that returns a promise parks the loop until
   * it settles, so an actor still handles one message at a time.
   */
  /** A new event-loop turn: the throughput budget starts again. */
  private resumeTurn(): void {
    this.turn = 0;
    this.run();
  }

  private run(): void {
    this.scheduled = false;
    if (this.status !== Status.Running || this.processing) return;
    const sys = this.system;
    const prev = sys.currentCell;
    sys.currentCell = this;
    let ended: boolean;
    try {
      ended = this.handleTurn();
    } finally {
      sys.currentCell = prev;
      this.hosted?.progress();
    }
    if (!ended) return;
    if (this.mailbox.size === 0 && (this.sysq === undefined || this.sysq.length === 0)) {
      this.turn = 0;
    } else if (this.status === Status.Running && !this.scheduled) {
      // Out of budget for this turn: let timers, I/O and other actors run first.
      this.scheduled = true;
      setImmediate(this.resumeBound);
    }
  }

  /**
   * The loop of {@link run}: false when it stopped at a failure or a handler's
   * promise (which schedules what comes next itself). A function of its own,
   * without a `finally`: inside `run`'s try/finally, V8 11.3 deoptimized `run`
   * at the `finally` over and over ("insufficient type feedback for generic
   * named access": 2,647 times in one run of the core bench suite, none now).
   */
  private handleTurn(): boolean {
    const mailbox = this.mailbox;
    const ctx = this.ctx;
    const throughput = this.mb.throughput;
    while (this.turn < throughput && this.status === Status.Running) {
      let message: unknown;
      let env: ReplyTarget | undefined;
      // biome-ignore lint/suspicious/noExplicitAny: behaviour of any protocol
      let handler: Receive<any, any, any>;
      const sysq = this.sysq;
      if (sysq !== undefined && sysq.length > 0) {
        // System messages first: a death is learnt even behind a flood.
        this.turn++;
        message = sysq.shift();
        const h = this.signalHandler(message as Terminated, sysq.shift());
        if (h === undefined) continue;
        handler = h;
        env = undefined;
      } else if (mailbox.size > 0) {
        this.turn++;
        message = mailbox.peekMessage();
        env = mailbox.peekEnvelope() as ReplyTarget | undefined;
        mailbox.shift();
        if (this.waiters !== undefined) this.admitWaiter();
        handler = this.behavior;
      } else break;
      this.currentMessage = message;
      this.currentEnv = env;
      this.replyTaken = false;
      const sample = (++this.sampleCounter & 15) === 0;
      const t0 = sample ? performance.now() : 0;
      let result: unknown;
      try {
        result = handler(this.state, message, ctx);
      } catch (error) {
        this.fail(error, env);
        return false;
      }
      if (result !== undefined && isThenable(result)) {
        this.processing = true;
        result.then(
          (next) => this.asyncDone(next, t0, sample),
          (error) => this.asyncFailed(error, env),
        );
        return false;
      }
      if (result !== undefined) this.state = result;
      this.currentEnv = undefined;
      this.currentMessage = undefined;
      this.processed++;
      if (sample) this.addSample(performance.now() - t0);
    }
    return true;
  }

  private asyncDone(next: unknown, t0: number, sample: boolean): void {
    this.processing = false;
    this.currentEnv = undefined;
    this.currentMessage = undefined;
    if (this.status === Status.Running || this.status === Status.Stopping) {
      if (next !== undefined) this.state = next;
      this.processed++;
      if (sample) this.addSample(performance.now() - t0);
    }
    this.notifyIdle();
    this.schedule();
    this.hosted?.progress();
  }

  private asyncFailed(error: unknown, env: ReplyTarget | undefined): void {
    this.processing = false;
    this.notifyIdle();
    this.hosted?.progress();
    if (this.status === Status.Running) this.fail(error, env);
    else {
      if (env !== undefined && !env.settled) env.reject(error);
      // Held while the handler ran: the failure is the actor's, reported when it runs again.
      if (this.held && !this.awaitingDecision) this.heldFailure ??= { error };
    }
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    if (waiters !== undefined) {
      this.idleWaiters = undefined;
      for (const w of waiters) w();
    }
  }

  private whenIdle(): Promise<void> {
    if (!this.processing) return RESOLVED;
    return new Promise((resolve) => (this.idleWaiters ??= []).push(resolve));
  }

  // biome-ignore lint/suspicious/noExplicitAny: behaviour of any protocol
  private signalHandler(t: Terminated, key: unknown): Receive<any, any, any> | undefined {
    if (this.watching === undefined || !this.watching.delete(key)) return undefined; // unwatched meanwhile
    const onTerminated = this.def.onTerminated;
    if (onTerminated !== undefined) return (state, msg, ctx) => onTerminated(state, msg as Terminated, ctx);
    return () => {
      throw new DeathPactError(this.path, t.ref.path);
    };
  }

  private addSample(ms: number): void {
    const s = (this.samples ??= new Float64Array(512));
    s[this.sampleCount++ & 511] = ms;
  }

  // ---------------------------------------------------------------- failure and supervision

  /**
   * This actor failed (a handler, init or hook threw). The failed message is
   * not redelivered; an ask waiting on it rejects with the cause. The actor is
   * suspended, its mailbox kept, its children held (Akka suspends the
   * subtree), and the parent decides (see `Supervisor.ts`).
   */
  fail(error: unknown, env: ReplyTarget | undefined): void {
    if (env !== undefined && !env.settled) env.reject(error);
    this.currentEnv = undefined;
    this.currentMessage = undefined;
    if (this.status >= Status.Stopping || this.awaitingDecision) return;
    this.failures++;
    this.status = Status.Suspended;
    this.awaitingDecision = true;
    this.timerSet?.cancelAll();
    const parent = this.parent;
    if (parent === undefined && this.hosted === undefined) {
      // A guardian: the failure ends the system, whose shutdown still drains its children.
      this.system.rootFailed(this, error);
      return;
    }
    for (const c of this.children.values()) c.hold();
    if (parent === undefined) {
      this.hosted?.failed(error);
      return;
    }
    queueMicrotask(() => childFailed(parent, this, error));
  }

  /** True while the parent's decision on a failure of this actor is pending. @internal */
  get isAwaitingDecision(): boolean {
    return this.awaitingDecision;
  }

  /**
   * A child failed while this cell could not decide (it is suspended itself):
   * keep the failure until it runs again; a restart or stop of this cell
   * stops the child anyway.
   * @internal
   */
  deferFailure(child: ActorCell, error: unknown): void {
    (this.deferredFailures ??= []).push([child, error]);
  }

  /** An ancestor is suspended: stop handling messages (timers still fire and queue), and hold the subtree. @internal */
  hold(): void {
    if (this.held || this.status >= Status.Stopping) return;
    this.held = true;
    if (this.status === Status.Running) this.status = Status.Suspended;
    this.remote?.held(true);
    if (!this.awaitingDecision) for (const c of this.children.values()) c.hold();
  }

  /** The ancestor runs again: so does this cell, unless it awaits a decision of its own. @internal */
  release(): void {
    if (!this.held) return;
    this.held = false;
    if (this.status >= Status.Stopping) return;
    this.remote?.held(false);
    if (this.awaitingDecision) return; // its own parent decides; its children stay held by it
    if (this.status === Status.Suspended) this.status = Status.Running;
    for (const c of this.children.values()) c.release();
    const failure = this.heldFailure;
    this.heldFailure = undefined;
    if (failure !== undefined && this.status === Status.Running) {
      this.fail(failure.error, undefined);
      return;
    }
    this.replayDeferred();
    this.schedule();
  }

  private replayDeferred(): void {
    const deferred = this.deferredFailures;
    this.deferredFailures = undefined;
    if (deferred !== undefined) for (const [child, error] of deferred) childFailed(this, child, error);
  }

  /** @internal Resume after a failure (the parent's decision, or a proxy's across a link). */
  resume(): void {
    if (!this.awaitingDecision || this.status !== Status.Suspended) return;
    this.awaitingDecision = false;
    this.remote?.resumed();
    if (this.held) return; // an ancestor is still suspended: run again when it is released
    this.status = Status.Running;
    for (const c of this.children.values()) c.release();
    this.replayDeferred();
    this.schedule();
  }

  /**
   * Restart: wait for an in-flight message, stop children (reverse start
   * order), run `beforeRestart`, wait the backoff delay, then `init` afresh.
   * The mailbox (and any stash, put back in front) survives. A group restart
   * (one-for-all, rest-for-one) runs the phases for all its members: see
   * `Supervisor.ts`.
   * @internal
   */
  async restart(error: unknown, delayMs: number): Promise<void> {
    if (!(await this.prepareRestart(error))) return;
    await this.waitBackoff(delayMs);
    this.reinit(error, delayMs);
  }

  /**
   * The terminating half of a restart: in-flight message, children,
   * `beforeRestart`, stash back in front. False if the actor is stopping or
   * already restarting.
   * @internal
   */
  async prepareRestart(error: unknown): Promise<boolean> {
    if (this.status >= Status.Stopping || this.status === Status.Restarting) return false;
    this.status = Status.Restarting;
    this.awaitingDecision = false;
    this.heldFailure = undefined;
    this.deferredFailures = undefined;
    this.timerSet?.cancelAll();
    await this.whenIdle();
    // An in-flight async handler (a sibling's restart under one-for-all or
    // rest-for-one) may have started timers after the cancel above; they
    // belong to the old incarnation and must not fire into the new one.
    this.timerSet?.cancelAll();
    await this.stopChildren();
    const hook = this.def.beforeRestart;
    if (this.initialized && hook !== undefined) {
      try {
        await this.withCurrent(() => hook(this.state, error, this.ctx));
      } catch (e) {
        this.system.logger.error(`beforeRestart of ${this.path} threw: ${describe(e)}`);
      }
    }
    this.unstashAll();
    return true;
  }

  /**
   * Wait out a restart backoff. A child waiting to restart is not work in
   * flight: when shutdown begins, or if the actor is stopped meanwhile, the
   * wait ends at once and the actor is stopped (as OTP's supervisor does).
   * @internal
   */
  async waitBackoff(delayMs: number): Promise<void> {
    if (delayMs <= 0 || this.status !== Status.Restarting) return;
    if (!this.system.intakeOpen) {
      void this.stop({ kind: 'stopped' });
      return;
    }
    await new Promise<void>((resolve) => {
      this.endBackoff = resolve;
      this.restartTimer = this.system.clock.setTimeout(() => {
        this.restartTimer = undefined;
        this.endBackoff = undefined;
        resolve();
      }, delayMs);
    });
  }

  /** True while waiting out a restart backoff. @internal */
  get inBackoff(): boolean {
    return this.restartTimer !== undefined;
  }

  /** The starting half of a restart: a fresh incarnation from `init`. @internal */
  reinit(error: unknown, delayMs: number): void {
    if (this.status !== Status.Restarting) return;
    this.restarts++;
    this.initialized = false;
    this.state = undefined;
    this.behavior = this.def.receive;
    const events = this.system.events;
    if (events.listenerCount('restarted') > 0) {
      events.emit('restarted', { path: this.path, id: this.id, error, restarts: this.restarts, delayMs });
    }
    this.start();
  }

  // ---------------------------------------------------------------- stopping

  /**
   * Stop: finish the in-flight message, stop children in reverse start order,
   * run `afterStop`, turn what is left in the mailbox into dead letters (asks
   * reject with `ActorStoppedError`), then tell watchers. Each wait is bounded
   * by the system's `stopTimeoutMs`; an actor that hangs is abandoned and
   * reported, never waited on forever.
   */
  stop(reason: TerminationReason = { kind: 'stopped' }): Promise<void> {
    if (this.stopPromise !== undefined) return this.stopPromise;
    this.status = Status.Stopping;
    this.terminationReason = reason;
    if (this.restartTimer !== undefined) {
      this.system.clock.clearTimeout(this.restartTimer);
      this.restartTimer = undefined;
    }
    // A restart waiting out its backoff goes on (and finds the actor stopping).
    const endBackoff = this.endBackoff;
    this.endBackoff = undefined;
    endBackoff?.();
    this.remote?.interrupt();
    this.timerSet?.cancelAll();
    this.stopPromise = this.finishStop(reason);
    return this.stopPromise;
  }

  private async finishStop(reason: TerminationReason): Promise<void> {
    const sys = this.system;
    if (this.processing) await this.bounded(this.whenIdle(), 'its in-flight message');
    if (this.initPending !== undefined) await this.bounded(this.initPending, 'its async init');
    await this.stopChildren();
    const hook = this.def.afterStop;
    if (this.remote !== undefined) {
      await this.bounded(this.remote.stop(), 'its stop in its worker thread');
    } else if (this.initialized && hook !== undefined) {
      try {
        await this.bounded(
          Promise.resolve().then(() => this.withCurrent(() => hook(this.state, this.ctx))),
          'its afterStop hook',
        );
      } catch (e) {
        sys.logger.error(`afterStop of ${this.path} threw: ${describe(e)}`);
      }
    }
    this.timerSet?.cancelAll();
    this.status = Status.Stopped;
    const rest = this.mailbox.drain();
    for (let i = 0; i < rest.length; i += 2) this.undeliverable(rest[i], rest[i + 1] as ReplyTarget, 'actor-stopped');
    const stashed = this.stashBuf ?? [];
    this.stashBuf = undefined;
    for (let i = 0; i < stashed.length; i += 2) {
      this.undeliverable(stashed[i], stashed[i + 1] as ReplyTarget, 'actor-stopped');
    }
    if (this.waiters !== undefined) {
      const parked = this.waiters.drain();
      for (let i = 0; i < parked.length; i += 2) {
        const w = parked[i + 1] as Waiter;
        const err = new ActorStoppedError(this.path, typeOf(parked[i]));
        sys.deadLetters.record(this.path, parked[i], 'actor-stopped');
        if (w.env !== undefined) w.env.reject(err);
        w.reject?.(err);
      }
    }
    if (this.parent !== undefined && this.parent.children.get(this.name) === this) {
      this.parent.kids?.delete(this.name);
    }
    if (this.watching !== undefined) {
      for (const [key, cancel] of this.watching) {
        if (cancel === undefined) (key as ActorCell).watchers?.delete(this);
        else cancel();
      }
      this.watching = undefined;
    }
    if (this.watchers !== undefined) {
      const t: Terminated = { type: 'terminated', ref: this.ref, reason };
      for (const w of this.watchers) w.signal(t, this);
      this.watchers = undefined;
    }
    this.context = undefined;
    this.state = undefined;
    sys.retiredProcessed += this.processed;
    if (sys.events.listenerCount('stopped') > 0) sys.events.emit('stopped', { path: this.path, id: this.id, reason });
    const listeners = this.terminationListeners;
    this.terminationListeners = undefined;
    if (listeners !== undefined) for (const l of listeners) l(reason);
  }

  /** Stop all children, newest first; resolves when all have terminated. */
  async stopChildren(): Promise<void> {
    const kids = [...this.children.values()].reverse();
    for (const child of kids) await child.stop({ kind: 'stopped' });
  }

  /**
   * Wait for `p`, but no longer than `stopTimeoutMs`; on timeout, report and
   * go on. An infinite budget (a host runtime's: its actors' supervisors
   * across the link bound their stops) sets no timer.
   */
  private bounded(p: Promise<unknown>, what: string): Promise<void> {
    const sys = this.system;
    if (!Number.isFinite(sys.stopTimeoutMs)) return p.then(() => undefined);
    return new Promise<void>((resolve, reject) => {
      const timer = sys.clock.setTimeout(() => {
        sys.stopTimedOut(this, what);
        resolve();
      }, sys.stopTimeoutMs);
      p.then(
        () => {
          sys.clock.clearTimeout(timer);
          resolve();
        },
        (e) => {
          sys.clock.clearTimeout(timer);
          reject(e);
        },
      );
    });
  }

  /**
   * Call `listener` once when this actor ends (at once if it has ended).
   * Returns a function that removes it.
   */
  onTerminated(listener: (r: TerminationReason) => void): () => void {
    if (this.status === Status.Stopped && this.terminationReason !== undefined) {
      listener(this.terminationReason);
      return () => {};
    }
    const listeners = (this.terminationListeners ??= new Set());
    listeners.add(listener);
    return () => listeners.delete(listener);
  }

  // ---------------------------------------------------------------- context services

  get ctx(): CellContext {
    return (this.context ??= new CellContext(this));
  }

  get timers(): CellTimers {
    return (this.timerSet ??= new CellTimers(this));
  }

  /** Run `fn` as this actor: its sends count as the actor's own (they pass shutdown's intake gate). */
  withCurrent<T>(fn: () => T): T {
    const sys = this.system;
    const prev = sys.currentCell;
    sys.currentCell = this;
    try {
      return fn();
    } finally {
      sys.currentCell = prev;
    }
  }

  /** Be told (a Terminated signal) when the actor behind `ref` ends, wherever it lives. */
  // biome-ignore lint/suspicious/noExplicitAny: any actor
  watch(ref: ActorRef<any>): void {
    const provider = this.system.provider;
    const target = provider.local(ref);
    if (target === this) return;
    const watching = (this.watching ??= new Map());
    if (target !== undefined) {
      if (watching.has(target)) return;
      watching.set(target, undefined);
      if (target.status === Status.Stopped) {
        this.signal(
          { type: 'terminated', ref: target.ref, reason: target.terminationReason ?? { kind: 'stopped' } },
          target,
        );
        return;
      }
      (target.watchers ??= new Set()).add(this);
      return;
    }
    const key = provider.watchKey(ref, `ctx.watch in [${this.path}]`);
    if (watching.has(key)) return;
    // Set before watching: a dead ref answers at once, and the signal must find its key.
    watching.set(key, () => {});
    const cancel = provider.onEnd(ref, (reason) => this.signal({ type: 'terminated', ref, reason }, key));
    if (watching.has(key)) watching.set(key, cancel);
  }

  // biome-ignore lint/suspicious/noExplicitAny: any actor
  unwatch(ref: ActorRef<any>): void {
    const watching = this.watching;
    if (watching === undefined) return;
    const provider = this.system.provider;
    const target = provider.local(ref);
    if (target !== undefined) {
      watching.delete(target);
      target.watchers?.delete(this);
      return;
    }
    const key = provider.watchKey(ref, `ctx.unwatch in [${this.path}]`);
    const cancel = watching.get(key);
    watching.delete(key);
    cancel?.();
  }

  reply(value: unknown, isError: boolean): void {
    const env = this.currentEnv;
    if (env === undefined || this.replyTaken) {
      this.system.deadLetters.record(this.path, value, 'no-reply-address');
      return;
    }
    const ok = isError ? env.reject(value) : env.resolve(value);
    if (!ok) this.system.deadLetters.record(this.path, value, 'late-reply');
  }

  /** Send `message` on to `ref`, which will answer the original asker (the current message's reply address). */
  // biome-ignore lint/suspicious/noExplicitAny: any actor
  forward(ref: ActorRef<any>, message: unknown): void {
    const env = this.takeReplyTarget();
    this.system.provider.deliver(ref, message, env);
  }

  /** Queued plus in-flight messages (for a proxy, also those its actor has not taken): what a least-loaded router compares. */
  get load(): number {
    const remote = this.remote;
    return (
      this.mailbox.size +
      (this.processing ? 1 : 0) +
      (this.waiters?.size ?? 0) +
      (remote === undefined ? 0 : remote.outstanding)
    );
  }

  /** Whether the current message came with a reply address (an ask) not yet taken. */
  get expectsReply(): boolean {
    const env = this.currentEnv;
    return env !== undefined && !this.replyTaken && !env.settled;
  }

  /** Take the reply address of the current message (for proxies that answer later). */
  takeReplyTarget(): ReplyTarget | undefined {
    const env = this.currentEnv;
    this.replyTaken = true;
    return env;
  }

  deferReply(): Replier {
    const env = this.takeReplyTarget();
    const dead = this.system.deadLetters;
    const path = this.path;
    return {
      reply(value) {
        if (env === undefined) dead.record(path, value, 'no-reply-address');
        else if (!env.resolve(value)) dead.record(path, value, 'late-reply');
      },
      fail(error) {
        if (env === undefined) dead.record(path, error, 'no-reply-address');
        else if (!env.reject(error)) dead.record(path, error, 'late-reply');
      },
    };
  }

  stash(): void {
    const buf = (this.stashBuf ??= []);
    const capacity = this.def.stashCapacity ?? STASH_CAPACITY;
    if (buf.length / 2 >= capacity) throw new StashOverflowError(this.path, capacity);
    buf.push(this.currentMessage, this.currentEnv);
    this.replyTaken = true; // the reply now belongs to the stashed copy
  }

  unstashAll(): void {
    const buf = this.stashBuf;
    if (buf === undefined || buf.length === 0) return;
    this.stashBuf = undefined;
    for (let i = buf.length - 2; i >= 0; i -= 2) this.mailbox.unshift(buf[i], buf[i + 1]);
    this.schedule();
  }

  // biome-ignore lint/suspicious/noExplicitAny: behaviour of any protocol
  become(receive: Receive<any, any, any>): void {
    if (typeof receive !== 'function') {
      throw new TypeError(`become in [${this.path}]: expected a receive function, got ${typeof receive}`);
    }
    this.behavior = receive;
  }

  metrics(): ActorMetrics {
    const n = Math.min(this.sampleCount, 512);
    const s = this.samples ? Array.from(this.samples.subarray(0, n)).sort((a, b) => a - b) : [];
    const mean = n === 0 ? 0 : s.reduce((a, b) => a + b, 0) / n;
    const q = (p: number) => (n === 0 ? 0 : (s[Math.min(n - 1, Math.floor(n * p))] as number));
    return {
      path: this.path,
      id: this.id,
      processed: this.processed,
      failed: this.failures,
      restarts: this.restarts,
      mailboxDepth: this.mailbox.size,
      mailboxHighWater: this.mailbox.highWater,
      handlingMs: { mean, p50: q(0.5), p99: q(0.99), samples: this.sampleCount },
    };
  }

  /**
   * Handling-time samples taken so far: it changes only when a new sample is
   * taken, so a tool that polls (introspection) can keep what it derived from
   * `metrics().handlingMs` (a sort of up to 512 numbers) until it does.
   * @internal
   */
  get samplesTaken(): number {
    return this.sampleCount;
  }

  /** Deepest the mailbox has been (as `metrics().mailboxHighWater`, without the sample's sort). @internal */
  get mailboxHighWater(): number {
    return this.mailbox.highWater;
  }

  get currentMessageValue(): unknown {
    return this.currentMessage;
  }

  /** Track `work` as in flight for this actor until it settles (see `ctx.inFlight`). */
  trackInFlight<T>(work: Promise<T>): Promise<T> {
    this.outstandingWork++;
    const done = () => {
      this.outstandingWork--;
    };
    work.then(done, done);
    return work;
  }

  /** Declared work still in flight. */
  get inFlightWork(): number {
    return this.outstandingWork;
  }

  get mailboxSize(): number {
    return this.mailbox.size;
  }

  get mailboxCapacity(): number {
    return this.mb.capacity;
  }

  /** Terminated signals waiting in the system queue. */
  get pendingSignals(): number {
    return (this.sysq?.length ?? 0) >> 1;
  }

  /** Messages sent on to where the actor really lives that it has not taken yet (proxies only). */
  get remoteOutstanding(): number {
    return this.remote?.outstanding ?? 0;
  }

  get isProcessing(): boolean {
    return this.processing;
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
