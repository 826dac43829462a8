import {
  type ActorContext,
  type ActorDefinition,
  type ActorRef,
  defineActor,
  MailboxFullError,
  type MailboxOptions,
  type Message,
  SupervisionStrategy,
  type Terminated,
} from '@troupe/core';
import { describe, typeOf } from './describe.js';
import { NoRouteesError } from './errors.js';
import {
  POOL_PREFIX,
  type PoolBroadcast,
  type PoolMessage,
  type PoolResize,
  type PoolRetireTick,
  type PoolRoutees,
} from './PoolProtocol.js';
import {
  broadcast,
  consistentHash,
  leastLoaded,
  type Routee,
  type Router,
  type RoutingKind,
  type RoutingLogic,
  roundRobin,
} from './RoutingLogic.js';

/**
 * Creates the routee for `slot` (0, 1, 2...). It must return a child of the pool,
 * so the pool supervises it: `ctx.spawn(def, ...)`, or `ctx.spawnWorker(...)`
 * for a routee on a worker thread.
 */
// biome-ignore lint/suspicious/noExplicitAny: routees are spawned by a context of any input
export type RouteeFactory<M extends Message> = (ctx: ActorContext<PoolMessage<M>, any>, slot: number) => ActorRef<M>;

/** What a pool does when one of its routees stops for good (not a restart). */
export type RouteeStopPolicy = 'replace' | 'remove';

/** Options of {@link pool}. */
export interface PoolOptions<M extends Message, I = undefined> {
  /** Number of routees at start; a positive integer. */
  size: number;
  /** Shortcut for local routees: each one is `ctx.spawn(routee, { input: routeeInput, mailbox: routeeMailbox })`. */
  // biome-ignore lint/suspicious/noExplicitAny: the routee's state is its own business
  routee?: ActorDefinition<M, any, I>;
  /** Input of each routee (with `routee` only). */
  routeeInput?: I;
  /** Mailbox of each routee (with `routee` only); default the definition's. */
  routeeMailbox?: MailboxOptions;
  /** Creates each routee (instead of `routee`), e.g. on a worker thread. */
  routees?: RouteeFactory<M>;
  /** Default `round-robin`. `consistent-hash` needs `hashKey`. */
  routing?: RoutingKind | RoutingLogic<M>;
  /** Key of a message, for `routing: 'consistent-hash'`. */
  hashKey?: (message: M) => string | number;
  /**
   * How the pool supervises its routees (it becomes the pool's `childSupervision`).
   * Default: the system's default strategy (restart with backoff, at most 3 times
   * in 5 s, then the pool fails). Keep the scope `one-for-one` so a failing routee
   * does not restart its siblings and lose their queued work.
   */
  supervision?: SupervisionStrategy;
  /** The pool's own mailbox. */
  mailbox?: MailboxOptions;
  /** Name of the definition, shown in logs; default `pool`. */
  name?: string;
  /**
   * A routee that stops for good (stopped itself, a `stop` directive) is
   * replaced in its slot (`replace`, the default: the pool keeps its size and a
   * consistent-hash pool its key placement) or dropped (`remove`: the pool
   * shrinks). A restart is not a stop: the routee keeps its ref and mailbox.
   */
  whenRouteeStops?: RouteeStopPolicy;
  /**
   * Bound on replacements, so a routee that stops at once cannot spin the pool:
   * past `maxReplacements` within `windowMs`, a stopped routee is removed
   * instead, with an error logged. Default 10 within 10 000 ms.
   */
  replaceLimit?: { maxReplacements: number; windowMs: number };
  /**
   * A routee taken out by a resize gets no new messages and is stopped once it
   * has finished its queued work, or after this many milliseconds (what is left
   * then becomes dead letters). Default 30 000.
   */
  retireTimeoutMs?: number;
}

/** A pool's private state (opaque; exported only so declarations can name it). */
export interface PoolState<M extends Message> {
  /** Ordered by slot. */
  routees: Routee<M>[];
  router: Router<M>;
  /** Routees taken out by a resize, with the clock time by which they are stopped anyway. */
  retiring: Map<ActorRef<M>, number>;
  /** Clock times of recent replacements. */
  replacedAt: number[];
}

const RETIRE_TIMER = 'troupe.pool.retire';
const RETIRE_POLL_MS = 10;

