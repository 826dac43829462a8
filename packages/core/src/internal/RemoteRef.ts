import type { ActorRef, AskOptions, Message, TellOptions } from '../ActorRef.js';
import { typeOf } from '../DeadLetters.js';
import { ActorNotFoundError, ActorStoppedError } from '../errors.js';
import { REF_BRAND } from './codec.js';
import type { Route } from './Link.js';
import type { RefProvider } from './RefProvider.js';
import type { ReplyTarget } from './SystemInternals.js';
import type { WireRef } from './wire.js';

/**
 * The one ref to an actor that does not live in this runtime: a child of a
 * worker actor seen from the main thread, a main-thread actor seen from a
 * worker, an actor on another node. It holds the actor's {@link WireRef} and
 * the {@link Route} to reach it; every message is checked and encoded at the
 * sender, then goes over the route's link as a `TellTo` / `AskTo` frame.
 *
 * Without a route, tells become dead letters and asks reject: with
 * `ActorStoppedError` (`actor-stopped`) when the ref named one actor of this
 * runtime that has stopped since, as a local ref to it would; with
 * `ActorNotFoundError` (`unknown-actor`) when nothing can be found (a path
 * where nothing lives, a node with no link).
 * @internal
 */
export class RemoteRef<M extends Message = Message> implements ActorRef<M> {
  declare readonly [REF_BRAND]: true;
  constructor(
    private readonly provider: RefProvider,
    readonly route: Route | undefined,
    readonly wire: WireRef,
    /** Without a route: the actor it named has stopped (rather than never having been found). */
    private readonly stopped = false,
  ) {}

  /** Record `message` as undeliverable and return the error an asker gets. */
  private undeliverable(message: unknown): Error {
    const type = typeOf(message);
    const dead = this.provider.internals.deadLetters;
    if (this.stopped) {
      dead.record(this.path, message, 'actor-stopped');
      return new ActorStoppedError(this.path, type);
    }
    dead.record(this.path, message, 'unknown-actor');
    return new ActorNotFoundError(this.path, type);
  }

  get path(): string {
    return this.wire.$troupeRef.path;
  }

  get id(): string {
    return this.wire.$troupeRef.uid ?? '';
  }

  get name(): string {
    return this.path.slice(this.path.lastIndexOf('/') + 1);
  }

  /** Names the actor, whichever decode made this ref: what watches are keyed by. */
  get key(): string {
    const r = this.wire.$troupeRef;
    return `${r.cluster ?? ''}/${r.node ?? ''}/${r.incarnation ?? ''}${r.path}#${r.uid ?? ''}`;
  }

  /** True while a link to the actor's runtime is open (the actor itself may have ended: watch it to know). */
  get isAlive(): boolean {
    return this.route?.current()?.isOpen ?? false;
  }

  tell(message: M, options?: TellOptions): void {
    const link = this.route?.current();
    if (link === undefined) {
      this.undeliverable(message);
      return;
    }
    link.tellTo(this.wire, this.provider.encode(message, this.path), options?.transfer);
  }

  send(message: M, options?: TellOptions): Promise<void> {
    if (this.route?.current()?.isOpen !== true) return Promise.reject(this.undeliverable(message));
    try {
      this.tell(message, options);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  ask<R = unknown>(message: M, options?: AskOptions): Promise<R> {
    const link = this.route?.current();
    const type = typeOf(message);
    const sys = this.provider.internals;
    if (link === undefined) return Promise.reject(this.undeliverable(message));
    let encoded: unknown;
    try {
      encoded = this.provider.encode(message, this.path);
    } catch (e) {
      return Promise.reject(e);
    }
    const record = sys.asks.create(this.path, type, options?.timeoutMs ?? sys.askTimeoutMs, options?.signal);
    if (record instanceof Promise) return record;
    link.askTo(this.wire, encoded, record, options?.transfer);
    return record.promise as Promise<R>;
  }

  /**
   * Hand over a message that already has its reply address (a forward, or a
   * relay of something that arrived over another link).
   * @internal
   */
  deliver(message: unknown, env: ReplyTarget | undefined): void {
    const link = this.route?.current();
    if (link === undefined) {
      const error = this.undeliverable(message);
      env?.reject(error);
      return;
    }
    let encoded: unknown;
    try {
      encoded = this.provider.encode(message, this.path);
    } catch (e) {
      if (env !== undefined) env.reject(e);
      else {
        this.provider.internals.deadLetters.record(this.path, message, 'unserializable');
        throw e;
      }
      return;
    }
    if (env === undefined) link.tellTo(this.wire, encoded);
    else link.askTo(this.wire, encoded, env);
  }

  toString(): string {
    return `ActorRef(${this.path})`;
  }

  toJSON(): { path: string; id: string } {
    return { path: this.path, id: this.id };
  }
}

Object.defineProperty(RemoteRef.prototype, REF_BRAND, { value: true });
