import { type ActorRef, defineActor, MailboxFullError } from '@troupe/core';
import { describe, expect, it } from 'vitest';
import { PipelineClosedError, pipeline, pool } from '../../src/routing/index.js';
import { tick, useSystem, waitFor } from './helpers.js';

const start = useSystem();

type Out = { type: 'out'; value: number };

/** A slow sink with a small backpressure mailbox: the end of the line holds everything back. */
function sinkOf(received: number[], delayMs = 1) {
  return defineActor<Out, undefined>({
    name: 'sink',
    mailbox: { capacity: 4, overflow: 'backpressure' },
    init: () => undefined,
    receive: async (_s, msg) => {
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      received.push(msg.value);
    },
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('pipeline', () => {
  it('passes values through function stages, in order, to the sink', async () => {
    const system = await start();
    const received: number[] = [];
    const sink = system.spawn(sinkOf(received, 0), { name: 'sink' });
    const p = pipeline<string>(
      system,
      [(s: string) => Number(s), async (n: number) => n * 2, (n: number): Out => ({ type: 'out', value: n + 1 })],
      { name: 'simple', to: sink },
    );
    for (let i = 0; i < 100; i++) await p.send(String(i));
    await p.whenIdle();
    await waitFor(() => received.length === 100, 'the sink to take every value');
    expect(received).toEqual(Array.from({ length: 100 }, (_, i) => i * 2 + 1));
    expect(p.stats()).toEqual({ accepted: 100, completed: 100, filtered: 0, failed: 0, inFlight: 0 });
    expect(p.stages.map((s) => s.path)).toEqual(['/user/simple.0', '/user/simple.1', '/user/simple.2']);
  });

  it('keeps every stage within its mailbox capacity under a 10x burst from a producer awaiting send (scenario 13)', async () => {
    const system = await start();
    const received: number[] = [];
    const sink = system.spawn(sinkOf(received, 1), { name: 'sink' });
    const capacity = 16;
    const burst = 10 * capacity;
    const p = pipeline<number>(
      system,
      [
        (n: number) => n,
        { run: async (n: number) => n, parallelism: 4, name: 'async' },
        (n: number): Out => ({ type: 'out', value: n }),
      ],
      { name: 'burst', capacity, to: sink },
    );
    let maxInFlight = 0;
    for (let i = 0; i < burst; i++) {
      await p.send(i);
      maxInFlight = Math.max(maxInFlight, p.stats().inFlight);
    }
    await p.whenIdle();
    await waitFor(() => received.length === burst, 'the sink to take every value');

    expect(received).toEqual(Array.from({ length: burst }, (_, i) => i));
    const metrics = p.metrics();
    expect(metrics).toHaveLength(3);
    for (const m of metrics) {
      expect(m.mailboxHighWater, m.path).toBeLessThanOrEqual(capacity);
      expect(m.processed, m.path).toBe(burst);
    }
    expect(system.metrics(sink)?.mailboxHighWater).toBeLessThanOrEqual(4);
    // The producer was held back: what was in flight at any time is bounded by
    // the capacities along the way (3 stages + the sink, plus one value in hand
    // per stage and the async stage's parallelism), far below the burst.
    expect(maxInFlight).toBeLessThanOrEqual(3 * capacity + 4 + 3 + 4);
    expect(maxInFlight).toBeLessThan(burst);
  });

  it('refuses what does not fit under a 10x burst from a producer that does not await: capacity queued, capacity waiting, the rest MailboxFullError', async () => {
    const system = await start();
    const received: number[] = [];
    const sink = system.spawn(sinkOf(received, 0), { name: 'sink' });
    const capacity = 8;
    const p = pipeline<number>(system, [(n: number): Out => ({ type: 'out', value: n })], {
      name: 'firehose',
      capacity,
      to: sink,
    });
    const outcomes = await Promise.allSettled(Array.from({ length: 10 * capacity }, (_, i) => p.send(i)));
    const refused = outcomes.filter((o) => o.status === 'rejected');
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(2 * capacity);
    expect(refused).toHaveLength(8 * capacity);
    for (const o of refused) expect((o as PromiseRejectedResult).reason).toBeInstanceOf(MailboxFullError);

    await p.whenIdle();
    await waitFor(() => received.length === 2 * capacity, 'the sink to take every accepted value');
    expect(received).toEqual(Array.from({ length: 2 * capacity }, (_, i) => i));
    expect(p.metrics()[0]?.mailboxHighWater).toBeLessThanOrEqual(capacity);
    expect(p.stats()).toMatchObject({ accepted: 2 * capacity, completed: 2 * capacity, inFlight: 0 });
  });

  it('drops the values a stage maps to undefined', async () => {
    const system = await start();
    const kept: number[] = [];
    const p = pipeline<number>(
      system,
      [(n: number) => (n % 3 === 0 ? n : undefined), (n: number) => void kept.push(n)],
      {
        name: 'filter',
      },
    );
    for (let i = 0; i < 30; i++) await p.send(i);
    await p.whenIdle();
    expect(kept).toEqual([0, 3, 6, 9, 12, 15, 18, 21, 24, 27]);
    expect(p.stats()).toMatchObject({ filtered: 30, completed: 0, inFlight: 0 });
  });

  it('asks an actor stage (a pool) with parallelism and passes its answers on in input order', async () => {
    const system = await start();
    const received: number[] = [];
    const sink = system.spawn(sinkOf(received, 0), { name: 'sink' });
    type Sq = { type: 'square'; n: number };
    const Squarer = defineActor<Sq, undefined>({
      init: () => undefined,
      receive: async (_s, msg, ctx) => {
        await sleep((msg.n * 7) % 5); // answers come back out of order
        ctx.reply(msg.n * msg.n);
      },
    });
    const squarers = system.spawn(pool({ size: 4, routee: Squarer, routing: 'least-loaded' }), { name: 'squarers' });
    const p = pipeline<number>(
      system,
      [
        (n: number): Sq => ({ type: 'square', n }),
        { run: squarers, parallelism: 4, name: 'square' },
        (n: number): Out => ({ type: 'out', value: n }),
      ],
      { name: 'pooled', capacity: 8, to: sink },
    );
    for (let i = 0; i < 60; i++) await p.send(i);
    await p.whenIdle();
    await waitFor(() => received.length === 60, 'the sink to take every value');
    expect(received).toEqual(Array.from({ length: 60 }, (_, i) => i * i));
    expect(p.stages[1]?.path).toBe('/user/pooled.1.square');
  });

  it('runs an actor definition stage as a child of the stage', async () => {
    const system = await start();
    const received: number[] = [];
    const sink = system.spawn(sinkOf(received, 0), { name: 'sink' });
    const Doubler = defineActor<{ type: 'n'; n: number }, undefined>({
      init: () => undefined,
      receive: (_s, msg, ctx) => ctx.reply({ type: 'out', value: msg.n * 2 }),
    });
    const p = pipeline<number>(system, [(n: number) => ({ type: 'n', n }), Doubler], { name: 'def', to: sink });
    for (let i = 0; i < 10; i++) await p.send(i);
    await p.whenIdle();
    await waitFor(() => received.length === 10, 'the sink to take every value');
    expect(received).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
  });

  it('drops a value whose stage throws, counts it as failed and goes on with the next', async () => {
    const system = await start();
    const failures: unknown[] = [];
    system.events.on('failed', (e) => failures.push(e.error));
    const kept: number[] = [];
    const p = pipeline<number>(
      system,
      [
        (n: number) => {
          if (n === 3) throw new Error('bad value 3');
          return n;
        },
        { run: async (n: number) => (n === 7 ? Promise.reject(new Error('bad value 7')) : n), parallelism: 2 },
        (n: number) => void kept.push(n),
      ],
      { name: 'faulty' },
    );
    for (let i = 0; i < 10; i++) await p.send(i);
    await p.whenIdle();
    expect(kept).toEqual([0, 1, 2, 4, 5, 6, 8, 9]);
    expect(p.stats()).toMatchObject({ accepted: 10, failed: 2, inFlight: 0 });
    await waitFor(() => failures.length === 2, 'both failures to reach the supervisor');
    expect(failures.map((e) => (e as Error).message)).toEqual(['bad value 3', 'bad value 7']);
  });

  it('refuses values after stop, once those in flight are through and the stages stopped', async () => {
    const system = await start();
    const kept: number[] = [];
    const p = pipeline<number>(
      system,
      [
        async (n: number) => {
          await sleep(1);
          return n;
        },
        (n: number) => void kept.push(n),
      ],
      {
        name: 'stopping',
      },
    );
    for (let i = 0; i < 5; i++) void p.send(i);
    await p.stop();
    expect(kept).toEqual([0, 1, 2, 3, 4]);
    expect(p.stages.every((s) => !s.isAlive)).toBe(true);
    await expect(p.send(5)).rejects.toBeInstanceOf(PipelineClosedError);
  });

  it('can be built inside an actor, whose children the stages become', async () => {
    const system = await start();
    const seen: number[] = [];
    const Owner = defineActor<{ type: 'go'; n: number }, { send: (n: number) => Promise<void> }>({
      init: (ctx) => {
        const p = pipeline<number>(ctx, [(n: number) => void seen.push(n)], { name: 'inner', capacity: 2 });
        return { send: (n) => p.send(n) };
      },
      receive: (state, msg) => state.send(msg.n),
    });
    const owner: ActorRef<{ type: 'go'; n: number }> = system.spawn(Owner, { name: 'owner' });
    for (let n = 0; n < 10; n++) owner.tell({ type: 'go', n });
    await waitFor(() => seen.length === 10, 'the inner pipeline to handle 10 values');
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(system.select('/user/owner/inner.0').isAlive).toBe(true);
    await tick();
  });

  it('rejects bad arguments at the door with a TypeError naming them', async () => {
    const system = await start();
    const bad: [() => unknown, RegExp][] = [
      [() => pipeline(undefined as never, [(x: unknown) => x]), /parent must be the ActorSystem or an actor's ctx/],
      [() => pipeline(system, []), /stages must be a non-empty array/],
      [() => pipeline(system, [42 as never]), /stage 0 must be a function/],
      [() => pipeline(system, [(x: unknown) => x], { capacity: 0 }), /capacity must be a positive integer, got 0/],
      [
        () => pipeline(system, [{ run: (x: unknown) => x, parallelism: 1.5 }]),
        /stage 0: parallelism must be a positive integer/,
      ],
      [() => pipeline(system, [(x: unknown) => x], { name: 'a/b' }), /name must be a non-empty string without '\/'/],
      [() => pipeline(system, [(x: unknown) => x], { to: {} as never }), /to must be an ActorRef/],
      [
        () => pipeline(system, [(x: unknown) => x], { supervision: 'resume' as never }),
        /supervision must be a SupervisionStrategy/,
      ],
    ];
    for (const [call, message] of bad) {
      expect(call, String(message)).toThrow(TypeError);
      expect(call).toThrow(message);
    }
  });
});
