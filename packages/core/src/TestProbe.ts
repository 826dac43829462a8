import { defineActor } from './ActorDefinition.js';
import type { ActorRef, Message, Terminated } from './ActorRef.js';
import type { ActorSystem } from './ActorSystem.js';

type Matcher<T> = (message: T) => boolean;

/**
 * An actor for tests: everything sent to `probe.ref` is recorded, and the
 * `expect*` methods wait for it (in real time, whatever clock the system uses).
 *
 * @example
 * const probe = new TestProbe(system);
 * worker.tell({ type: 'job', replyTo: probe.ref });
 * await probe.expectMessage((m) => m.type === 'done', 1000);
 * await probe.expectNoMessage(50);
 */
export class TestProbe<M extends Message = Message> {
  readonly ref: ActorRef<M>;
  private readonly queue: (M | Terminated)[] = [];
  private waiter: (() => void) | undefined;

  constructor(system: ActorSystem, name?: string) {
    const record = (m: M | Terminated) => {
      this.queue.push(m);
      const w = this.waiter;
      this.waiter = undefined;
      w?.();
    };
    this.ref = system.spawnSystemActor(
      defineActor<M, undefined>({
        name: 'TestProbe',
        init: () => undefined,
        receive: (_s, m, ctx) => {
          const w = m as unknown as { type: string; ref?: ActorRef<Message> };
          if (w.type === 'troupe.probe.watch' && w.ref !== undefined) ctx.watch(w.ref);
          else record(m);
        },
        onTerminated: (_s, t) => record(t),
      }),
      name === undefined ? {} : { name },
    );
  }

  /** Messages received and not yet taken by an expectation. */
  get pending(): readonly (M | Terminated)[] {
    return [...this.queue];
  }

  /** Take the next message, waiting at most `withinMs`. */
  async receiveMessage(withinMs = 1000): Promise<M | Terminated> {
    const deadline = Date.now() + withinMs;
    while (this.queue.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`TestProbe ${this.ref.path}: no message within ${withinMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    return this.queue.shift() as M | Terminated;
  }

  /** Wait for the next message and check it: equal to `expected` (deep), or accepted by a predicate. */
  async expectMessage(expected?: unknown, withinMs = 1000): Promise<M> {
    const m = await this.receiveMessage(withinMs);
    if (typeof expected === 'function') {
      if (!(expected as Matcher<unknown>)(m)) {
        throw new Error(`TestProbe ${this.ref.path}: unexpected message ${JSON.stringify(m)}`);
      }
    } else if (expected !== undefined && !deepEqual(m, expected)) {
      throw new Error(`TestProbe ${this.ref.path}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(m)}`);
    }
    return m as M;
  }

  /** Fail if any message arrives within `ms`. */
  async expectNoMessage(ms = 100): Promise<void> {
    await new Promise((r) => setTimeout(r, ms));
    if (this.queue.length > 0) {
      throw new Error(
        `TestProbe ${this.ref.path}: expected no message for ${ms} ms, got ${JSON.stringify(this.queue[0])}`,
      );
    }
  }

  /** Watch `ref`; its end arrives as a `Terminated` message. */
  // biome-ignore lint/suspicious/noExplicitAny: any protocol
  watch(ref: ActorRef<any>): void {
    this.ref.tell({ type: 'troupe.probe.watch', ref } as unknown as M);
  }

  /** Wait for the `Terminated` of `ref`. */
  // biome-ignore lint/suspicious/noExplicitAny: any protocol
  async expectTerminated(ref: ActorRef<any>, withinMs = 1000): Promise<Terminated> {
    const m = await this.receiveMessage(withinMs);
    if ((m as Terminated).type !== 'terminated' || (m as Terminated).ref.path !== ref.path) {
      throw new Error(`TestProbe ${this.ref.path}: expected Terminated(${ref.path}), got ${JSON.stringify(m)}`);
    }
    return m as Terminated;
  }
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
