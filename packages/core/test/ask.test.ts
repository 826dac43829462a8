import {
  ActorNotFoundError,
  ActorStoppedError,
  AskAbortedError,
  AskTimeoutError,
  defineActor,
  type Replier,
} from '@troupe/core';
import { TestClock } from '@troupe/core/testing';
import { describe, expect, it } from 'vitest';
import { collectDeadLetters, rejectionOf, useSystem, waitFor } from './helpers/system.js';

const start = useSystem();

/** Holds every `hold` unanswered until told `release`; answers `ping` at once. */
type HolderMsg = { type: 'hold' } | { type: 'release'; value: unknown } | { type: 'ping' };
const Holder = defineActor<HolderMsg, { held: Replier[]; seen: string[] }>({
  init: () => ({ held: [], seen: [] }),
  receive: (s, m, ctx) => {
    s.seen.push(m.type);
    if (m.type === 'hold') s.held.push(ctx.deferReply());
    else if (m.type === 'release') for (const r of s.held.splice(0)) r.reply(m.value);
    else ctx.reply({ seen: [...s.seen] });
  },
});

describe('tell', () => {
  it('delivers messages from one sender to one receiver in send order', async () => {
    const system = await start();
    const got: number[] = [];
    const r = system.spawn(
      defineActor<{ type: 'n'; i: number } | { type: 'end' }, undefined>({
        init: () => undefined,
        receive: (_s, m, ctx) => {
          if (m.type === 'n') got.push(m.i);
          else ctx.reply(got.length);
        },
      }),
      { mailbox: { throughput: 7 } },
    );
    for (let i = 0; i < 10_000; i++) r.tell({ type: 'n', i });
    expect(await r.ask({ type: 'end' }, { timeoutMs: 10_000 })).toBe(10_000);
    expect(got).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
  });

  it('keeps order between an actor sender and its receiver, tells and asks interleaved', async () => {
    const system = await start();
    const got: string[] = [];
    type RMsg = { type: 'n'; tag: string } | { type: 'q'; tag: string };
    const receiver = system.spawn(
      defineActor<RMsg, undefined>({
        init: () => undefined,
        receive: (_s, m, ctx) => {
          got.push(m.tag);
          if (m.type === 'q') ctx.reply(m.tag);
        },
      }),
    );
    const sender = system.spawn(
      defineActor<{ type: 'go' }, undefined>({
        init: () => undefined,
        receive: async (_s, _m, ctx) => {
          const asks: Promise<unknown>[] = [];
          for (let i = 0; i < 100; i++) {
            if (i % 10 === 0) asks.push(receiver.ask({ type: 'q', tag: `${i}` }));
            else receiver.tell({ type: 'n', tag: `${i}` });
          }
          await Promise.all(asks);
          ctx.reply(got.length);
        },
      }),
    );
    expect(await sender.ask({ type: 'go' })).toBe(100);
    expect(got).toEqual(Array.from({ length: 100 }, (_, i) => `${i}`));
  });

  it('records a reply to a tell as a dead letter (no-reply-address)', async () => {
    const system = await start();
    const dead = collectDeadLetters(system);
    const a = system.spawn(
      defineActor<{ type: 'x' }, undefined>({ init: () => undefined, receive: (_s, _m, ctx) => ctx.reply(42) }),
    );
    a.tell({ type: 'x' });
    await waitFor(() => dead.of('no-reply-address').length === 1, 'dead letter');
    expect(dead.of('no-reply-address')[0]).toMatchObject({ recipient: a.path, message: 42 });
  });
});

