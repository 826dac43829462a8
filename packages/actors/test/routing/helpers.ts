import { ActorSystem, type DeadLetter, silentLogger } from '@troupe/core';
import { afterEach, expect } from 'vitest';

/**
 * One actor system per test (one may be alive per process): `const start =
 * useSystem()` registers an `afterEach` that shuts down what `start()` started.
 */
export function useSystem(): () => Promise<ActorSystem> {
  let current: ActorSystem | undefined;
  afterEach(async () => {
    const system = current;
    current = undefined;
    await system?.shutdown();
  });
  return async () => {
    if (current !== undefined) throw new Error('useSystem: one system per test');
    const name = (expect.getState().currentTestName ?? 'routing test').slice(0, 60);
    current = await ActorSystem.start({ name, signals: false, logger: silentLogger });
    return current;
  };
}

/** Poll `check` until it returns true; fail naming `what` after `ms` (generous: slow CI machines). */
export async function waitFor(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** A promise with its resolve function outside, to hold an actor mid-message. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => {
    open = r;
  });
  return { promise, open };
}

/** Record every dead letter published on the system's bus. */
export function deadLetters(system: ActorSystem): DeadLetter[] {
  const letters: DeadLetter[] = [];
  system.events.on('deadLetter', (l) => letters.push(l));
  return letters;
}

/** Let queued microtasks and immediates run. */
export const tick = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms));
