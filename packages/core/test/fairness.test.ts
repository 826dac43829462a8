import { defineActor } from '@troupe/core';
import { describe, expect, it } from 'vitest';
import { useSystem } from './helpers/system.js';

const start = useSystem();

type HotMsg = { type: 'spin' };
/** Never idle: each message sends itself another one. */
const Hot = defineActor<HotMsg, number>({
  init: () => 0,
  receive: (n, _m, ctx) => {
    ctx.self.tell({ type: 'spin' });
    return n + 1;
  },
});

describe('fairness', () => {
  it('lets a real timer fire while a hot actor never empties its mailbox', async () => {
    const system = await start();
    const hot = system.spawn(Hot, { mailbox: { throughput: 100 } });
    hot.tell({ type: 'spin' });
    const fired = await new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 5));
    expect(fired).toBe(true);
    expect(system.metrics(hot)?.processed).toBeGreaterThan(100);
    await system.stop(hot);
  });

  it('lets another actor answer while a hot actor has a huge mailbox', async () => {
    const system = await start();
    let hotHandled = 0;
    const hot = system.spawn(
      defineActor<{ type: 'work' }, undefined>({
        init: () => undefined,
        receive: () => {
          hotHandled++;
        },
      }),
      { mailbox: { throughput: 50 } },
    );
    const other = system.spawn(
      defineActor<{ type: 'ping' }, undefined>({
        init: () => undefined,
        receive: (_s, _m, ctx) => ctx.reply(hotHandled),
      }),
    );
    await other.ask({ type: 'ping' }); // both running
    for (let i = 0; i < 200_000; i++) hot.tell({ type: 'work' });
    const seenByOther = await other.ask<number>({ type: 'ping' }, { timeoutMs: 15_000 });
    expect(seenByOther).toBeLessThan(200_000);
    const setTimeoutSaw = await new Promise<number>((r) => setTimeout(() => r(hotHandled), 0));
    expect(setTimeoutSaw).toBeLessThan(200_000);
  });

  it('handles at most `throughput` messages per turn before yielding to the event loop', async () => {
    const system = await start();
    const perTurn: number[] = [];
    let current = 0;
    let turnOpen = false;
    const a = system.spawn(
      defineActor<{ type: 'work' }, undefined>({
        init: () => undefined,
        receive: () => {
          if (!turnOpen) {
            turnOpen = true;
            current = 0;
            // An immediate queued now runs only after this turn yields.
            setImmediate(() => {
              perTurn.push(current);
              turnOpen = false;
            });
          }
          current++;
        },
      }),
      { mailbox: { throughput: 25 } },
    );
    for (let i = 0; i < 200; i++) a.tell({ type: 'work' });
    await new Promise((r) => setTimeout(r, 50));
    expect(perTurn.reduce((x, y) => x + y, 0)).toBe(200);
    expect(Math.max(...perTurn)).toBe(25);
  });
});
