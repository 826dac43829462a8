import {
  type ActorSystem,
  defineActor,
  MailboxFullError,
  type MailboxOptions,
  type SystemEventMap,
} from '@troupe/core';
import { TestClock } from '@troupe/core/testing';
import { describe, expect, it } from 'vitest';
import { collectDeadLetters, gate, rejectionOf, useSystem, waitFor } from './helpers/system.js';

const start = useSystem();

type Msg = { type: 'n'; i: number } | { type: 'q'; i: number };

/**
 * An actor whose init waits for `ready`, so everything sent meanwhile stays in
 * its mailbox; it then records the `i` of each message and answers asks with it.
 */
function blocked(system: ActorSystem, mailbox: MailboxOptions) {
  const ready = gate();
  const got: number[] = [];
  const ref = system.spawn(
    defineActor<Msg, undefined>({
      init: () => ready.promise.then(() => undefined),
      receive: (_s, m, ctx) => {
        got.push(m.i);
        if (m.type === 'q') ctx.reply(m.i);
      },
    }),
    { name: 'box', mailbox },
  );
  return { ref, got, open: () => ready.open() };
}

function overflows(system: ActorSystem): SystemEventMap['mailboxOverflow'][0][] {
  const out: SystemEventMap['mailboxOverflow'][0][] = [];
  system.events.on('mailboxOverflow', (e) => out.push(e));
  return out;
}

describe('bounded mailbox: drop-newest', () => {
  it('sends the newest message to dead letters (mailbox-full) and keeps the queued ones', async () => {
    const system = await start();
    const dead = collectDeadLetters(system);
    const events = overflows(system);
    const b = blocked(system, { capacity: 3, overflow: 'drop-newest' });
    for (let i = 1; i <= 5; i++) b.ref.tell({ type: 'n', i });
    expect(dead.of('mailbox-full').map((l) => (l.message as Msg).i)).toEqual([4, 5]);
    expect(events).toEqual([
      { path: '/user/box', capacity: 3, policy: 'drop-newest', messageType: 'n' },
      { path: '/user/box', capacity: 3, policy: 'drop-newest', messageType: 'n' },
    ]);
    const ask = rejectionOf(b.ref.ask({ type: 'q', i: 6 }));
    const err = await ask;
    expect(err).toBeInstanceOf(MailboxFullError);
    expect(err).toMatchObject({ target: '/user/box', capacity: 3, messageType: 'q' });
    b.open();
    await waitFor(() => b.got.length === 3, 'the queued messages');
    expect(b.got).toEqual([1, 2, 3]);
  });
});

describe('bounded mailbox: drop-oldest', () => {
  it('evicts the oldest queued message to dead letters to make room, rejecting an evicted ask', async () => {
    const system = await start();
    const dead = collectDeadLetters(system);
    const b = blocked(system, { capacity: 3, overflow: 'drop-oldest' });
    const firstAsk = rejectionOf(b.ref.ask({ type: 'q', i: 1 }));
    for (let i = 2; i <= 6; i++) b.ref.tell({ type: 'n', i });
    expect(await firstAsk).toBeInstanceOf(MailboxFullError);
    expect(dead.of('mailbox-full').map((l) => (l.message as Msg).i)).toEqual([1, 2, 3]);
    expect(system.metrics(b.ref)?.mailboxDepth).toBe(3);
    b.open();
    await waitFor(() => b.got.length === 3, 'the queued messages');
    expect(b.got).toEqual([4, 5, 6]);
  });
});

