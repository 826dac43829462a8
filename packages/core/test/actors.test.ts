import { ActorNameTakenError, type ActorRef, defineActor } from '@troupe/core';
import { describe, expect, it } from 'vitest';
import { gate, useSystem, waitFor } from './helpers/system.js';

const start = useSystem();

type CounterMsg = { type: 'inc'; by?: number } | { type: 'get' };
const Counter = defineActor<CounterMsg, { n: number }>({
  init: () => ({ n: 0 }),
  receive: (state, msg, ctx) => {
    if (msg.type === 'inc') return { n: state.n + (msg.by ?? 1) };
    ctx.reply(state.n);
  },
});

describe('defining and spawning actors', () => {
  it('handles a typed protocol with private state that only messages can change', async () => {
    const system = await start();
    const counter = system.spawn(Counter, { name: 'counter' });
    counter.tell({ type: 'inc' });
    counter.tell({ type: 'inc', by: 41 });
    expect(await counter.ask<number>({ type: 'get' }, { timeoutMs: 5_000 })).toBe(42);
  });

  it('keeps the state when receive returns nothing', async () => {
    const system = await start();
    const a = system.spawn(
      defineActor<{ type: 'noop' } | { type: 'get' }, string>({
        init: () => 'kept',
        receive: (s, m, ctx) => {
          if (m.type === 'get') ctx.reply(s);
        },
      }),
    );
    a.tell({ type: 'noop' });
    expect(await a.ask({ type: 'get' })).toBe('kept');
  });

  it('waits for an async init before handling the first message, which is queued meanwhile', async () => {
    const system = await start();
    const ready = gate<number>();
    const a = system.spawn(
      defineActor<{ type: 'get' }, number>({
        init: () => ready.promise,
        receive: (s, _m, ctx) => ctx.reply(s),
      }),
    );
    const answer = a.ask<number>({ type: 'get' }, { timeoutMs: 10_000 });
    let settled = false;
    void answer.then(() => {
      settled = true;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(settled).toBe(false);
    expect(system.metrics(a)?.mailboxDepth).toBe(1);
    ready.open(7);
    expect(await answer).toBe(7);
  });

  it('gives init its input and a context with self and parent', async () => {
    const system = await start();
    let seen: { input: unknown; self: string; parent: string } | undefined;
    const a = system.spawn(
      defineActor<{ type: 'x' }, undefined, { port: number }>({
        init: (ctx) => {
          seen = { input: ctx.input, self: ctx.self.path, parent: ctx.parent.path };
        },
        receive: () => undefined,
      }),
      { name: 'svc', input: { port: 8080 } },
    );
    await waitFor(() => seen !== undefined, 'init');
    expect(seen).toEqual({ input: { port: 8080 }, self: a.path, parent: '/user' });
  });

  it('uses the state returned by an async receive for the next message', async () => {
    const system = await start();
    const a = system.spawn(
      defineActor<{ type: 'add'; n: number } | { type: 'get' }, number>({
        init: () => 0,
        receive: async (s, m, ctx) => {
          await new Promise((r) => setTimeout(r, 1));
          if (m.type === 'add') return s + m.n;
          ctx.reply(s);
        },
      }),
    );
    for (let i = 1; i <= 10; i++) a.tell({ type: 'add', n: i });
    expect(await a.ask({ type: 'get' }, { timeoutMs: 10_000 })).toBe(55);
  });

  it('handles one message at a time even when receive is async', async () => {
    const system = await start();
    let inFlight = 0;
    let maxInFlight = 0;
    const order: number[] = [];
    const a = system.spawn(
      defineActor<{ type: 'work'; i: number } | { type: 'done' }, undefined>({
        init: () => undefined,
        receive: async (_s, m, ctx) => {
          if (m.type === 'done') return ctx.reply(true);
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          await new Promise((r) => setTimeout(r, m.i % 3));
          await Promise.resolve();
          order.push(m.i);
          inFlight--;
        },
      }),
      { mailbox: { throughput: 1 } },
    );
    for (let i = 0; i < 30; i++) a.tell({ type: 'work', i });
    await a.ask({ type: 'done' }, { timeoutMs: 10_000 });
    expect(maxInFlight).toBe(1);
    expect(order).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });
});

describe('names, paths and ids', () => {
  it('builds paths from the root, like /user/a/b', async () => {
    const system = await start();
    const paths = gate<string[]>();
    const Leaf = defineActor<{ type: 'x' }, undefined>({ init: () => undefined, receive: () => undefined });
    const Mid = defineActor<{ type: 'x' }, undefined>({
      init: (ctx) => {
        const b = ctx.spawn(Leaf, { name: 'b' });
        paths.open([ctx.self.path, b.path, ctx.child('b')?.path ?? '']);
      },
      receive: () => undefined,
    });
    const a = system.spawn(Mid, { name: 'a' });
    expect(a.path).toBe('/user/a');
    expect(a.name).toBe('a');
    expect(await paths.promise).toEqual(['/user/a', '/user/a/b', '/user/a/b']);
    expect(system.select('/user/a/b').path).toBe('/user/a/b');
    expect(system.select('/user/a/b').isAlive).toBe(true);
  });

  it('refuses a second child with a name its sibling already has, naming the path', async () => {
    const system = await start();
    system.spawn(Counter, { name: 'dup' });
    expect(() => system.spawn(Counter, { name: 'dup' })).toThrow(ActorNameTakenError);
    expect(() => system.spawn(Counter, { name: 'dup' })).toThrow('/user/dup');
  });

  it('allows the same name under different parents', async () => {
    const system = await start();
    const made = gate<string>();
    system.spawn(
      defineActor<{ type: 'x' }, undefined>({
        init: (ctx) => made.open(ctx.spawn(Counter, { name: 'dup' }).path),
        receive: () => undefined,
      }),
      { name: 'p' },
    );
    system.spawn(Counter, { name: 'dup' });
    expect(await made.promise).toBe('/user/p/dup');
  });

  it('names anonymous actors uniquely with a $ prefix', async () => {
    const system = await start();
    const refs = Array.from({ length: 20 }, () => system.spawn(Counter));
    const names = new Set(refs.map((r) => r.name));
    expect(names.size).toBe(20);
    for (const n of names) expect(n.startsWith('$')).toBe(true);
  });

  it('validates names at the door', async () => {
    const system = await start();
    expect(() => system.spawn(Counter, { name: 'a/b' })).toThrow(TypeError);
    expect(() => system.spawn(Counter, { name: '' })).toThrow(TypeError);
    expect(() => system.spawn(Counter, { name: '$x' })).toThrow(TypeError);
  });

  it('gives every actor a unique nanoid id, also for a new actor reusing a stopped one`s name', async () => {
    const system = await start();
    const a = system.spawn(Counter, { name: 'same' });
    const id1 = a.id;
    await system.stop(a);
    const b = system.spawn(Counter, { name: 'same' });
    expect(id1).toMatch(/^[A-Za-z0-9_-]{21}$/);
    expect(b.id).toMatch(/^[A-Za-z0-9_-]{21}$/);
    expect(b.id).not.toBe(id1);
    expect(b.path).toBe(a.path);
    expect(a.isAlive).toBe(false);
    expect(b.isAlive).toBe(true);
  });

  it('rejects a definition without init or receive', () => {
    expect(() => defineActor({ receive: () => undefined } as never)).toThrow(/init must be a function/);
    expect(() => defineActor({ init: () => 0 } as never)).toThrow(/receive must be a function/);
  });
});

describe('ctx.spawn and ctx.stop', () => {
  it('spawns children supervised by the actor and lists them in start order', async () => {
    const system = await start();
    type M = { type: 'kids' };
    const p = system.spawn(
      defineActor<M, undefined>({
        init: (ctx) => {
          ctx.spawn(Counter, { name: 'one' });
          ctx.spawn(Counter, { name: 'two' });
        },
        receive: (_s, _m, ctx) => ctx.reply(ctx.children.map((c) => c.name)),
      }),
    );
    expect(await p.ask({ type: 'kids' })).toEqual(['one', 'two']);
  });

  it('stops a child or itself, and refuses to stop an actor that is not its child', async () => {
    const system = await start();
    const stranger = system.spawn(Counter, { name: 'stranger' });
    type M = { type: 'stop-child' } | { type: 'stop-stranger'; ref: ActorRef } | { type: 'stop-self' };
    const p = system.spawn(
      defineActor<M, ActorRef<CounterMsg>>({
        init: (ctx) => ctx.spawn(Counter, { name: 'kid' }),
        receive: async (kid, m, ctx) => {
          if (m.type === 'stop-child') {
            await ctx.stop(kid);
            ctx.reply(kid.isAlive);
          } else if (m.type === 'stop-stranger') {
            try {
              await ctx.stop(m.ref);
            } catch (e) {
              ctx.reply((e as Error).message);
            }
          } else {
            void ctx.stop();
          }
        },
      }),
      { name: 'p' },
    );
    expect(await p.ask({ type: 'stop-child' })).toBe(false);
    expect(await p.ask({ type: 'stop-stranger', ref: stranger })).toMatch(/is not a child/);
    expect(stranger.isAlive).toBe(true);
    p.tell({ type: 'stop-self' });
    expect(await system.whenTerminated(p)).toEqual({ kind: 'stopped' });
  });
});
