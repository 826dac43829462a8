import type { ActorContext, Receive } from './ActorContext.js';
import type { Message, Terminated } from './ActorRef.js';
import { describe as describeValue } from './errors.js';
import type { MailboxOptions } from './Mailbox.js';
import { SupervisionStrategy } from './SupervisionStrategy.js';

/** What `init` returns: the state (or a promise of it); a state that may be `undefined` may also be left implicit. */
export type InitResult<S> = undefined extends S ? S | void | Promise<S | void> : S | Promise<S>;

/**
 * The behaviour of an actor: how it starts, how it handles each message, and
 * what it does around restarts and stops. State is private; the only way in is
 * a message.
 *
 * All functions may be async; an actor still handles one message at a time.
 */
export interface ActorDefinition<M extends Message, S, I = undefined> {
  /** Shown in logs and errors. */
  readonly name?: string;
  /** Builds the initial state; runs at start and again at each restart. */
  init(ctx: ActorContext<M, I>): InitResult<S>;
  /** Handles one message; returns the next state, or nothing to keep the current one. */
  receive: Receive<M, S, I>;
  /** Handles the `Terminated` signal of a watched actor. Without it, a watched actor's end fails this actor (`DeathPactError`). */
  onTerminated?(
    state: S,
    signal: Terminated,
    ctx: ActorContext<M, I>,
  ): S | undefined | void | Promise<S | undefined | void>;
  /** After `init`, at start and after each restart. */
  afterStart?(state: S, ctx: ActorContext<M, I>): void | Promise<void>;
  /** Before a restart; children are already stopped. */
  beforeRestart?(state: S, error: unknown, ctx: ActorContext<M, I>): void | Promise<void>;
  /** After the actor and its children have stopped; release resources here. */
  afterStop?(state: S, ctx: ActorContext<M, I>): void | Promise<void>;
  /** Default mailbox for actors of this definition. */
  readonly mailbox?: MailboxOptions;
  /** Default strategy for this actor's children. */
  readonly childSupervision?: SupervisionStrategy;
  /**
   * Most messages `ctx.stash()` may hold (Akka's `Behaviors.withStash(capacity)`);
   * one more fails the actor with `StashOverflowError`. Default 10 000.
   */
  readonly stashCapacity?: number;
}

/**
 * Define an actor with a typed message protocol.
 *
 * @example
 * type CounterMsg = { type: 'inc' } | { type: 'get' };
 * const Counter = defineActor<CounterMsg, { n: number }>({
 *   init: () => ({ n: 0 }),
 *   receive: (state, msg, ctx) => {
 *     if (msg.type === 'inc') return { n: state.n + 1 };
 *     if (msg.type === 'get') ctx.reply(state.n);
 *   },
 * });
 */
export function defineActor<M extends Message, S, I = undefined>(
  definition: ActorDefinition<M, S, I>,
): ActorDefinition<M, S, I> {
  if (definition === null || typeof definition !== 'object') {
    throw new TypeError(`defineActor: expected an object with init and receive, got ${String(definition)}`);
  }
  if (typeof definition.init !== 'function') {
    throw new TypeError(`defineActor${label(definition)}: init must be a function, got ${typeof definition.init}`);
  }
  if (typeof definition.receive !== 'function') {
    throw new TypeError(
      `defineActor${label(definition)}: receive must be a function, got ${typeof definition.receive}`,
    );
  }
  const stash = definition.stashCapacity;
  if (stash !== undefined && (!Number.isInteger(stash) || stash < 1)) {
    throw new TypeError(
      `defineActor${label(definition)}: stashCapacity must be a positive integer, got ${String(stash)}`,
    );
  }
  if (definition.childSupervision !== undefined && !(definition.childSupervision instanceof SupervisionStrategy)) {
    throw new TypeError(
      `defineActor${label(definition)}: childSupervision must be a SupervisionStrategy (restart(), resume(), stop(), escalate() or decide(fn)), got ${describeValue(definition.childSupervision)}`,
    );
  }
  for (const hook of ['onTerminated', 'afterStart', 'beforeRestart', 'afterStop'] as const) {
    const fn = definition[hook];
    if (fn !== undefined && typeof fn !== 'function') {
      throw new TypeError(`defineActor${label(definition)}: ${hook} must be a function, got ${typeof fn}`);
    }
  }
  return Object.freeze({ ...definition });
}

function label(d: { name?: unknown }): string {
  return typeof d.name === 'string' ? ` (${d.name})` : '';
}