/**
 * A pool: `size` identical routees behind one ref. The pool actor is their
 * parent and supervisor; messages are routed by round-robin, least-loaded,
 * consistent-hash or broadcast. An ask through the pool is answered by the
 * routee directly to the asker (`ctx.forward`): the pool never waits for it.
 *
 * Control messages (see `PoolProtocol`): `{ type: 'troupe.pool.resize', size }`,
 * `{ type: 'troupe.pool.get-routees' }`, `{ type: 'troupe.pool.broadcast', message }`.
 *
 * A message that cannot be routed (no routees, a `hashKey` that throws) is
 * refused without failing the pool: an ask rejects with the error, a tell
 * becomes a dead letter (`no-reply-address`), and a warning is logged.
 *
 * @example
 * const hashers = system.spawn(pool({ size: 4, routee: Hasher, routing: 'least-loaded' }), { name: 'hashers' });
 * const digest = await hashers.ask<string>({ type: 'hash', data });
 * await resizePool(hashers, 8);
 */
export function pool<M extends Message, I = undefined>(
  options: PoolOptions<M, I>,
): ActorDefinition<PoolMessage<M>, PoolState<M>, undefined> {
  const o = validate(options);
  const logic = o.logic;
  const factory = o.factory;

  const loadOf = (ctx: ActorContext<PoolMessage<M>, undefined>) => (ref: ActorRef<M>) => ctx.system.loadOf(ref);

  /**
   * Refuse a message without failing the pool (see the doc above). Logged like
   * dead letters: the first ten, then one line per thousand, so a flood of
   * unroutable tells cannot drown the log.
   */
  let refused = 0;
  const refuse = (ctx: ActorContext<PoolMessage<M>, undefined>, message: unknown, error: unknown) => {
    refused++;
    if (refused <= 10 || refused % 1000 === 0) {
      ctx.log.warn(
        `pool ${ctx.self.path} refused a message of type ${typeOf(message)} (#${refused}): ${describe(error)}`,
      );
    }
    ctx.replyError(error);
  };

  const spawnRoutee = (ctx: ActorContext<PoolMessage<M>, undefined>, slot: number): Routee<M> => {
    const ref = factory(ctx, slot);
    if (ref === null || typeof ref !== 'object' || typeof ref.tell !== 'function') {
      throw new TypeError(`pool ${ctx.self.path}: the routee factory must return an ActorRef, got ${describe(ref)}`);
    }
    if (!ctx.children.includes(ref)) {
      throw new TypeError(
        `pool ${ctx.self.path}: the routee factory returned ${ref.path}, which is not a child of the pool; ` +
          'spawn routees with ctx.spawn(...) (or ctx.spawnWorker(...)) so the pool can supervise them',
      );
    }
    ctx.watch(ref);
    return { slot, ref };
  };

  const changed = (state: PoolState<M>) => {
    state.routees.sort((a, b) => a.slot - b.slot);
    state.router.routeesChanged?.(state.routees);
  };

  /** Hand `message` to `ref`; a promise when the routee's bounded mailbox makes us wait. */
  const deliver = (
    ctx: ActorContext<PoolMessage<M>, undefined>,
    ref: ActorRef<M>,
    message: M,
  ): Promise<void> | undefined => {
    try {
      ctx.forward(ref, message);
      return undefined;
    } catch (error) {
      // Only a tell into a full `reject` or `backpressure` mailbox throws (an ask
      // is parked or rejected by the routee's mailbox). Waiting for room here is
      // what carries backpressure through the pool: the pool handles one message
      // at a time, so its own mailbox fills up behind this one.
      if (!(error instanceof MailboxFullError)) throw error;
      return ref.send(message).catch((e: unknown) => {
        ctx.log.warn(
          `pool ${ctx.self.path}: routee ${ref.path} refused a message of type ${typeOf(message)}: ${describe(e)}`,
        );
      });
    }
  };

  const route = (
    state: PoolState<M>,
    message: M,
    ctx: ActorContext<PoolMessage<M>, undefined>,
    toAll: boolean,
  ): Promise<void> | undefined => {
    const routees = state.routees;
    if (routees.length === 0) {
      refuse(ctx, message, new NoRouteesError(ctx.self.path, typeOf(message)));
      return undefined;
    }
    if (toAll) {
      let waits: Promise<void>[] | undefined;
      for (const r of routees) {
        const w = deliver(ctx, r.ref, message);
        if (w !== undefined) (waits ??= []).push(w);
      }
      return waits === undefined ? undefined : Promise.all(waits).then(() => undefined);
    }
    let i: number;
    try {
      i = state.router.select(message, routees, loadOf(ctx));
    } catch (error) {
      refuse(ctx, message, error);
      return undefined;
    }
    let target = routees[i] ?? (routees[0] as Routee<M>);
    // A routee that has just stopped (its Terminated is still on the way) would
    // turn the message into a dead letter: skip to the next live one.
    for (let k = 1; !target.ref.isAlive && k < routees.length; k++) {
      target = routees[(i + k) % routees.length] as Routee<M>;
    }
    return deliver(ctx, target.ref, message);
  };

  const info = (state: PoolState<M>): PoolRoutees<M> => ({
    type: 'troupe.pool.routees',
    routing: logic.kind,
    size: state.routees.length,
    routees: state.routees.map((r) => r.ref),
    slots: state.routees.map((r) => r.slot),
    retiring: state.retiring.size,
  });

  const resize = (state: PoolState<M>, ctx: ActorContext<PoolMessage<M>, undefined>, size: number) => {
    const routees = state.routees;
    if (size > routees.length) {
      // Take the lowest free slots, so shrinking and growing back restores the
      // same consistent-hash placement.
      const used = new Set(routees.map((r) => r.slot));
      for (let slot = 0; routees.length < size; slot++) {
        if (!used.has(slot)) routees.push(spawnRoutee(ctx, slot));
      }
    } else if (size < routees.length) {
      for (const r of routees.splice(size)) retire(state, ctx, r.ref);
      checkRetiring(state, ctx);
    }
    changed(state);
  };

  const retire = (state: PoolState<M>, ctx: ActorContext<PoolMessage<M>, undefined>, ref: ActorRef<M>) => {
    ctx.unwatch(ref);
    state.retiring.set(ref, ctx.system.clock.now() + o.retireTimeoutMs);
    if (!ctx.timers.isActive(RETIRE_TIMER)) {
      const tick: PoolRetireTick = { type: 'troupe.pool.retire-tick' };
      ctx.timers.interval(RETIRE_TIMER, RETIRE_POLL_MS, tick as unknown as PoolMessage<M>);
    }
  };

  /**
   * Stop the retiring routees that have drained (or run out of time). Polled:
   * the public API tells a pool a routee's load, not when it changes, and a
   * few cheap checks every 10 ms during a resize cost nothing.
   */
  const checkRetiring = (state: PoolState<M>, ctx: ActorContext<PoolMessage<M>, undefined>) => {
    const now = ctx.system.clock.now();
    for (const [ref, deadline] of state.retiring) {
      const load = ctx.system.loadOf(ref);
      if (ref.isAlive && load > 0 && now < deadline) continue;
      state.retiring.delete(ref);
      if (!ref.isAlive) continue;
      if (load > 0) {
        ctx.log.warn(
          `pool ${ctx.self.path}: retiring routee ${ref.path} still had ${load} message(s) after retireTimeoutMs (${o.retireTimeoutMs} ms); stopping it, the rest become dead letters`,
        );
      }
      ctx
        .stop(ref)
        .catch((e: unknown) => ctx.log.error(`pool ${ctx.self.path}: stopping ${ref.path} failed: ${describe(e)}`));
    }
    if (state.retiring.size === 0) ctx.timers.cancel(RETIRE_TIMER);
  };

  const routeeStopped = (state: PoolState<M>, ctx: ActorContext<PoolMessage<M>, undefined>, signal: Terminated) => {
    if (state.retiring.delete(signal.ref)) return;
    const i = state.routees.findIndex((r) => r.ref.id === signal.ref.id);
    if (i < 0) return; // a routee of an earlier incarnation of the pool (stopped by its restart)
    const [gone] = state.routees.splice(i, 1) as [Routee<M>];
    const why = signal.reason.kind === 'failed' ? `failed (${describe(signal.reason.error)})` : signal.reason.kind;
    let replaced = false;
    if (o.whenRouteeStops === 'replace') {
      const now = ctx.system.clock.now();
      const { maxReplacements, windowMs } = o.replaceLimit;
      state.replacedAt = state.replacedAt.filter((t) => now - t < windowMs);
      if (state.replacedAt.length < maxReplacements) {
        state.replacedAt.push(now);
        try {
          state.routees.push(spawnRoutee(ctx, gone.slot));
          replaced = true;
          ctx.log.info(`pool ${ctx.self.path}: routee ${gone.ref.path} ${why}; replaced in slot ${gone.slot}`);
        } catch (e) {
          ctx.log.error(`pool ${ctx.self.path}: could not replace routee in slot ${gone.slot}: ${describe(e)}`);
        }
      } else {
        ctx.log.error(
          `pool ${ctx.self.path}: routee ${gone.ref.path} ${why}, but ${maxReplacements} routees were already replaced within ${windowMs} ms (replaceLimit); removing it instead`,
        );
      }
    }
    if (!replaced && o.whenRouteeStops === 'remove') {
      ctx.log.info(`pool ${ctx.self.path}: routee ${gone.ref.path} ${why}; removed (${state.routees.length} left)`);
    }
    changed(state);
  };

  return defineActor<PoolMessage<M>, PoolState<M>>({
    name: o.name,
    ...(o.supervision === undefined ? {} : { childSupervision: o.supervision }),
    ...(o.mailbox === undefined ? {} : { mailbox: o.mailbox }),
    init: (ctx) => {
      const state: PoolState<M> = {
        routees: [],
        router: logic.createRouter(),
        retiring: new Map(),
        replacedAt: [],
      };
      for (let slot = 0; slot < o.size; slot++) state.routees.push(spawnRoutee(ctx, slot));
      changed(state);
      return state;
    },
    receive: (state, message, ctx) => {
      const type = (message as { type?: unknown } | null)?.type;
      if (typeof type !== 'string' || !type.startsWith(POOL_PREFIX)) {
        return route(state, message as M, ctx, logic.broadcast);
      }
      switch (type) {
        case 'troupe.pool.resize': {
          const size = (message as PoolResize).size;
          if (!Number.isInteger(size) || size < 1) {
            refuse(
              ctx,
              message,
              new TypeError(`pool ${ctx.self.path}: resize size must be a positive integer, got ${String(size)}`),
            );
            return;
          }
          resize(state, ctx, size);
          ctx.reply(info(state));
          return;
        }
        case 'troupe.pool.get-routees':
          ctx.reply(info(state));
          return;
        case 'troupe.pool.broadcast':
          return route(state, (message as PoolBroadcast<M>).message, ctx, true);
        case 'troupe.pool.retire-tick':
          checkRetiring(state, ctx);
          return;
        default:
          refuse(
            ctx,
            message,
            new TypeError(
              `pool ${ctx.self.path}: unknown control message type ${type}; the pool handles troupe.pool.resize, troupe.pool.get-routees and troupe.pool.broadcast`,
            ),
          );
          return;
      }
    },
    onTerminated: (state, signal, ctx) => routeeStopped(state, ctx, signal),
  });
}

