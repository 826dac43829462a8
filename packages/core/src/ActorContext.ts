import type { ActorDefinition } from './ActorDefinition.js';
import type { ActorRef, AskOptions, Message, TellOptions } from './ActorRef.js';
import type { ActorSystem } from './ActorSystem.js';
import type { Logger } from './Logger.js';
import type { SpawnOptions, WorkerSpawnOptions } from './SpawnOptions.js';
import type { WorkerActorSpec } from './WorkerActor.js';

/** A handle for answering an ask later, outside the `receive` call that got it. */
export interface Replier<R = unknown> {
  reply(value: R): void;
  fail(error: unknown): void;
}

/**
 * Timers owned by an actor. Each timer has a key; starting a timer with a key in
 * use replaces it. All timers are cancelled when the actor stops or restarts.
 */
export interface Timers<M extends Message> {
  /** Deliver `message` to self once, after `delayMs`. */
  once(key: string, delayMs: number, message: M): void;
  /** Deliver `message` to self every `everyMs`. */
  interval(key: string, everyMs: number, message: M): void;
  cancel(key: string): void;
  isActive(key: string): boolean;
  cancelAll(): void;
}

/** The `receive` function of an actor; returns the next state, or nothing to keep it. */
export type Receive<M extends Message, S, I = unknown> = (
  state: S,
  message: M,
  ctx: ActorContext<M, I>,
) => S | undefined | void | Promise<S | undefined | void>;

/** What an actor can do besides updating its state. Valid only inside the actor. */
export interface ActorContext<M extends Message = Message, I = unknown> {
  readonly self: ActorRef<M>;
  /** The supervising parent (a guardian for top-level actors). */
  // biome-ignore lint/suspicious/noExplicitAny: parents speak any protocol
  readonly parent: ActorRef<any>;
  readonly system: ActorSystem;
  /** The `input` given at spawn. */
  readonly input: I;
  readonly log: Logger;
  readonly timers: Timers<M>;
  /** Spawn a child supervised by this actor. */
  spawn<CM extends Message, CS, CI = undefined>(
    definition: ActorDefinition<CM, CS, CI>,
    options?: SpawnOptions<CI>,
  ): ActorRef<CM>;
  /**
   * Spawn a child on a worker thread (main thread only); its ref works like any other.
   * Messages to it must be structured-cloneable plain data (refs are fine).
   */
  spawnWorker<CM extends Message, CI = undefined>(
    spec: WorkerActorSpec<CM, CI>,
    options?: WorkerSpawnOptions<CI>,
  ): ActorRef<CM>;
  /** Children in start order. */
  // biome-ignore lint/suspicious/noExplicitAny: children speak any protocol
  readonly children: readonly ActorRef<any>[];
  // biome-ignore lint/suspicious/noExplicitAny: children speak any protocol
  child(name: string): ActorRef<any> | undefined;
  /** Stop a child, or self when called with no argument. Resolves when it has terminated. */
  // biome-ignore lint/suspicious/noExplicitAny: any child
  stop(ref?: ActorRef<any>): Promise<void>;
  /** Be told (through `onTerminated`) when `ref` terminates. */
  // biome-ignore lint/suspicious/noExplicitAny: any actor
  watch(ref: ActorRef<any>): void;
  // biome-ignore lint/suspicious/noExplicitAny: any actor
  unwatch(ref: ActorRef<any>): void;
  /** True while handling an ask whose reply has not been given or taken (false for a tell). */
  readonly expectsReply: boolean;
  /** Answer the ask being handled. A reply to a `tell` becomes a dead letter. */
  reply(value: unknown): void;
  /** Fail the ask being handled with `error` (the actor itself does not fail). */
  replyError(error: unknown): void;
  /** Take over the reply of the current message, to answer after `receive` returns. */
  deferReply<R = unknown>(): Replier<R>;
  /**
   * Tell `ref` as this actor. Same as `ref.tell`, except that it also counts as
   * the actor's own traffic after an `await` in an async `receive`: during
   * shutdown's drain, such sends pass the intake gate (a plain `ref.tell` made
   * after an `await` cannot be told apart from a new request from outside).
   */
  tell<T extends Message>(ref: ActorRef<T>, message: T, options?: TellOptions): void;
  /** `ref.send` as this actor (see {@link ActorContext.tell}): waits for room in a backpressure mailbox. */
  send<T extends Message>(ref: ActorRef<T>, message: T, options?: TellOptions): Promise<void>;
  /** Ask `ref` as this actor (see {@link ActorContext.tell}). */
  ask<T extends Message>(ref: ActorRef<T>, message: T, options?: AskOptions): Promise<unknown>;
  /** With the reply type given, the message is checked only for being a message. */
  // biome-ignore lint/suspicious/noExplicitAny: any actor
  ask<R>(ref: ActorRef<any>, message: Message & Record<string, unknown>, options?: AskOptions): Promise<R>;
  /**
   * Declare work this actor is doing outside its mailbox (a job held in its
   * state, a timer it waits on): shutdown's drain phase waits for it, bounded
   * by the phase timeout. Returns `work`.
   */
  inFlight<T>(work: Promise<T>): Promise<T>;
  /**
   * Pass the current message (or `message`) on to `ref`, keeping its reply
   * address: the target answers the original asker. Routers are built on this.
   * Like `tell`, forwarding a tell into a full `reject` or `backpressure`
   * mailbox throws `MailboxFullError` (an ask waits for room instead).
   */
  // biome-ignore lint/suspicious/noExplicitAny: any actor
  forward(ref: ActorRef<any>, message?: unknown): void;
  /** Set the current message aside; {@link unstashAll} puts stashed messages back in front of the mailbox. */
  stash(): void;
  unstashAll(): void;
  /** Handle the next messages with `receive` (until the next `become` or a restart). */
  become<S>(receive: Receive<M, S, I>): void;
}
