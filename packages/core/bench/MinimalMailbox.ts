/**
 * The floor: the least a mailbox-based runtime can do. One array of messages
 * and one of reply functions, drained in a single microtask; no fairness, no
 * supervision, no timeouts, no dead letters. Whatever Troupe costs above this
 * is the price of those features.
 */
export type MiniReply = ((value: unknown) => void) | undefined;
export type MiniHandler<S, M> = (state: S, message: M, reply: MiniReply) => S | undefined;

export class MinimalMailbox<S, M> {
  private messages: M[] = [];
  private replies: MiniReply[] = [];
  private scheduled = false;
  // bind, not an arrow: tsx (esbuild keepNames) would wrap an arrow field in `__name()` per instance.
  private readonly drainBound = this.drain.bind(this);

  constructor(
    private state: S,
    private readonly handler: MiniHandler<S, M>,
  ) {}

  tell(message: M): void {
    this.push(message, undefined);
  }

  /** One promise per request; the handler answers through `reply`. */
  ask<R>(message: M): Promise<R> {
    return new Promise<R>((resolve) => this.push(message, resolve as MiniReply));
  }

  private push(message: M, reply: MiniReply): void {
    this.messages.push(message);
    this.replies.push(reply);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.drainBound);
    }
  }

  private drain(): void {
    const messages = this.messages;
    const replies = this.replies;
    this.messages = [];
    this.replies = [];
    this.scheduled = false;
    for (let i = 0; i < messages.length; i++) {
      const next = this.handler(this.state, messages[i] as M, replies[i]);
      if (next !== undefined) this.state = next;
    }
  }
}
