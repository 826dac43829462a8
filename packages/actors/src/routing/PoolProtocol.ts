import type { ActorRef, AskOptions, Message } from '@troupe/core';

/**
 * Messages a pool handles itself instead of routing them. They share the
 * `troupe.pool.` prefix; any other message goes to a routee.
 */

/** Grow or shrink the pool to `size` routees (at least 1). An ask is answered with {@link PoolRoutees}. */
export interface PoolResize {
  readonly type: 'troupe.pool.resize';
  readonly size: number;
}

/** Ask for the current routees; answered with {@link PoolRoutees}. */
export interface PoolGetRoutees {
  readonly type: 'troupe.pool.get-routees';
}

/** Deliver `message` to every routee, whatever the routing logic. */
export interface PoolBroadcast<M extends Message = Message> {
  readonly type: 'troupe.pool.broadcast';
  readonly message: M;
}

/** The messages a pool of routees speaking `M` understands. */
export type PoolMessage<M extends Message = Message> = M | PoolResize | PoolGetRoutees | PoolBroadcast<M>;

/** A pool's answer to {@link PoolGetRoutees} and {@link PoolResize}. */
export interface PoolRoutees<M extends Message = Message> {
  readonly type: 'troupe.pool.routees';
  /** The routing logic's kind, e.g. `round-robin`. */
  readonly routing: string;
  /** Routees that get new messages. */
  readonly size: number;
  /** Those routees, in slot order. */
  readonly routees: readonly ActorRef<M>[];
  /** Their slots (`slots[i]` is the slot of `routees[i]`). */
  readonly slots: readonly number[];
  /** Routees removed by a resize that are still finishing their queued work. */
  readonly retiring: number;
}

/** The pool's self-message that checks whether retiring routees have drained. @internal */
export interface PoolRetireTick {
  readonly type: 'troupe.pool.retire-tick';
}

/** Message types the pool handles itself. @internal */
export const POOL_PREFIX = 'troupe.pool.';

/**
 * Resize a pool at run time; resolves with the routees after the change.
 * Routees taken out are first drained: they get no new messages, finish what
 * they have queued, then stop.
 *
 * @example
 * const { size } = await resizePool(workers, 8);
 */
export function resizePool<M extends Message>(
  pool: ActorRef<PoolMessage<M>>,
  size: number,
  options?: AskOptions,
): Promise<PoolRoutees<M>> {
  return pool.ask<PoolRoutees<M>>({ type: 'troupe.pool.resize', size }, options);
}

/** The pool's current routees. */
export function poolRoutees<M extends Message>(
  pool: ActorRef<PoolMessage<M>>,
  options?: AskOptions,
): Promise<PoolRoutees<M>> {
  return pool.ask<PoolRoutees<M>>({ type: 'troupe.pool.get-routees' }, options);
}
