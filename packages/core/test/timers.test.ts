import { type ActorRef, type ActorSystem, defineActor, restart } from '@troupe/core';
import { TestClock } from '@troupe/core/testing';
import { describe, expect, it } from 'vitest';
import { gate, useSystem, waitFor } from './helpers/system.js';

const start = useSystem();

type Msg =
  | { type: 'once'; key: string; ms: number }
  | { type: 'every'; key: string; ms: number }
  | { type: 'cancel'; key: string }
  | { type: 'active'; key: string }
  | { type: 'tick'; key: string }
  | { type: 'boom' };

function ticker(ticks: string[]) {
  return defineActor<Msg, undefined>({
    init: () => undefined,
    receive: (_s, m, ctx) => {
      switch (m.type) {
        case 'once':
          ctx.timers.once(m.key, m.ms, { type: 'tick', key: m.key });
          return ctx.reply('ok');
        case 'every':
          ctx.timers.interval(m.key, m.ms, { type: 'tick', key: m.key });
          return ctx.reply('ok');
        case 'cancel':
          ctx.timers.cancel(m.key);
          return ctx.reply('ok');
        case 'active':
          return ctx.reply(ctx.timers.isActive(m.key));
        case 'tick':
          ticks.push(m.key);
          return;
        case 'boom':
          throw new Error('boom');
      }
    },
  });
}

async function setup(extra: { clock: TestClock }) {
  const system = await start(extra);
  const ticks: string[] = [];
  const t = system.spawn(ticker(ticks), { name: 't', supervision: restart() });
  return { system, ticks, t };
}

