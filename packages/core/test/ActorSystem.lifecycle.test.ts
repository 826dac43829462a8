import {
  ActorSystem,
  defineActor,
  IllegalTransitionError,
  ShuttingDownError,
  SystemAlreadyStartedError,
  SystemLifecycle,
  silentLogger,
} from '@troupe/core';
import { afterEach, describe, expect, it } from 'vitest';

let system: ActorSystem | undefined;
afterEach(async () => {
  await system?.shutdown();
  system = undefined;
});

const start = (name = 'lifecycle', extra: Partial<Parameters<typeof ActorSystem.start>[0]> = {}) =>
  ActorSystem.start({ name, signals: false, logger: silentLogger, ...extra });

describe('ActorSystem.start', () => {
  it('refuses a second system while one is running, naming the first and where it was started', async () => {
    system = await start('first');
    const err = await start('second').catch((e) => e);
    expect(err).toBeInstanceOf(SystemAlreadyStartedError);
    expect(err.message).toContain('[first]');
    expect(err.message).toContain('ActorSystem.lifecycle.test.ts');
    expect(err.startedAt).toBe(system.startedAt);
  });

  it('lets exactly one of two concurrent starts win', async () => {
    const results = await Promise.allSettled([start('a'), start('b')]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect((lost[0] as PromiseRejectedResult).reason).toBeInstanceOf(SystemAlreadyStartedError);
    system = (won[0] as PromiseFulfilledResult<ActorSystem>).value;
  });

  it('allows a new system once the previous one has shut down', async () => {
    const first = await start('first');
    await first.shutdown();
    system = await start('second');
    expect(system.state).toBe('running');
  });

  it('runs init exactly once before running, and a failing init fails start and frees the slot', async () => {
    let calls = 0;
    system = await start('init', {
      init: (s) => {
        calls++;
        expect(s.state).toBe('starting');
      },
    });
    expect(calls).toBe(1);
    await system.shutdown();
    system = undefined;
    await expect(
      start('bad-init', {
        init: () => {
          throw new Error('config missing');
        },
      }),
    ).rejects.toThrow('config missing');
    system = await start('after-bad-init');
    expect(system.state).toBe('running');
  });

  it('validates options at the door', async () => {
    await expect(ActorSystem.start({ name: '' })).rejects.toThrow(/name must be a non-empty string/);
    await expect(start('x', { askTimeoutMs: -1 })).rejects.toThrow(
      /askTimeoutMs must be a positive finite number, got -1/,
    );
    await expect(start('x', { phaseTimeoutsMs: { drain: 0 } })).rejects.toThrow(/phaseTimeoutsMs.drain/);
  });
});

describe('system lifecycle statechart', () => {
  it('moves running → stopping through each phase → stopped, visible to subscribers and events', async () => {
    system = await start();
    const seen: string[] = [];
    const events: string[] = [];
    system.onLifecycle((s) => seen.push(s));
    system.events.on('lifecycle', (e) => events.push(e.state));
    await system.shutdown();
    const expected = ['stopping.stopIntake', 'stopping.drain', 'stopping.stopActors', 'stopping.beforeExit', 'stopped'];
    expect(seen).toEqual(expected);
    expect(events).toEqual(expected);
    expect(system.state).toBe('stopped');
  });

  it('throws IllegalTransitionError on a transition the chart forbids', () => {
    const lifecycle = new SystemLifecycle();
    expect(() => lifecycle.send('DONE')).toThrow(IllegalTransitionError);
    lifecycle.send('STARTED');
    expect(() => lifecycle.send('STARTED')).toThrow(/event \[STARTED\] in state \[running\]/);
    lifecycle.send('SHUTDOWN');
    expect(lifecycle.state).toBe('stopping.stopIntake');
    expect(() => lifecycle.send('DONE')).toThrow(IllegalTransitionError);
  });
});

describe('coordinated shutdown', () => {
  it('is idempotent: concurrent and repeated calls get the same report', async () => {
    system = await start();
    const [a, b] = await Promise.all([system.shutdown(), system.shutdown()]);
    expect(a).toBe(b);
    expect(await system.shutdown()).toBe(a);
    expect(await system.whenShutdown).toBe(a);
  });

  it('removes its signal listeners when it ends', async () => {
    const before = process.listenerCount('SIGTERM');
    system = await start('signals', { signals: ['SIGTERM'], keepAlive: false, exitOnSignal: false });
    expect(process.listenerCount('SIGTERM')).toBe(before + 1);
    await system.shutdown();
    expect(process.listenerCount('SIGTERM')).toBe(before);
  });

  it('refuses new tells and asks from outside once intake is closed, and settles every pending ask', async () => {
    system = await start('load', { phaseTimeoutsMs: { drain: 200, 'stop-actors': 2_000 } });
    type Msg = { type: 'work' } | { type: 'never' };
    const Worker = defineActor<Msg, number>({
      init: () => 0,
      receive: (n, m) => (m.type === 'work' ? n + 1 : undefined), // 'never' is never answered
    });
    const w = system.spawn(Worker, { name: 'w' });
    const hanging = w.ask({ type: 'never' }, { timeoutMs: 60_000 });
    const during: Promise<unknown>[] = [];
    system.onShutdown('stop-intake', 'probe', async () => {
      // After an await the hook's sends are no longer the system's own: new intake, refused.
      await new Promise((r) => setTimeout(r, 1));
      w.tell({ type: 'work' });
      during.push(w.ask({ type: 'work' }));
    });
    const report = await system.shutdown();
    await expect(hanging).rejects.toBeInstanceOf(ShuttingDownError);
    await expect(during[0]).rejects.toBeInstanceOf(ShuttingDownError);
    expect(report.pendingAsksRejected).toBe(1);
    expect(report.rejected).toBe(2);
    expect(report.deadLettersByReason['shutting-down']).toBe(1);
    expect(system.outstandingAsks).toBe(0);
  });

  it('stops top-level actors in reverse start order, children before parents', async () => {
    system = await start();
    const order: string[] = [];
    const Leaf = defineActor<{ type: 'x' }, undefined>({
      init: () => undefined,
      receive: () => undefined,
      afterStop: (_s, ctx) => {
        order.push(ctx.self.path);
      },
    });
    const Parent = defineActor<{ type: 'x' }, undefined>({
      init: (ctx) => {
        ctx.spawn(Leaf, { name: 'c1' });
        ctx.spawn(Leaf, { name: 'c2' });
        return undefined;
      },
      receive: () => undefined,
      afterStop: (_s, ctx) => {
        order.push(ctx.self.path);
      },
    });
    const a = system.spawn(Parent, { name: 'a' });
    system.spawn(Leaf, { name: 'b' });
    // let init of a spawn its children
    await a.ask({ type: 'x' }, { timeoutMs: 50 }).catch(() => {});
    await system.shutdown();
    expect(order).toEqual(['/user/b', '/user/a/c2', '/user/a/c1', '/user/a']);
  });

  it('runs hooks in phase order and reports each phase', async () => {
    system = await start();
    const ran: string[] = [];
    for (const phase of ['before-exit', 'drain', 'stop-intake', 'stop-actors'] as const) {
      system.onShutdown(phase, `h-${phase}`, async () => {
        await new Promise((r) => setTimeout(r, 5));
        ran.push(phase);
      });
    }
    const report = await system.shutdown();
    expect(ran).toEqual(['stop-intake', 'drain', 'stop-actors', 'before-exit']);
    expect(report.phases.map((p) => p.phase)).toEqual(ran);
    expect(report.exitCode).toBe(0);
  });

  it('drains in-flight work before stopping actors', async () => {
    system = await start();
    let handled = 0;
    const Slow = defineActor<{ type: 'job' }, undefined>({
      init: () => undefined,
      receive: async () => {
        await new Promise((r) => setTimeout(r, 2));
        handled++;
      },
    });
    const s = system.spawn(Slow, { name: 'slow' });
    for (let i = 0; i < 50; i++) s.tell({ type: 'job' });
    const report = await system.shutdown();
    expect(handled).toBe(50);
    expect(report.processed).toBe(50);
    expect(report.deadLettered).toBe(0);
  });
});

describe('ActorSystem.select', () => {
  it('does not hand out the guardians: their paths select a dead ref', async () => {
    system = await start();
    for (const path of ['/user', '/system', '/', '/user/']) {
      const ref = system.select(path);
      expect(ref.isAlive).toBe(false);
      await expect(ref.ask({ type: 'x' })).rejects.toMatchObject({ name: 'ActorNotFoundError' });
    }
    // The tree still works: nothing was stopped.
    const Echo = defineActor<{ type: 'ping' }, undefined>({
      init: () => undefined,
      receive: (_s, _m, ctx) => ctx.reply('pong'),
    });
    await system.stop(system.select('/user'));
    const e = system.spawn(Echo, { name: 'echo' });
    expect(await e.ask({ type: 'ping' })).toBe('pong');
    expect(system.select('/user/echo')).toBe(e);
  });
});

describe('shutdown hooks', () => {
  it('let a hook tell an actor even though intake is closed', async () => {
    system = await start();
    const got: string[] = [];
    const Sink = defineActor<{ type: 'bye' }, undefined>({
      init: () => undefined,
      receive: (_s, m) => void got.push(m.type),
    });
    const sink = system.spawn(Sink, { name: 'sink' });
    system.onShutdown('stop-intake', 'farewell', () => sink.tell({ type: 'bye' }));
    const report = await system.shutdown();
    expect(got).toEqual(['bye']);
    expect(report.rejected).toBe(0);
  });
});