describe('bounded mailbox: reject', () => {
  it('throws MailboxFullError to a teller and rejects an ask with it, naming target and capacity', async () => {
    const system = await start();
    const b = blocked(system, { capacity: 2, overflow: 'reject' });
    b.ref.tell({ type: 'n', i: 1 });
    b.ref.tell({ type: 'n', i: 2 });
    let thrown: unknown;
    try {
      b.ref.tell({ type: 'n', i: 3 });
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(MailboxFullError);
    expect((thrown as Error).message).toMatch(/Mailbox of \[\/user\/box\] is full \(capacity 2\)/);
    expect(await rejectionOf(b.ref.ask({ type: 'q', i: 4 }))).toBeInstanceOf(MailboxFullError);
    await expect(b.ref.send({ type: 'n', i: 5 })).rejects.toBeInstanceOf(MailboxFullError);
    b.open();
    await waitFor(() => b.got.length === 2, 'the queued messages');
    expect(b.got).toEqual([1, 2]);
  });
});

describe('bounded mailbox: backpressure', () => {
  it('resolves an awaited send only when there is room, keeping send order', async () => {
    const system = await start();
    const b = blocked(system, { capacity: 2, overflow: 'backpressure' });
    await b.ref.send({ type: 'n', i: 1 });
    await b.ref.send({ type: 'n', i: 2 });
    let third = false;
    const p = b.ref.send({ type: 'n', i: 3 }).then(() => {
      third = true;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(third).toBe(false);
    expect(system.metrics(b.ref)?.mailboxDepth).toBe(2);
    b.open();
    await p;
    await waitFor(() => b.got.length === 3, 'all messages');
    expect(b.got).toEqual([1, 2, 3]);
  });

  it('lets a fast sender awaiting each send go only as fast as a slow consumer, never past capacity', async () => {
    const system = await start();
    const got: number[] = [];
    let maxDepth = 0;
    const slow = system.spawn(
      defineActor<Msg, undefined>({
        init: () => undefined,
        receive: async (_s, m) => {
          await new Promise((r) => setImmediate(r));
          got.push(m.i);
        },
      }),
      { mailbox: { capacity: 4, overflow: 'backpressure' } },
    );
    for (let i = 0; i < 200; i++) {
      await slow.send({ type: 'n', i });
      maxDepth = Math.max(maxDepth, system.metrics(slow)?.mailboxDepth ?? 0);
    }
    await waitFor(() => got.length === 200, 'all messages');
    expect(got).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(maxDepth).toBeLessThanOrEqual(4);
    expect(system.metrics(slow)?.mailboxHighWater).toBeLessThanOrEqual(4);
  });

  it('bounds the waiting senders by capacity and rejects the rest with MailboxFullError', async () => {
    const system = await start();
    const b = blocked(system, { capacity: 2, overflow: 'backpressure' });
    const sends = Array.from({ length: 6 }, (_, k) =>
      b.ref.send({ type: 'n', i: k + 1 }).then(
        () => 'ok',
        (e) => e,
      ),
    );
    const early = await Promise.race([Promise.all(sends.slice(4)), new Promise((r) => setTimeout(r, 50))]);
    expect(early).toEqual([expect.any(MailboxFullError), expect.any(MailboxFullError)]);
    expect(system.loadOf(b.ref)).toBe(4);
    b.open();
    expect((await Promise.all(sends)).slice(0, 4)).toEqual(['ok', 'ok', 'ok', 'ok']);
    await waitFor(() => b.got.length === 4, 'admitted messages');
    expect(b.got).toEqual([1, 2, 3, 4]);
  });

  it('throws MailboxFullError to a plain tell into a full backpressure mailbox', async () => {
    const system = await start();
    const b = blocked(system, { capacity: 1, overflow: 'backpressure' });
    b.ref.tell({ type: 'n', i: 1 });
    expect(() => b.ref.tell({ type: 'n', i: 2 })).toThrow(MailboxFullError);
    b.open();
  });

  it('makes an ask wait for room and then answers it', async () => {
    const system = await start();
    const b = blocked(system, { capacity: 1, overflow: 'backpressure' });
    b.ref.tell({ type: 'n', i: 1 });
    const answer = b.ref.ask({ type: 'q', i: 2 });
    await new Promise((r) => setTimeout(r, 10));
    b.open();
    expect(await answer).toBe(2);
  });

  it('keeps a sender`s order when a waiting ask ahead of its send has timed out', async () => {
    const clock = new TestClock();
    const system = await start({ clock });
    const first = gate();
    const second = gate();
    const got: number[] = [];
    const ref = system.spawn(
      defineActor<Msg, undefined>({
        init: () => undefined,
        receive: async (_s, m, ctx) => {
          if (m.i === 1) await first.promise;
          if (m.i === 2) await second.promise;
          got.push(m.i);
          if (m.type === 'q') ctx.reply(m.i);
        },
      }),
      { mailbox: { capacity: 2, overflow: 'backpressure' } },
    );
    ref.tell({ type: 'n', i: 1 }); // taken at once, held in flight by `first`
    await waitFor(() => system.loadOf(ref) === 1 && system.metrics(ref)?.mailboxDepth === 0, 'message 1 in flight');
    ref.tell({ type: 'n', i: 2 });
    ref.tell({ type: 'n', i: 3 });
    // The mailbox is full: the ask and the send wait, in this order.
    const ask = rejectionOf(ref.ask({ type: 'q', i: 4 }, { timeoutMs: 100 }));
    const sent5 = ref.send({ type: 'n', i: 5 });
    await clock.tick(100);
    expect(await ask).toMatchObject({ name: 'AskTimeoutError' });
    // Finishing message 1 takes message 2, which makes room: the live sender behind
    // the timed-out ask must get it, not a later send from the same sender.
    first.open();
    await waitFor(() => got.length === 1 && system.loadOf(ref) === 3, 'message 2 in flight');
    const sent6 = ref.send({ type: 'n', i: 6 });
    second.open();
    await Promise.all([sent5, sent6]);
    await waitFor(() => got.length === 5, 'every admitted message');
    expect(got).toEqual([1, 2, 3, 5, 6]);
  });

  it('rejects senders still waiting when the actor stops', async () => {
    const system = await start();
    const b = blocked(system, { capacity: 1, overflow: 'backpressure' });
    b.ref.tell({ type: 'n', i: 1 });
    const waiting = rejectionOf(b.ref.send({ type: 'n', i: 2 }));
    await system.stop(b.ref);
    expect(await waiting).toMatchObject({ name: 'ActorStoppedError' });
  });
});

describe('memory under a burst', () => {
  for (const overflow of ['drop-newest', 'drop-oldest', 'reject', 'backpressure'] as const) {
    it(`keeps at most capacity messages queued under a burst of 10x capacity (${overflow})`, async () => {
      const system = await start();
      const capacity = 100;
      const b = blocked(system, { capacity, overflow });
      const dead = collectDeadLetters(system);
      let refused = 0;
      const pending: Promise<unknown>[] = [];
      for (let i = 0; i < capacity * 10; i++) {
        if (overflow === 'backpressure') {
          pending.push(b.ref.send({ type: 'n', i }).catch(() => refused++));
        } else {
          try {
            b.ref.tell({ type: 'n', i });
          } catch {
            refused++;
          }
        }
      }
      await new Promise((r) => setTimeout(r, 10));
      const m = system.metrics(b.ref);
      expect(m?.mailboxDepth).toBe(capacity);
      expect(m?.mailboxHighWater).toBe(capacity);
      // Backpressure parks at most `capacity` more senders; everything beyond is refused.
      expect(system.loadOf(b.ref)).toBe(overflow === 'backpressure' ? 2 * capacity : capacity);
      const lost = overflow === 'reject' || overflow === 'backpressure' ? refused : dead.of('mailbox-full').length;
      expect(lost).toBe(capacity * (overflow === 'backpressure' ? 8 : 9));
      b.open();
      await Promise.all(pending);
      await waitFor(() => b.got.length === (overflow === 'backpressure' ? 2 : 1) * capacity, 'accepted messages');
    });
  }

  it('is unbounded by default', async () => {
    const system = await start();
    const b = blocked(system, {});
    for (let i = 0; i < 50_000; i++) b.ref.tell({ type: 'n', i });
    expect(system.metrics(b.ref)?.mailboxDepth).toBe(50_000);
    expect(system.deadLetters.total).toBe(0);
    b.open();
    await waitFor(() => b.got.length === 50_000, 'all messages');
  });
});

describe('mailbox options', () => {
  it('validates capacity, overflow and throughput at spawn, naming the field', async () => {
    const system = await start();
    const A = defineActor<Msg, undefined>({ init: () => undefined, receive: () => undefined });
    expect(() => system.spawn(A, { mailbox: { capacity: -1 } })).toThrow(
      /mailbox.capacity must be a positive integer or Infinity, got -1/,
    );
    expect(() => system.spawn(A, { mailbox: { capacity: 1.5 } })).toThrow(TypeError);
    expect(() => system.spawn(A, { mailbox: { overflow: 'explode' as never } })).toThrow(/mailbox.overflow/);
    expect(() => system.spawn(A, { mailbox: { throughput: 0 } })).toThrow(/mailbox.throughput/);
  });

  it('takes the mailbox from the definition unless spawn overrides it', async () => {
    const system = await start();
    const ready = gate();
    const A = defineActor<Msg, undefined>({
      init: () => ready.promise.then(() => undefined),
      receive: () => undefined,
      mailbox: { capacity: 1, overflow: 'reject' },
    });
    const byDef = system.spawn(A);
    const overridden = system.spawn(A, { mailbox: { capacity: 2, overflow: 'reject' } });
    byDef.tell({ type: 'n', i: 1 });
    expect(() => byDef.tell({ type: 'n', i: 2 })).toThrow(MailboxFullError);
    overridden.tell({ type: 'n', i: 1 });
    overridden.tell({ type: 'n', i: 2 });
    expect(() => overridden.tell({ type: 'n', i: 3 })).toThrow(MailboxFullError);
    ready.open();
  });
});
