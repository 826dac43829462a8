import { createHook } from 'node:async_hooks';
import { type Clock, systemClock } from '@troupe/core';
import { describe, expect, it } from 'vitest';
import { AskRecord, AskRegistry } from '../../src/internal/Asks.js';

/** The real clock, counting how often an ask timer is ref'd and unref'd. */
function countingClock(): Clock & { refs: number; unrefs: number } {
  const clock = {
    refs: 0,
    unrefs: 0,
    now: systemClock.now,
    setTimeout: systemClock.setTimeout,
    clearTimeout: systemClock.clearTimeout,
    unref: (handle: unknown) => {
      clock.unrefs++;
      systemClock.unref?.(handle);
    },
    ref: (handle: unknown) => {
      clock.refs++;
      systemClock.ref?.(handle);
    },
  };
  return clock;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function ask(registry: AskRegistry): AskRecord {
  const made = registry.create('/user/a', 'get', 60_000, undefined);
  if (!(made instanceof AskRecord)) throw new Error('expected a record');
  return made;
}

describe('ask timeouts', () => {
  it('schedules no event-loop callback per ask while asks come and go across turns', async () => {
    const clock = countingClock();
    const registry = new AskRegistry(clock);
    // Timers and immediates created while an ask settles (each one an extra event-loop pass).
    let counting = false;
    let scheduled = 0;
    const hook = createHook({
      init: (_id, type) => {
        if (counting && (type === 'Immediate' || type === 'Timeout')) scheduled++;
      },
    }).enable();
    try {
      // Each ask spans an event-loop turn, as an ask to a worker thread does.
      for (let i = 0; i < 200; i++) {
        const record = ask(registry);
        await new Promise<void>((resolve) => setImmediate(resolve));
        counting = true;
        record.resolve(i);
        counting = false;
        await record.promise;
      }
    } finally {
      hook.disable();
    }
    // At most one check per period (a few during this loop), not one per ask.
    expect(scheduled).toBeLessThan(20);
    expect(clock.unrefs).toBeLessThan(20);
    registry.dispose();
  });

  it('unrefs the timer of a queue that stays empty, so an idle system does not hold the process open', async () => {
    const clock = countingClock();
    const registry = new AskRegistry(clock);
    const record = ask(registry);
    record.resolve(1);
    await record.promise;
    expect(clock.unrefs).toBe(0);
    await sleep(500);
    expect(clock.unrefs).toBe(1);
    // The next ask makes the timer hold the process again: it must fire if no reply comes.
    const next = ask(registry);
    expect(clock.refs).toBe(1);
    next.resolve(2);
    registry.dispose();
  });

  it('still times out an ask made after the timer was unref’d', async () => {
    const registry = new AskRegistry(systemClock);
    const first = registry.create('/user/a', 'get', 50, undefined) as AskRecord;
    first.resolve(1);
    await sleep(200);
    const second = registry.create('/user/a', 'slow', 50, undefined) as AskRecord;
    await expect(second.promise).rejects.toMatchObject({ name: 'AskTimeoutError' });
    registry.dispose();
  });

  it('reads the clock once per turn, not once per ask, and times an ask from the end of the turn it was made in', async () => {
    let reads = 0;
    const clock: Clock = {
      ...systemClock,
      now: () => {
        reads++;
        return systemClock.now();
      },
    };
    const registry = new AskRegistry(clock);
    const t0 = performance.now();
    const records = Array.from({ length: 1000 }, () => registry.create('/user/a', 'get', 40, undefined) as AskRecord);
    // The rest of the turn takes 30 ms: the asks' 40 ms count from its end, so none fires before 70 ms.
    while (performance.now() - t0 < 30);
    const turnEnded = performance.now();
    expect(reads).toBe(0);
    const rejected = records.map((r) =>
      r.promise.then(
        () => Number.NaN,
        () => performance.now(),
      ),
    );
    const at = await Promise.all(rejected);
    // One read stamps the turn's asks and one arms the timer; each firing reads once (and re-arms,
    // reading again, when Node's timer fired before the deadline, its start being the loop's cached time).
    expect(reads).toBeLessThan(10);
    for (const t of at) expect(t).toBeGreaterThanOrEqual(turnEnded + 40);
    registry.dispose();
  });

  it('never times an ask out early, whichever turn it was made in', async () => {
    const registry = new AskRegistry(systemClock);
    const made: number[] = [];
    const fired: Promise<number>[] = [];
    for (let i = 0; i < 5; i++) {
      made.push(performance.now());
      const r = registry.create('/user/a', 'get', 30, undefined) as AskRecord;
      fired.push(
        r.promise.then(
          () => Number.NaN,
          () => performance.now(),
        ),
      );
      await sleep(7);
    }
    const at = await Promise.all(fired);
    for (const [i, t] of at.entries()) expect(t - (made[i] as number)).toBeGreaterThanOrEqual(30);
    // In the order made: each one its own turn's deadline, not one shared.
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    expect((at[4] as number) - (at[0] as number)).toBeGreaterThan(20);
    registry.dispose();
  });

  it('leaves no immediate or timer behind once disposed with a stamp still pending', async () => {
    const handles = () => process.getActiveResourcesInfo().filter((x) => x === 'Immediate' || x === 'Timeout');
    const before = handles();
    const registry = new AskRegistry(systemClock);
    const r = registry.create('/user/a', 'get', 60_000, undefined) as AskRecord;
    r.resolve(1);
    expect(handles()).toEqual([...before, 'Immediate']);
    registry.dispose();
    expect(handles()).toEqual(before);
  });
});
