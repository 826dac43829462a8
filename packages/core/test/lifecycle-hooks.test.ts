import { defineActor, restart, type TerminationReason } from '@troupe/core';
import { describe, expect, it } from 'vitest';
import { gate, useSystem, waitFor } from './helpers/system.js';

const start = useSystem();

type Msg = { type: 'boom' } | { type: 'set'; v: string } | { type: 'log' };

function recorder(log: string[]) {
  return defineActor<Msg, { v: string; gen: number }>({
    init: () => {
      log.push('init');
      return { v: 'initial', gen: log.filter((l) => l === 'init').length };
    },
    afterStart: async (s, ctx) => {
      await Promise.resolve();
      log.push(`afterStart gen=${s.gen} self=${ctx.self.path}`);
    },
    receive: (s, m, ctx) => {
      if (m.type === 'boom') throw new Error(`boom in gen ${s.gen}`);
      if (m.type === 'set') return { ...s, v: m.v };
      log.push(`receive ${m.type}`);
      ctx.reply([...log]);
    },
    beforeRestart: (s, err) => {
      log.push(`beforeRestart v=${s.v} error=${(err as Error).message}`);
    },
    afterStop: async (s) => {
      await new Promise((r) => setTimeout(r, 5));
      log.push(`afterStop v=${s.v}`);
    },
  });
}

describe('lifecycle hooks', () => {
  it('runs afterStart after init and before the first message', async () => {
    const system = await start();
    const log: string[] = [];
    const a = system.spawn(recorder(log), { name: 'a' });
    expect(await a.ask({ type: 'log' })).toEqual(['init', 'afterStart gen=1 self=/user/a', 'receive log']);
  });

  it('runs beforeRestart with the old state and the error, then init and afterStart again', async () => {
    const system = await start();
    const log: string[] = [];
    const a = system.spawn(recorder(log), { name: 'a', supervision: restart() });
    a.tell({ type: 'set', v: 'before-failure' });
    a.tell({ type: 'boom' });
    expect(await a.ask({ type: 'log' })).toEqual([
      'init',
      'afterStart gen=1 self=/user/a',
      'beforeRestart v=before-failure error=boom in gen 1',
      'init',
      'afterStart gen=2 self=/user/a',
      'receive log',
    ]);
  });

  it('runs an async afterStop with the last state before the actor counts as terminated', async () => {
    const system = await start();
    const log: string[] = [];
    const a = system.spawn(recorder(log));
    a.tell({ type: 'set', v: 'last' });
    await a.ask({ type: 'log' });
    const reason: TerminationReason = await new Promise((resolve) => {
      void system.whenTerminated(a).then(resolve);
      void system.stop(a);
    });
    expect(reason).toEqual({ kind: 'stopped' });
    expect(log.at(-1)).toBe('afterStop v=last');
  });

  it('treats a throwing afterStart as a failure that supervision handles', async () => {
    const system = await start();
    let starts = 0;
    const a = system.spawn(
      defineActor<{ type: 'get' }, number>({
        init: () => 0,
        afterStart: () => {
          starts++;
          if (starts === 1) throw new Error('not ready');
        },
        receive: (_s, _m, ctx) => ctx.reply(starts),
      }),
      { supervision: restart() },
    );
    expect(await a.ask({ type: 'get' })).toBe(2);
    expect(system.metrics(a)).toMatchObject({ restarts: 1, failed: 1 });
  });

  it('still stops an actor whose afterStop throws, and logs the error', async () => {
    const errors: string[] = [];
    const logger = { debug() {}, info() {}, warn() {}, error: (m: string) => errors.push(m) };
    const system = await start({ logger });
    const a = system.spawn(
      defineActor<{ type: 'x' }, undefined>({
        init: () => undefined,
        receive: () => undefined,
        afterStop: () => {
          throw new Error('cleanup failed');
        },
      }),
      { name: 'messy' },
    );
    await waitFor(() => system.metrics(a) !== undefined, 'spawn');
    await new Promise((r) => setTimeout(r, 1));
    await system.stop(a);
    expect(a.isAlive).toBe(false);
    expect(errors.some((e) => e.includes('afterStop of /user/messy threw') && e.includes('cleanup failed'))).toBe(true);
  });

  it('does not run afterStop or beforeRestart for an actor whose init never succeeded', async () => {
    const system = await start();
    const calls: string[] = [];
    let inits = 0;
    const a = system.spawn(
      defineActor<{ type: 'get' }, number>({
        init: () => {
          inits++;
          if (inits === 1) throw new Error('first init fails');
          return inits;
        },
        receive: (s, _m, ctx) => ctx.reply(s),
        beforeRestart: () => {
          calls.push('beforeRestart');
        },
        afterStop: () => {
          calls.push('afterStop');
        },
      }),
      { supervision: restart() },
    );
    expect(await a.ask({ type: 'get' })).toBe(2);
    expect(calls).toEqual([]);
    await system.stop(a);
    expect(calls).toEqual(['afterStop']);
  });

  it('runs afterStop with the state of an async init that was still running when the actor was stopped', async () => {
    const system = await start();
    const released: string[] = [];
    const ready = gate();
    const a = system.spawn(
      defineActor<{ type: 'x' }, { conn: string }>({
        init: async () => {
          await ready.promise;
          return { conn: 'connection-1' };
        },
        receive: () => undefined,
        afterStart: () => {
          released.push('afterStart must not run');
        },
        afterStop: (s) => {
          released.push(`released ${s.conn}`);
        },
      }),
    );
    await new Promise((r) => setTimeout(r, 5));
    const stopped = system.stop(a);
    ready.open();
    await stopped;
    expect(released).toEqual(['released connection-1']);
  });
});
