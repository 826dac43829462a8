import { ActorSystem, type ActorSystemOptions, silentLogger } from '@troupe/core';
import { afterEach, expect } from 'vitest';

/**
 * One actor system per test (one per process is the rule): `start()` starts
 * it, an `afterEach` shuts it down. The same pattern as core's test helper.
 */
export function useSystem(): (options?: Partial<ActorSystemOptions>) => Promise<ActorSystem> {
  let current: ActorSystem | undefined;
  afterEach(async () => {
    const system = current;
    current = undefined;
    await system?.shutdown();
  });
  return async (options = {}) => {
    if (current !== undefined) throw new Error('useSystem: one system per test');
    const name = options.name ?? (expect.getState().currentTestName ?? 'test').slice(0, 60);
    current = await ActorSystem.start({ signals: false, logger: silentLogger, ...options, name });
    return current;
  };
}

/** Poll `check` in real time until it returns true; fail naming `what` after `ms`. */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
