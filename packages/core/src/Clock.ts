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
}

/** The real clock: `performance.now()` and Node's timers. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  unref: (handle) => void (handle as NodeJS.Timeout).unref(),
  ref: (handle) => void (handle as NodeJS.Timeout).ref(),
};