describe('ask', () => {
  it('rejects a pending ask with AskTimeoutError naming target, ms and message type', async () => {
    const clock = new TestClock();
    const system = await start({ clock });
    const h = system.spawn(Holder, { name: 'slow' });
    const p = h.ask({ type: 'hold' }, { timeoutMs: 500 });
    let settled = false;
    const rejected = rejectionOf(p).finally(() => {
      settled = true;
    });
    await clock.tick(499);
    expect(settled).toBe(false);
    await clock.tick(1);
    const err = await rejected;
    expect(err).toBeInstanceOf(AskTimeoutError);
    expect(err).toMatchObject({ target: '/user/slow', timeoutMs: 500, messageType: 'hold', code: 'ERR_ASK_TIMEOUT' });
    expect((err as Error).message).toBe(
      "Ask timed out on [/user/slow] after [500 ms]. Message of type [hold]. A typical reason is that the recipient actor didn't send a reply (ctx.reply) or is busy with a long-running message.",
    );
  });

  it('frees the timer and bookkeeping of an ask once it times out or is answered', async () => {
    const clock = new TestClock();
    const system = await start({ clock });
    const h = system.spawn(Holder);
    const answered = h.ask({ type: 'ping' }, { timeoutMs: 1_000 });
    const timedOut = rejectionOf(h.ask({ type: 'hold' }, { timeoutMs: 300 }));
    expect(system.outstandingAsks).toBe(2);
    await answered;
    await clock.tick(300);
    expect(await timedOut).toBeInstanceOf(AskTimeoutError);
    expect(system.outstandingAsks).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('uses the system default ask timeout when none is given', async () => {
    const clock = new TestClock();
    const system = await start({ clock, askTimeoutMs: 2_000 });
    const h = system.spawn(Holder);
    const p = rejectionOf(h.ask({ type: 'hold' }));
    await clock.tick(1_999);
    expect(system.outstandingAsks).toBe(1);
    await clock.tick(1);
    expect(await p).toMatchObject({ timeoutMs: 2_000 });
  });

  it('sends a reply that arrives after the timeout to dead letters as late-reply', async () => {
    const clock = new TestClock();
    const system = await start({ clock });
    const dead = collectDeadLetters(system);
    const h = system.spawn(Holder, { name: 'late' });
    const p = rejectionOf(h.ask({ type: 'hold' }, { timeoutMs: 100 }));
    await clock.tick(100);
    expect(await p).toBeInstanceOf(AskTimeoutError);
    h.tell({ type: 'release', value: 'too late' });
    await waitFor(() => dead.of('late-reply').length === 1, 'late-reply dead letter');
    expect(dead.of('late-reply')[0]).toMatchObject({ recipient: '/user/late', message: 'too late' });
  });

  it('rejects with a TypeError for a timeout that is not a positive finite number', async () => {
    const system = await start();
    const h = system.spawn(Holder);
    await expect(h.ask({ type: 'ping' }, { timeoutMs: 0 })).rejects.toThrow(TypeError);
    await expect(h.ask({ type: 'ping' }, { timeoutMs: Number.POSITIVE_INFINITY })).rejects.toThrow(
      /timeoutMs must be a positive finite number/,
    );
  });

  it('answers through ctx.replyError with a rejection, without failing the actor', async () => {
    const system = await start();
    const failures: unknown[] = [];
    system.events.on('failed', (e) => failures.push(e));
    const a = system.spawn(
      defineActor<{ type: 'q' }, undefined>({
        init: () => undefined,
        receive: (_s, _m, ctx) => ctx.replyError(new RangeError('no such item')),
      }),
    );
    await expect(a.ask({ type: 'q' })).rejects.toThrow(RangeError);
    await expect(a.ask({ type: 'q' })).rejects.toThrow('no such item');
    expect(system.metrics(a)).toMatchObject({ failed: 0, processed: 2 });
    expect(failures).toEqual([]);
    expect(a.isAlive).toBe(true);
  });

  it('answers a deferred reply after receive has returned, while other messages are handled', async () => {
    const system = await start();
    const h = system.spawn(Holder);
    const held = h.ask<string>({ type: 'hold' });
    const pong = await h.ask<{ seen: string[] }>({ type: 'ping' });
    expect(pong.seen).toEqual(['hold', 'ping']);
    h.tell({ type: 'release', value: 'later' });
    expect(await held).toBe('later');
  });
});

describe('aborting an ask', () => {
  it('sends nothing when the signal is already aborted, and rejects with AskAbortedError', async () => {
    const system = await start();
    const h = system.spawn(Holder, { name: 'h' });
    const ac = new AbortController();
    ac.abort(new Error('user left'));
    const err = await rejectionOf(h.ask({ type: 'hold' }, { signal: ac.signal }));
    expect(err).toBeInstanceOf(AskAbortedError);
    expect(err).toMatchObject({ target: '/user/h', messageType: 'hold' });
    expect((err as Error).cause).toEqual(new Error('user left'));
    const { seen } = await h.ask<{ seen: string[] }>({ type: 'ping' });
    expect(seen).toEqual(['ping']);
    expect(system.outstandingAsks).toBe(0);
  });

  it('rejects a pending ask with AskAbortedError when aborted during, and frees it', async () => {
    const clock = new TestClock();
    const system = await start({ clock });
    const dead = collectDeadLetters(system);
    const h = system.spawn(Holder);
    const ac = new AbortController();
    const p = h.ask({ type: 'hold' }, { signal: ac.signal, timeoutMs: 10_000 });
    await h.ask({ type: 'ping' });
    expect(system.outstandingAsks).toBe(1);
    ac.abort('cancelled');
    const err = await rejectionOf(p);
    expect(err).toBeInstanceOf(AskAbortedError);
    expect((err as Error).cause).toBe('cancelled');
    expect(system.outstandingAsks).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    // The actor still answers; its reply has nobody to go to.
    h.tell({ type: 'release', value: 1 });
    await waitFor(() => dead.of('late-reply').length === 1, 'late-reply dead letter');
  });
});

describe('messages to stopped and unknown actors', () => {
  it('turns a tell to a stopped actor into a dead letter and rejects an ask at once', async () => {
    const clock = new TestClock(); // time never moves: a rejection cannot be a timeout
    const system = await start({ clock });
    const dead = collectDeadLetters(system);
    const h = system.spawn(Holder, { name: 'gone' });
    await system.stop(h);
    expect(h.isAlive).toBe(false);
    h.tell({ type: 'ping' });
    const err = await rejectionOf(h.ask({ type: 'ping' }, { timeoutMs: 60_000 }));
    expect(err).toBeInstanceOf(ActorStoppedError);
    expect((err as Error).message).toContain('/user/gone');
    expect(dead.of('actor-stopped').map((l) => l.recipient)).toEqual(['/user/gone', '/user/gone']);
    expect(system.deadLetters.count('actor-stopped')).toBe(2);
    // send is told too: the message is dead-lettered and the promise rejects.
    await expect(h.send({ type: 'ping' })).rejects.toBeInstanceOf(ActorStoppedError);
    expect(system.deadLetters.count('actor-stopped')).toBe(3);
  });

  it('rejects asks still queued when the actor stops, and dead-letters the queued tells', async () => {
    const system = await start();
    const dead = collectDeadLetters(system);
    const block = defineActor<{ type: 'block' } | { type: 'q' } | { type: 't' }, undefined>({
      init: () => undefined,
      receive: async (_s, m) => {
        if (m.type === 'block') await new Promise((r) => setTimeout(r, 30));
      },
    });
    const a = system.spawn(block);
    a.tell({ type: 'block' });
    const q = a.ask({ type: 'q' });
    a.tell({ type: 't' });
    await new Promise((r) => setTimeout(r, 5));
    await system.stop(a);
    expect(await rejectionOf(q)).toBeInstanceOf(ActorStoppedError);
    expect(dead.of('actor-stopped').map((l) => (l.message as { type: string }).type)).toEqual(['q', 't']);
  });

  it('dead-letters a tell to an unknown path and rejects an ask with ActorNotFoundError', async () => {
    const system = await start();
    const dead = collectDeadLetters(system);
    const nobody = system.select('/user/nobody/here');
    expect(nobody.isAlive).toBe(false);
    expect(nobody.path).toBe('/user/nobody/here');
    nobody.tell({ type: 'hello' });
    const err = await rejectionOf(nobody.ask({ type: 'q' }));
    expect(err).toBeInstanceOf(ActorNotFoundError);
    expect((err as Error).message).toContain('/user/nobody/here');
    await expect(nobody.send({ type: 's' })).rejects.toBeInstanceOf(ActorNotFoundError);
    expect(dead.of('unknown-actor').map((l) => (l.message as { type: string }).type)).toEqual(['hello', 'q', 's']);
    expect(system.select('nonsense').isAlive).toBe(false);
  });

  it('selects a stopped actor as unknown', async () => {
    const system = await start();
    const h = system.spawn(Holder, { name: 'h' });
    expect(system.select('/user/h')).toBe(h);
    await system.stop(h);
    expect(system.select('/user/h').isAlive).toBe(false);
    expect(system.select('/user/h')).not.toBe(h);
  });
});
