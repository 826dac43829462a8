import type { ActorRef, AskOptions, Message } from '../ActorRef.js';
import { type ActorCell, Status } from './ActorCell.js';
import { REF_BRAND } from './codec.js';
import type { ReplyTarget } from './SystemInternals.js';

/** A reference to an actor in this runtime: a thin handle on its cell. @internal */
export class LocalActorRef<M extends Message = Message> implements ActorRef<M> {
  declare readonly [REF_BRAND]: true;
  constructor(readonly cell: ActorCell) {}
  get id(): string {
    return this.cell.id;
  }
  get name(): string {
    return this.cell.name;
  }
  get path(): string {
    return this.cell.path;
  }
  get isAlive(): boolean {
    return this.cell.status < Status.Stopping;
  }
  tell(message: M): void {
    this.cell.enqueue(message, undefined);
  }
  send(message: M): Promise<void> {
    return this.cell.send(message);
  }
  ask<R = unknown>(message: M, options?: AskOptions): Promise<R> {
    return this.cell.ask<R>(message, options);
  }
  /**
   * Hand over a message that already has its reply address (a forward, or an
   * ask that arrived over a link). Throws like `tell` on a `reject` overflow.
   * @internal
   */
  deliver(message: unknown, env: ReplyTarget | undefined): void {
    this.cell.enqueue(message, env);
  }
  toString(): string {
    return `ActorRef(${this.cell.path})`;
  }
  toJSON(): { path: string; id: string } {
    return { path: this.cell.path, id: this.cell.id };
  }
}

Object.defineProperty(LocalActorRef.prototype, REF_BRAND, { value: true });

/** The cell behind a ref, if the ref is one of this runtime's. @internal */
// biome-ignore lint/suspicious/noExplicitAny: any protocol
export function cellOf(ref: ActorRef<any>): ActorCell | undefined {
  return ref instanceof LocalActorRef ? ref.cell : undefined;
}
