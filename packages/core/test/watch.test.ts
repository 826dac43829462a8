import {
  type ActorRef,
  DeathPactError,
  defineActor,
  resume,
  type SystemEventMap,
  stop,
  type Terminated,
} from '@troupe/core';
import { describe, expect, it } from 'vitest';
import { gate, useSystem, waitFor } from './helpers/system.js';

const start = useSystem();

type TMsg = { type: 'boom' } | { type: 'ping' };
const Target = defineActor<TMsg, undefined>({
  init: () => undefined,
  receive: (_s, m, ctx) => {
    if (m.type === 'boom') throw new Error('target failed');
    ctx.reply('pong');
  },
});

type WMsg = { type: 'watch'; ref: ActorRef<TMsg> } | { type: 'unwatch'; ref: ActorRef<TMsg> } | { type: 'ping' };

function watcher(seen: Terminated[]) {
  return defineActor<WMsg, undefined>({
    init: () => undefined,
    receive: (_s, m, ctx) => {
      if (m.type === 'watch') ctx.watch(m.ref);
      else if (m.type === 'unwatch') ctx.unwatch(m.ref);
      ctx.reply('ok');
    },
    onTerminated: (_s, t) => {
      seen.push(t);
    },
  });
}

describe('watch', () => {
  it('delivers Terminated with the ref and reason stopped when a watched actor stops', async () => {
    const system = await start();
    const seen: Terminated[] = [];
    const t = system.spawn(Target, { name: 't' });
    const w = system.spawn(watcher(seen));
    await w.ask({ type: 'watch', ref: t });
    await system.stop(t);
    await waitFor(() => seen.length === 1, 'Terminated');
    expect(seen[0]?.type).toBe('terminated');
    expect(seen[0]?.ref).toBe(t);
    expect(seen[0]?.reason).toEqual({ kind: 'stopped' });
  });

  it('carries the error in the reason when a watched actor is stopped for failing', async () => {
    const system = await start();
    const seen: Terminated[] = [];
    const t = system.spawn(Target, { supervision: stop() });
    const w = system.spawn(watcher(seen));
    await w.ask({ type: 'watch', ref: t });
    t.tell({ type: 'boom' });
    await waitFor(() => seen.length === 1, 'Terminated');
    expect(seen[0]?.reason).toMatchObject({ kind: 'failed', error: { message: 'target failed' } });
  });

  it('delivers Terminated at once when watching an actor that has already stopped', async () => {
    const system = await start();
    const seen: Terminated[] = [];
    const t = system.spawn(Target);
    await system.stop(t);
    const w = system.spawn(watcher(seen));
    await w.ask({ type: 'watch', ref: t });
    await waitFor(() => seen.length === 1, 'Terminated');
    expect(seen[0]?.ref.path).toBe(t.path);
  });

  it('delivers nothing after unwatch', async () => {
    const system = await start();
    const seen: Terminated[] = [];
    const t = system.spawn(Target);
    const w = system.spawn(watcher(seen));
    await w.ask({ type: 'watch', ref: t });
    await w.ask({ type: 'unwatch', ref: t });
    await system.stop(t);
    await new Promise((r) => setTimeout(r, 20));
    expect(await w.ask({ type: 'ping' })).toBe('ok');
    expect(seen).toEqual([]);
  });

  it('fails a watcher without onTerminated with DeathPactError naming both actors', async () => {
    const system = await start();
    const failed: SystemEventMap['failed'][0][] = [];
    system.events.on('failed', (e) => failed.push(e));
    const t = system.spawn(Target, { name: 'friend' });
    const w = system.spawn(
      defineActor<WMsg, undefined>({
        init: () => undefined,
        receive: (_s, m, ctx) => {
          if (m.type === 'watch') ctx.watch(m.ref);
          ctx.reply('ok');
        },
      }),
      { name: 'pact', supervision: resume() },
    );
    await w.ask({ type: 'watch', ref: t });
    await system.stop(t);
    await waitFor(() => failed.length === 1, 'the death pact');
    expect(failed[0]?.path).toBe('/user/pact');
    expect(failed[0]?.error).toBeInstanceOf(DeathPactError);
    expect(failed[0]?.error).toMatchObject({ watcher: '/user/pact', terminated: '/user/friend' });
  });

  it('lets a watcher in init learn of its own child`s end', async () => {
    const system = await start();
    const seen: Terminated[] = [];
    const P = defineActor<{ type: 'stop-kid' }, ActorRef<TMsg>>({
      init: (ctx) => {
        const kid = ctx.spawn(Target, { name: 'kid' });
        ctx.watch(kid);
        return kid;
      },
      receive: (kid, _m, ctx) => {
        void ctx.stop(kid);
      },
      onTerminated: (_s, t) => {
        seen.push(t);
      },
    });
    const p = system.spawn(P, { name: 'p' });
    p.tell({ type: 'stop-kid' });
    await waitFor(() => seen.length === 1, 'Terminated');
    expect(seen[0]?.ref.path).toBe('/user/p/kid');
  });

  it('does not lose a Terminated signal to a drop-oldest mailbox overflow, and the signal takes no mailbox slot', async () => {
    const system = await start();
    const seen: string[] = [];
    const ready = gate();
    const t = system.spawn(Target, { name: 'target' });
    const w = system.spawn(
      defineActor<{ type: 'n'; i: number }, undefined, ActorRef<TMsg>>({
        init: async (ctx) => {
          ctx.watch(ctx.input);
          await ready.promise;
        },
        receive: (_s, m) => {
          seen.push(`n${m.i}`);
        },
        onTerminated: (_s, sig) => {
          seen.push(`terminated ${sig.ref.path}`);
        },
      }),
      { input: t, mailbox: { capacity: 2, overflow: 'drop-oldest' } },
    );
    await new Promise((r) => setTimeout(r, 5));
    await system.stop(t); // the signal waits in the watcher's system queue, not in its mailbox
    for (let i = 1; i <= 3; i++) w.tell({ type: 'n', i });
    ready.open();
    await waitFor(() => seen.length === 3, 'the signal and the two newest messages');
    expect(seen).toEqual(['terminated /user/target', 'n2', 'n3']);
    expect(system.deadLetters.count('mailbox-full')).toBe(1);
  });

  it('delivers Terminated to a watcher with a full mailbox before the messages queued in it (a system queue)', async () => {
    const system = await start();
    const order: string[] = [];
    const first = gate();
    const t = system.spawn(Target, { name: 'target' });
    const w = system.spawn(
      defineActor<{ type: 'work'; i: number }, undefined, ActorRef<TMsg>>({
        init: (ctx) => {
          ctx.watch(ctx.input);
        },
        receive: async (_s, m) => {
          order.push(`work ${m.i}`);
          if (m.i === 0) await first.promise;
        },
        onTerminated: (_s, sig) => {
          order.push(`terminated ${sig.ref.path}`);
        },
      }),
      { input: t, mailbox: { capacity: 5, overflow: 'drop-newest' } },
    );
    w.tell({ type: 'work', i: 0 });
    await waitFor(() => order.length === 1, 'the first message in flight');
    for (let i = 1; i <= 5; i++) w.tell({ type: 'work', i }); // the mailbox is full now
    w.tell({ type: 'work', i: 6 }); // dropped
    await system.stop(t);
    first.open();
    await waitFor(() => order.length === 7, 'the signal and the queued messages');
    expect(order).toEqual(['work 0', 'terminated /user/target', 'work 1', 'work 2', 'work 3', 'work 4', 'work 5']);
  });
});