describe('timers', () => {
  it('delivers a once timer to self after its delay, not before', async () => {
    const clock = new TestClock();
    const { ticks, t } = await setup({ clock });
    await t.ask({ type: 'once', key: 'a', ms: 100 });
    expect(await t.ask({ type: 'active', key: 'a' })).toBe(true);
    await clock.tick(99);
    expect(ticks).toEqual([]);
    await clock.tick(1);
    expect(ticks).toEqual(['a']);
    await clock.tick(1_000);
    expect(ticks).toEqual(['a']);
    expect(await t.ask({ type: 'active', key: 'a' })).toBe(false);
  });

  it('repeats an interval timer until it is cancelled', async () => {
    const clock = new TestClock();
    const { ticks, t } = await setup({ clock });
    await t.ask({ type: 'every', key: 'i', ms: 10 });
    await clock.tick(35);
    expect(ticks).toEqual(['i', 'i', 'i']);
    await t.ask({ type: 'cancel', key: 'i' });
    await clock.tick(100);
    expect(ticks).toEqual(['i', 'i', 'i']);
    expect(clock.pendingTimers).toBe(0);
  });

  it('replaces a timer started again with the same key', async () => {
    const clock = new TestClock();
    const { ticks, t } = await setup({ clock });
    await t.ask({ type: 'once', key: 'k', ms: 10 });
    await clock.tick(5);
    await t.ask({ type: 'once', key: 'k', ms: 10 });
    await clock.tick(9);
    expect(ticks).toEqual([]);
    await clock.tick(1);
    expect(ticks).toEqual(['k']);
  });

  it('cancels every timer when the actor stops', async () => {
    const clock = new TestClock();
    const { system, ticks, t } = await setup({ clock });
    await t.ask({ type: 'once', key: 'a', ms: 100 });
    await t.ask({ type: 'every', key: 'b', ms: 10 });
    expect(clock.pendingTimers).toBe(2);
    await system.stop(t);
    expect(clock.pendingTimers).toBe(0);
    await clock.tick(1_000);
    expect(ticks).toEqual([]);
    expect(system.deadLetters.total).toBe(0);
  });

  it('cancels every timer when the actor restarts', async () => {
    const clock = new TestClock();
    const { system, ticks, t } = await setup({ clock });
    await t.ask({ type: 'every', key: 'b', ms: 10 });
    t.tell({ type: 'boom' });
    expect(await t.ask({ type: 'active', key: 'b' })).toBe(false);
    expect(system.metrics(t)?.restarts).toBe(1);
    expect(clock.pendingTimers).toBe(0);
    await clock.tick(100);
    expect(ticks).toEqual([]);
  });

  it('cancels a timer that an in-flight async handler starts while a one-for-all restart waits for it', async () => {
    const clock = new TestClock();
    const system = await start({ clock });
    const ticks: string[] = [];
    const hold = gate();
    type SMsg = { type: 'slow' } | { type: 'tick' } | { type: 'boom' } | { type: 'ping' };
    const Sibling = defineActor<SMsg, undefined>({
      init: () => undefined,
      receive: async (_s, m, ctx) => {
        if (m.type === 'slow') {
          await hold.promise;
          ctx.timers.once('stale', 50, { type: 'tick' });
        } else if (m.type === 'tick') ticks.push('stale tick');
        else if (m.type === 'boom') throw new Error('boom');
        else ctx.reply('pong');
      },
    });
    const kids = gate<[ActorRef<SMsg>, ActorRef<SMsg>]>();
    system.spawn(
      defineActor<{ type: 'x' }, undefined>({
        init: (ctx) => {
          kids.open([ctx.spawn(Sibling, { name: 'busy' }), ctx.spawn(Sibling, { name: 'failing' })]);
        },
        receive: () => undefined,
        childSupervision: restart().withScope('one-for-all'),
      }),
      { name: 'p' },
    );
    const [busy, failing] = await kids.promise;
    busy.tell({ type: 'slow' });
    await waitFor(() => system.loadOf(busy) === 1, 'busy to be in flight');
    failing.tell({ type: 'boom' });
    await waitFor(() => system.metrics(failing)?.failed === 1, 'failing to fail');
    await new Promise((r) => setImmediate(r));
    // busy is restarting (OTP order: the whole group is terminated before any
    // of it starts again), waiting for its in-flight message, which now starts a timer.
    hold.open();
    expect(await busy.ask({ type: 'ping' })).toBe('pong');
    expect(await failing.ask({ type: 'ping' })).toBe('pong');
    expect(system.metrics(busy)?.restarts).toBe(1);
    await clock.tick(100);
    expect(ticks).toEqual([]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('refuses a negative or infinite delay and a zero interval', async () => {
    const clock = new TestClock();
    const { t } = await setup({ clock });
    await expect(t.ask({ type: 'once', key: 'x', ms: -1 })).rejects.toThrow(
      /delay must be a non-negative finite number/,
    );
    await expect(t.ask({ type: 'every', key: 'x', ms: 0 })).rejects.toThrow(/interval must be positive/);
  });
});

describe('stopping a parent leaves nothing behind', () => {
  type PMsg = { type: 'ready' };
  function tree(system: ActorSystem, log: string[]) {
    const Leaf = defineActor<PMsg, undefined, string>({
      init: (ctx) => {
        ctx.timers.interval('heartbeat', 50, { type: 'ready' });
        ctx.timers.once('later', 10_000, { type: 'ready' });
      },
      receive: (_s, _m, ctx) => ctx.reply(true),
      afterStop: (_s, ctx) => {
        log.push(`stop ${ctx.input}`);
      },
    });
    const Parent = defineActor<PMsg, undefined>({
      init: (ctx) => {
        ctx.timers.interval('poll', 20, { type: 'ready' });
        const a = ctx.spawn(Leaf, { name: 'a', input: 'a' });
        a.tell({ type: 'ready' });
        ctx.spawn(
          defineActor<PMsg, undefined>({
            init: (c) => {
              c.spawn(Leaf, { name: 'grandchild', input: 'grandchild' });
            },
            receive: () => undefined,
            afterStop: () => {
              log.push('stop b');
            },
          }),
          { name: 'b' },
        );
      },
      receive: () => undefined,
      afterStop: () => {
        log.push('stop parent');
      },
    });
    return system.spawn(Parent, { name: 'parent' });
  }

  it('stops children first and leaves no timer pending (TestClock.pendingTimers === 0)', async () => {
    const clock = new TestClock();
    const system = await start({ clock });
    const log: string[] = [];
    const p = tree(system, log);
    await waitFor(() => system.allMetrics().length === 4, 'the whole tree');
    await clock.tick(100);
    expect(clock.pendingTimers).toBeGreaterThanOrEqual(5);
    await system.stop(p);
    expect(log).toEqual(['stop grandchild', 'stop b', 'stop a', 'stop parent']);
    expect(clock.pendingTimers).toBe(0);
    expect(system.allMetrics()).toEqual([]);
  });

  it('leaves no timer pending after the system shuts down with timers and asks in flight', async () => {
    const clock = new TestClock();
    const system = await start({ clock });
    const log: string[] = [];
    tree(system, log);
    await waitFor(() => system.allMetrics().length === 4, 'the whole tree');
    const never = system.spawn(defineActor<PMsg, undefined>({ init: () => undefined, receive: () => undefined }));
    const pending = never.ask({ type: 'ready' }, { timeoutMs: 60_000 }).catch((e) => e);
    await clock.tick(100);
    const report = await system.shutdown();
    expect(report.pendingAsksRejected).toBe(1);
    expect(await pending).toMatchObject({ name: 'ShuttingDownError' });
    expect(log).toContain('stop parent');
    await new Promise((r) => setTimeout(r, 10));
    expect(clock.pendingTimers).toBe(0);
    expect(system.outstandingAsks).toBe(0);
  });

  it('leaves no timer pending when a parent stops while its child waits out a restart backoff', async () => {
    const clock = new TestClock();
    const system = await start({ clock });
    const restarted: string[] = [];
    system.events.on('restarted', (e) => restarted.push(e.path));
    const Flaky = defineActor<PMsg, undefined>({
      init: () => undefined,
      receive: () => {
        throw new Error('flaky');
      },
    });
    const kid = gate<ActorRef<PMsg>>();
    const p = system.spawn(
      defineActor<PMsg, undefined>({
        init: (ctx) => {
          kid.open(
            ctx.spawn(Flaky, {
              name: 'flaky',
              supervision: restart().withBackoff({ minMs: 5_000, maxMs: 5_000, jitter: 0 }),
            }),
          );
        },
        receive: () => undefined,
      }),
    );
    const flaky = await kid.promise;
    flaky.tell({ type: 'ready' });
    await waitFor(() => clock.pendingTimers === 1, 'the backoff timer');
    await system.stop(p);
    expect(flaky.isAlive).toBe(false);
    expect(clock.pendingTimers).toBe(0);
    await clock.tick(10_000);
    expect(restarted).toEqual([]);
  });
});
