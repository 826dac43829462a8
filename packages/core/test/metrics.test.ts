import { defineActor, resume } from '@troupe/core';
import { describe, expect, it } from 'vitest';
import { gate, useSystem, waitFor } from './helpers/system.js';

const start = useSystem();

type Msg = { type: 'work' } | { type: 'slow' } | { type: 'boom' } | { type: 'done' };

describe('metrics', () => {
  it('counts processed and failed messages and restarts', async () => {
    const system = await start();
    const a = system.spawn(
      defineActor<Msg, undefined>({
        init: () => undefined,
        receive: (_s, m, ctx) => {
          if (m.type === 'boom') throw new Error('boom');
          if (m.type === 'done') ctx.reply(true);
        },
      }),
      { name: 'm' },
    );
    for (let i = 0; i < 10; i++) a.tell({ type: 'work' });
    a.tell({ type: 'boom' });
    a.tell({ type: 'boom' });
    await a.ask({ type: 'done' });
    const m = system.metrics(a);
    expect(m).toMatchObject({ path: '/user/m', id: a.id, processed: 11, failed: 2, restarts: 2, mailboxDepth: 0 });
  });

  it('reports the mailbox depth and its high-water mark', async () => {
    const system = await start();
    const ready = gate();
    const a = system.spawn(
      defineActor<Msg, undefined>({
        init: () => ready.promise.then(() => undefined),
        receive: (_s, m, ctx) => {
          if (m.type === 'done') ctx.reply(true);
        },
      }),
    );
    for (let i = 0; i < 25; i++) a.tell({ type: 'work' });
    expect(system.metrics(a)).toMatchObject({ mailboxDepth: 25, mailboxHighWater: 25, processed: 0 });
    const done = a.ask({ type: 'done' }); // queued behind the 25, still before init ends
    ready.open();
    await done;
    expect(system.metrics(a)).toMatchObject({ mailboxDepth: 0, mailboxHighWater: 26, processed: 26 });
  });

  it('samples handling time (mean, p50 and p99) from the messages handled', async () => {
    const system = await start();
    const a = system.spawn(
      defineActor<Msg, undefined>({
        init: () => undefined,
        receive: async (_s, m, ctx) => {
          if (m.type === 'slow') await new Promise((r) => setTimeout(r, 3));
          if (m.type === 'done') ctx.reply(true);
        },
      }),
    );
    for (let i = 0; i < 64; i++) a.tell({ type: 'slow' });
    await a.ask({ type: 'done' }, { timeoutMs: 15_000 });
    const { handlingMs } = system.metrics(a) ?? { handlingMs: { mean: 0, p50: 0, p99: 0, samples: 0 } };
    expect(handlingMs.samples).toBeGreaterThanOrEqual(4);
    // Each sampled message waited on a 3 ms timer (timers may fire a hair early).
    expect(handlingMs.mean).toBeGreaterThanOrEqual(2);
    expect(handlingMs.p99).toBeGreaterThanOrEqual(handlingMs.mean);
    expect(handlingMs.p50).toBeGreaterThanOrEqual(2);
    expect(handlingMs.p50).toBeLessThanOrEqual(handlingMs.p99);
  });

  it('lists every live actor under /user, depth first', async () => {
    const system = await start();
    const Leaf = defineActor<Msg, undefined>({ init: () => undefined, receive: () => undefined });
    system.spawn(
      defineActor<Msg, undefined>({
        init: (ctx) => {
          ctx.spawn(Leaf, { name: 'x' });
        },
        receive: () => undefined,
      }),
      { name: 'a' },
    );
    system.spawn(Leaf, { name: 'b' });
    await waitFor(() => system.allMetrics().length === 3, 'three actors');
    expect(system.allMetrics().map((m) => m.path)).toEqual(['/user/a', '/user/a/x', '/user/b']);
  });

  it('keeps the failure count across resumes', async () => {
    const system = await start();
    const a = system.spawn(
      defineActor<Msg, undefined>({
        init: () => undefined,
        receive: (_s, m, ctx) => {
          if (m.type === 'boom') throw new Error('boom');
          if (m.type === 'done') ctx.reply(true);
        },
      }),
      { supervision: resume() },
    );
    a.tell({ type: 'boom' });
    a.tell({ type: 'boom' });
    a.tell({ type: 'boom' });
    await a.ask({ type: 'done' });
    expect(system.metrics(a)).toMatchObject({ processed: 1, failed: 3, restarts: 0 });
  });
});
