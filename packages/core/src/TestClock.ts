import type { Clock } from './Clock.js';

interface Pending {
  id: number;
  at: number;
  fn: () => void;
}

/**
 * A clock that moves only when told to, for deterministic tests of timeouts,
 * timers and backoff. Timers fire in due order; ties in scheduling order.
 *
 * @example
 * const clock = new TestClock();
 * const system = await ActorSystem.start({ name: 't', signals: false, clock });
 * await clock.tick(5_000); // runs every timer due in the next 5 s, settling promises in between
 */
export class TestClock implements Clock {
  private time = 0;
  private nextId = 1;
  private pending: Pending[] = [];

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.pending.push({ id, at: this.time + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.pending = this.pending.filter((p) => p.id !== handle);
  }

  /** Number of timers not yet fired. */
  get pendingTimers(): number {
    return this.pending.length;
  }

  /** Move time forward by `ms`, firing due timers synchronously. */
  advance(ms: number): void {
    const target = this.time + ms;
    for (let next = this.popDue(target); next !== undefined; next = this.popDue(target)) {
      this.time = next.at;
      next.fn();
    }
    this.time = target;
  }

  /**
   * Move time forward by `ms`, letting promise callbacks and immediates run
   * before and after each timer, so async code reacting to a timer can
   * schedule the next one within the same tick.
   */
  async tick(ms: number): Promise<void> {
    const target = this.time + ms;
    await settle();
    for (let next = this.popDue(target); next !== undefined; next = this.popDue(target)) {
      this.time = next.at;
      next.fn();
      await settle();
    }
    this.time = target;
    await settle();
  }

  private popDue(limit: number): Pending | undefined {
    let best: Pending | undefined;
    for (const p of this.pending) if (p.at <= limit && (best === undefined || p.at < best.at)) best = p;
    if (best !== undefined) this.pending.splice(this.pending.indexOf(best), 1);
    return best;
  }
}

/** Let pending promise callbacks and one round of immediates run. */
export async function settle(rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}
