import {
  ActorSystem,
  type ActorSystemOptions,
  type DeadLetter,
  type DeadLetterReason,
  silentLogger,
} from '@troupe/core';
import { TestClock } from '@troupe/core/testing';
import { afterEach, expect } from 'vitest';

/**
 * One actor system per test: `const start = useSystem()` registers an
 * `afterEach` that shuts down whatever `start(...)` started, so the next test
 * may start its own (one system per process).
 *
 * With a {@link TestClock}, the clock is driven while shutting down, so a
 * phase or stop timeout that is waiting on it (an actor stuck in a restart
 * backoff, say) cannot hang the suite.
 */
export function useSystem(): (options?: Partial<ActorSystemOptions>) => Promise<ActorSystem> {
  let current: ActorSystem | undefined;
  let clock: TestClock | undefined;
  afterEach(async () => {
    const system = current;
    current = undefined;
    if (system === undefined) return;
    let done = false;
    const report = system.shutdown().finally(() => {
      done = true;
    });
    while (!done && clock !== undefined) await clock.tick(1_000);
    await report;
  });
  return async (options = {}) => {
    if (current !== undefined) throw new Error('useSystem: one system per test');
    const name = options.name ?? (expect.getState().currentTestName ?? 'test').slice(0, 60);
    clock = options.clock instanceof TestClock ? options.clock : undefined;
    current = await ActorSystem.start({ signals: false, logger: silentLogger, ...options, name });
    return current;
  };
}

/** Poll `check` in real time until it returns true; fail naming `what` after `ms`. */
export async function waitFor(check: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Record every dead letter published on the system's bus. */
export function collectDeadLetters(system: ActorSystem): {
  letters: DeadLetter[];
  of(reason: DeadLetterReason): DeadLetter[];
} {
  const letters: DeadLetter[] = [];
  system.events.on('deadLetter', (l) => letters.push(l));
  return { letters, of: (reason) => letters.filter((l) => l.reason === reason) };
}

/** A promise with its resolve function outside, to hold an actor mid-message. */
export function gate<T = void>(): { promise: Promise<T>; open: (value: T) => void } {
  let open!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    open = r;
  });
  return { promise, open };
}

/** Await a promise's rejection and return the reason (fails if it resolves). */
export async function rejectionOf(p: Promise<unknown>): Promise<unknown> {
  const outcome = await p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  if (outcome.ok) throw new Error(`expected a rejection, got ${JSON.stringify(outcome.value)}`);
  return outcome.error;
}
