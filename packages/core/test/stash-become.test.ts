import { ActorStoppedError, defineActor, type Receive, restart, StashOverflowError, stop } from '@troupe/core';
import { describe, expect, it } from 'vitest';
import { collectDeadLetters, rejectionOf, useSystem, waitFor } from './helpers/system.js';

const start = useSystem();

type Msg =
  | { type: 'open' }
  | { type: 'close' }
  | { type: 'work'; i: number }
  | { type: 'q'; i: number }
  | { type: 'boom' };

/** A door: while closed, work is stashed; opening handles the stash first, in order. */
function door(done: number[]) {
  return defineActor<Msg, { open: boolean }>({
    init: () => ({ open: false }),
    receive: (s, m, ctx) => {
      switch (m.type) {
        case 'open':
          ctx.unstashAll();
          return { open: true };
        case 'close':
          return { open: false };
        case 'boom':
          throw new Error('boom');
        default:
          if (!s.open) return ctx.stash();
          done.push(m.i);
          if (m.type === 'q') ctx.reply(m.i * 10);
      }
    },
  });
}

describe('stash and unstashAll', () => {
  it('sets messages aside and puts them back in front of the mailbox, in their order', async () => {
    const system = await start();
    const done: number[] = [];
    const d = system.spawn(door(done));
    d.tell({ type: 'work', i: 1 });
    d.tell({ type: 'work', i: 2 });
    d.tell({ type: 'open' });
    d.tell({ type: 'work', i: 3 });
    await waitFor(() => done.length === 3, 'the work');
    expect(done).toEqual([1, 2, 3]);
  });

  it('keeps the reply address of a stashed ask', async () => {
    const system = await start();
    const done: number[] = [];
    const d = system.spawn(door(done));
    const answer = d.ask({ type: 'q', i: 4 });
    await new Promise((r) => setTimeout(r, 5));
    d.tell({ type: 'open' });
    expect(await answer).toBe(40);
  });

  it('handles stashed messages first after a restart', async () => {
    const system = await start();
    const done: number[] = [];
    const d = system.spawn(door(done), { supervision: restart() });
    d.tell({ type: 'work', i: 1 });
    d.tell({ type: 'boom' });
    d.tell({ type: 'open' });
    d.tell({ type: 'work', i: 2 });
    await waitFor(() => done.length === 2, 'the work');
    expect(done).toEqual([1, 2]);
  });

  it('dead-letters stashed messages and rejects stashed asks when the actor stops', async () => {
    const system = await start();
    const dead = collectDeadLetters(system);
    const d = system.spawn(door([]));
    d.tell({ type: 'work', i: 1 });
    const q = rejectionOf(d.ask({ type: 'q', i: 2 }));
    await waitFor(() => system.metrics(d)?.processed === 2, 'stashing');
    await system.stop(d);
    expect(await q).toBeInstanceOf(ActorStoppedError);
    expect(dead.of('actor-stopped').map((l) => (l.message as { i: number }).i)).toEqual([1, 2]);
  });
});

describe('stash capacity', () => {
  it('fails the actor with StashOverflowError past 10 000 stashed messages', async () => {
    const system = await start();
    const failed: unknown[] = [];
    system.events.on('failed', (e) => failed.push(e.error));
    const d = system.spawn(door([]), { supervision: stop() });
    for (let i = 0; i < 10_001; i++) d.tell({ type: 'work', i });
    await system.whenTerminated(d);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toBeInstanceOf(StashOverflowError);
    expect((failed[0] as Error).message).toMatch(/capacity 10000/);
  });

  it('takes its capacity from the definition (stashCapacity), validated at the door', async () => {
    const system = await start();
    const failed: unknown[] = [];
    system.events.on('failed', (e) => failed.push(e.error));
    const small = defineActor({ ...door([]), stashCapacity: 3 });
    const d = system.spawn(small, { supervision: stop() });
    for (let i = 0; i < 3; i++) d.tell({ type: 'work', i });
    await new Promise((r) => setTimeout(r, 10));
    expect(failed).toHaveLength(0);
    d.tell({ type: 'work', i: 3 });
    await system.whenTerminated(d);
    expect(failed[0]).toBeInstanceOf(StashOverflowError);
    expect((failed[0] as StashOverflowError).capacity).toBe(3);
    expect(() => defineActor({ ...door([]), stashCapacity: 0 })).toThrow(
      /stashCapacity must be a positive integer, got 0/,
    );
  });
});

describe('become', () => {
  type CMsg = { type: 'flip' } | { type: 'who' } | { type: 'boom' };
  const shy: Receive<CMsg, number> = (n, m, ctx) => {
    if (m.type === 'who') ctx.reply(`shy ${n}`);
    if (m.type === 'flip') {
      ctx.become(bold);
      return n + 1;
    }
  };
  const bold: Receive<CMsg, number> = (n, m, ctx) => {
    if (m.type === 'who') ctx.reply(`BOLD ${n}`);
    if (m.type === 'flip') {
      ctx.become(shy);
      return n + 1;
    }
    if (m.type === 'boom') throw new Error('boom');
  };

  it('swaps the behaviour for the next messages, keeping the state', async () => {
    const system = await start();
    const a = system.spawn(defineActor<CMsg, number>({ init: () => 0, receive: shy }));
    expect(await a.ask({ type: 'who' })).toBe('shy 0');
    a.tell({ type: 'flip' });
    expect(await a.ask({ type: 'who' })).toBe('BOLD 1');
    a.tell({ type: 'flip' });
    expect(await a.ask({ type: 'who' })).toBe('shy 2');
  });

  it('goes back to the definition`s receive after a restart', async () => {
    const system = await start();
    const a = system.spawn(defineActor<CMsg, number>({ init: () => 0, receive: shy }), { supervision: restart() });
    a.tell({ type: 'flip' });
    expect(await a.ask({ type: 'who' })).toBe('BOLD 1');
    a.tell({ type: 'boom' });
    expect(await a.ask({ type: 'who' })).toBe('shy 0');
  });

  it('refuses something that is not a function', async () => {
    const system = await start();
    const a = system.spawn(
      defineActor<{ type: 'x' }, undefined>({
        init: () => undefined,
        receive: (_s, _m, ctx) => ctx.become(42 as never),
      }),
    );
    await expect(a.ask({ type: 'x' })).rejects.toThrow(/become in \[.*\]: expected a receive function/);
  });
});