interface ResolvedPoolOptions<M extends Message> {
  size: number;
  name: string;
  logic: RoutingLogic<M>;
  factory: RouteeFactory<M>;
  supervision: SupervisionStrategy | undefined;
  mailbox: MailboxOptions | undefined;
  whenRouteeStops: RouteeStopPolicy;
  replaceLimit: { maxReplacements: number; windowMs: number };
  retireTimeoutMs: number;
}

const kinds: readonly RoutingKind[] = ['round-robin', 'least-loaded', 'consistent-hash', 'broadcast'];

/** Validate at the door, naming the bad option and the fix. */
function validate<M extends Message, I>(options: PoolOptions<M, I>): ResolvedPoolOptions<M> {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`pool: options must be an object with size and routee (or routees), got ${describe(options)}`);
  }
  const { size, routee, routees, routing = 'round-robin', hashKey } = options;
  if (!Number.isInteger(size) || size < 1)
    throw new TypeError(`pool: size must be a positive integer, got ${describe(size)}`);
  if (routee !== undefined && routees !== undefined) {
    throw new TypeError(
      'pool: give either routee (an actor definition) or routees (a factory (ctx, slot) => ref), not both',
    );
  }
  let factory: RouteeFactory<M>;
  if (routees !== undefined) {
    if (typeof routees !== 'function') {
      throw new TypeError(`pool: routees must be a factory (ctx, slot) => ActorRef, got ${describe(routees)}`);
    }
    for (const key of ['routeeInput', 'routeeMailbox'] as const) {
      if (options[key] !== undefined)
        throw new TypeError(
          `pool: ${key} applies to routee only; with a routees factory, pass it to ctx.spawn yourself`,
        );
    }
    factory = routees;
  } else if (routee !== undefined) {
    if (
      routee === null ||
      typeof routee !== 'object' ||
      typeof routee.init !== 'function' ||
      typeof routee.receive !== 'function'
    ) {
      throw new TypeError(`pool: routee must be an actor definition (defineActor(...)), got ${describe(routee)}`);
    }
    const spawnOptions = {
      ...(options.routeeInput === undefined ? {} : { input: options.routeeInput }),
      ...(options.routeeMailbox === undefined ? {} : { mailbox: options.routeeMailbox }),
    };
    factory = (ctx, slot) => ctx.spawn(routee, { ...spawnOptions, name: freeName(ctx, `routee-${slot}`) });
  } else {
    throw new TypeError('pool: give routee (an actor definition) or routees (a factory (ctx, slot) => ActorRef)');
  }

  let logic: RoutingLogic<M>;
  if (typeof routing === 'string') {
    if (!kinds.includes(routing))
      throw new TypeError(`pool: routing must be one of ${kinds.join(', ')} or a RoutingLogic, got ${routing}`);
    if (routing === 'consistent-hash') {
      if (typeof hashKey !== 'function') {
        throw new TypeError(
          "pool: routing 'consistent-hash' needs hashKey: (message) => string, the key that picks the routee",
        );
      }
      logic = consistentHash(hashKey);
    } else {
      logic = routing === 'round-robin' ? roundRobin() : routing === 'least-loaded' ? leastLoaded() : broadcast();
    }
  } else if (routing !== null && typeof routing === 'object' && typeof routing.createRouter === 'function') {
    logic = routing;
  } else {
    throw new TypeError(`pool: routing must be one of ${kinds.join(', ')} or a RoutingLogic, got ${describe(routing)}`);
  }
  if (hashKey !== undefined && routing !== 'consistent-hash') {
    throw new TypeError(
      "pool: hashKey is only used with routing: 'consistent-hash' (or pass consistentHash(hashKey) as routing)",
    );
  }

  const { supervision, mailbox, name = 'pool', whenRouteeStops = 'replace', retireTimeoutMs = 30_000 } = options;
  if (supervision !== undefined && !(supervision instanceof SupervisionStrategy)) {
    throw new TypeError(
      `pool: supervision must be a SupervisionStrategy (restart(), resume(), ...), got ${describe(supervision)}`,
    );
  }
  if (mailbox !== undefined && (mailbox === null || typeof mailbox !== 'object')) {
    throw new TypeError(`pool: mailbox must be an object of mailbox options, got ${describe(mailbox)}`);
  }
  if (typeof name !== 'string' || name.length === 0)
    throw new TypeError(`pool: name must be a non-empty string, got ${describe(name)}`);
  if (whenRouteeStops !== 'replace' && whenRouteeStops !== 'remove') {
    throw new TypeError(`pool: whenRouteeStops must be 'replace' or 'remove', got ${describe(whenRouteeStops)}`);
  }
  const replaceLimit = options.replaceLimit ?? { maxReplacements: 10, windowMs: 10_000 };
  if (
    replaceLimit === null ||
    typeof replaceLimit !== 'object' ||
    !Number.isInteger(replaceLimit.maxReplacements) ||
    replaceLimit.maxReplacements < 0
  ) {
    throw new TypeError(
      `pool: replaceLimit.maxReplacements must be a non-negative integer, got ${describe(replaceLimit?.maxReplacements)}`,
    );
  }
  if (!(replaceLimit.windowMs > 0) || !Number.isFinite(replaceLimit.windowMs)) {
    throw new TypeError(
      `pool: replaceLimit.windowMs must be a positive finite number, got ${describe(replaceLimit.windowMs)}`,
    );
  }
  if (!(retireTimeoutMs > 0) || !Number.isFinite(retireTimeoutMs)) {
    throw new TypeError(`pool: retireTimeoutMs must be a positive finite number, got ${describe(retireTimeoutMs)}`);
  }
  return {
    size,
    name,
    logic,
    factory,
    supervision,
    mailbox,
    whenRouteeStops,
    replaceLimit: { maxReplacements: replaceLimit.maxReplacements, windowMs: replaceLimit.windowMs },
    retireTimeoutMs,
  };
}

/** `base`, or `base-2`, `base-3`... while a sibling (say, a retiring routee) still holds the name. */
// biome-ignore lint/suspicious/noExplicitAny: any context
function freeName(ctx: ActorContext<any, any>, base: string): string {
  if (ctx.child(base) === undefined) return base;
  for (let n = 2; ; n++) {
    const name = `${base}-${n}`;
    if (ctx.child(name) === undefined) return name;
  }
}
