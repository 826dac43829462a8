/**
 * Time, injected. Every timer in Troupe (ask timeouts, actor timers, restart
 * backoff, shutdown phase timeouts) goes through a `Clock`, so tests can swap in
 * `TestClock` from `@troupe/core/testing` and drive time by hand.
 */
export interface Clock {
  /** Milliseconds on a monotonic scale (only differences matter). */
  now(): number;
  /** Run `fn` after `ms` milliseconds; returns a handle for {@link Clock.clearTimeout}. */
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** Optional: let a pending timer not keep the process alive (Node's `timeout.unref()`). */
  unref?(handle: unknown): void;
  /** Optional: undo {@link Clock.unref}. */
  ref?(handle: unknown): void;
  /**
   * Optional: run `fn` once the current event-loop turn (the running callback
   * and the microtasks it queues) has ended. With it, ask timeouts read the clock
   * once per turn instead of once per ask (a clock read costs 40–100 ns on some
   * VMs, a quarter of an in-process ask): the asks of a turn all count their
   * timeout from the end of that turn, so none fires early and none later than
   * the length of the turn in which it was made. Without it, each ask reads
   * {@link Clock.now} itself. Returns a function that cancels the call.
   */
  endOfTurn?(fn: () => void): () => void;
}

/** The real clock: `performance.now()` and Node's timers. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  unref: (handle) => void (handle as NodeJS.Timeout).unref(),
  ref: (handle) => void (handle as NodeJS.Timeout).ref(),
  endOfTurn: (fn) => {
    const immediate = setImmediate(fn);
    return () => clearImmediate(immediate);
  },
};
