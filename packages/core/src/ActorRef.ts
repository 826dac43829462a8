import type { TransferListItem } from 'node:worker_threads';
/** A message: plain data, discriminated on `type`. */
export interface Message {
  readonly type: string;
}

/** Options of {@link ActorRef.tell} and {@link ActorRef.send}. */
export interface TellOptions {
  /**
   * Buffers to move to a worker-thread actor instead of copying them (they
   * become unusable here). Ignored for actors in this thread.
   */
  transfer?: readonly TransferListItem[];
}

/** Options of {@link ActorRef.ask}. */
export interface AskOptions extends TellOptions {
  /** Reject with `AskTimeoutError` after this many milliseconds. Default: the system's `askTimeoutMs` (5000). */
  timeoutMs?: number;
  /** Abort the ask: before sending, nothing is sent; during, the promise rejects with `AskAbortedError`. */
  signal?: AbortSignal;
}

/**
 * The only handle to an actor. Location-transparent: the same API whether the
 * actor runs in this thread or elsewhere.
 *
 * - `tell` is fire-and-forget, at-most-once, FIFO per sender→receiver pair.
 *   A message that cannot be delivered becomes a dead letter (never silently lost).
 * - `send` is `tell` that waits for room in a bounded `backpressure` mailbox.
 * - `ask` sends and waits for the receiver's `ctx.reply(...)`.
 *
 * @example
 * counter.tell({ type: 'inc' });
 * const n = await counter.ask<number>({ type: 'get' }, { timeoutMs: 1000 });
 */
export interface ActorRef<M extends Message = Message> {
  /** Unique id (nanoid). */
  readonly id: string;
  /** Name, unique among siblings. */
  readonly name: string;
  /** Path from the root, e.g. `/user/psi/left`. */
  readonly path: string;
  tell(message: M, options?: TellOptions): void;
  send(message: M, options?: TellOptions): Promise<void>;
  ask<R = unknown>(message: M, options?: AskOptions): Promise<R>;
  /** False once the actor has terminated (or never existed). */
  readonly isAlive: boolean;
}

/** Why an actor terminated. */
export type TerminationReason =
  | { readonly kind: 'stopped' }
  | { readonly kind: 'failed'; readonly error: unknown }
  | { readonly kind: 'shutdown' }
  /** The link to the node (or worker thread) the actor lived on closed for good: it is gone, for whatever reason. */
  | { readonly kind: 'address-terminated' };

/** Delivered to a watcher's `onTerminated` when a watched actor terminates. */
export interface Terminated {
  readonly type: 'terminated';
  // biome-ignore lint/suspicious/noExplicitAny: a terminated ref of any protocol
  readonly ref: ActorRef<any>;
  readonly reason: TerminationReason;
}
