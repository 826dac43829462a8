import { type ActorRef, ActorSystem, defineActor, silentLogger } from '@troupe/core';
import { afterEach, describe, expect, it } from 'vitest';

let system: ActorSystem | undefined;
afterEach(async () => {
  await system?.shutdown();
  system = undefined;
});
const start = () =>
  ActorSystem.start({ name: 'drain', signals: false, logger: silentLogger }).then((s) => {
    system = s;
    return s;
  });

describe('draining work that spans awaits', () => {
  it('lets a send made with ctx.tell after an await pass the intake gate during drain', async () => {
    const s = await start();
    const received: string[] = [];
    const Sink = defineActor<{ type: 'item'; via: string }, undefined>({
      init: () => undefined,
      receive: (_s, m) => {
        received.push(m.via);
      },
    });
    const sink = s.spawn(Sink, { name: 'sink' });
    const Stage = defineActor<{ type: 'go' }, undefined, ActorRef<{ type: 'item'; via: string }>>({
      init: () => undefined,
      receive: async (_s, _m, ctx) => {
        await new Promise((r) => setTimeout(r, 20));
        ctx.tell(ctx.input, { type: 'item', via: 'ctx.tell' });
        ctx.input.tell({ type: 'item', via: 'ref.tell' });
      },
    });
    const stage = s.spawn(Stage, { name: 'stage', input: sink });
    stage.tell({ type: 'go' });
    await new Promise((r) => setTimeout(r, 5));
    const report = await s.shutdown();
    expect(received).toEqual(['ctx.tell']);
    // The plain ref.tell after an await is indistinguishable from outside intake: refused and recorded.
    expect(report.deadLettersByReason['shutting-down']).toBe(1);
  });

  it('waits in the drain phase for work declared with ctx.inFlight', async () => {
    const s = await start();
    let finished = false;
    const Holder = defineActor<{ type: 'start' }, undefined>({
      init: () => undefined,
      receive: (_s, _m, ctx) => {
        void ctx.inFlight(
          new Promise<void>((r) =>
            setTimeout(() => {
              finished = true;
              r();
            }, 100),
          ),
        );
      },
    });
    const h = s.spawn(Holder);
    h.tell({ type: 'start' });
    await new Promise((r) => setTimeout(r, 5));
    expect(s.isShuttingDown).toBe(false);
    const done = s.shutdown();
    expect(s.isShuttingDown).toBe(true);
    const report = await done;
    expect(finished).toBe(true);
    expect(report.phases.find((p) => p.phase === 'drain')?.durationMs).toBeGreaterThanOrEqual(50);
  });

  it('yields to timers between turns even when every handler is async', async () => {
    const s = await start();
    const Async = defineActor<{ type: 'x' }, undefined>({
      init: () => undefined,
      receive: async () => {},
      mailbox: { throughput: 100 },
    });
    const a = s.spawn(Async);
    let ticksDuringWork = 0;
    const timer = setInterval(() => {
      if (s.loadOf(a) > 0) ticksDuringWork++;
    }, 0);
    for (let i = 0; i < 50_000; i++) a.tell({ type: 'x' });
    await new Promise<void>((resolve) => {
      const check = () => (s.loadOf(a) === 0 ? resolve() : setTimeout(check, 1));
      check();
    });
    clearInterval(timer);
    expect(ticksDuringWork).toBeGreaterThan(0);
    expect(s.metrics(a)?.processed).toBe(50_000);
  });
});

describe('refusals the sender can see', () => {
  it('rejects ref.send with ShuttingDownError (and records a dead letter) once intake is closed', async () => {
    const s = await start();
    const Sink = defineActor<{ type: 'x' }, undefined>({ init: () => undefined, receive: () => undefined });
    const sink = s.spawn(Sink);
    let refused: unknown;
    s.onShutdown('stop-intake', 'late-sender', async () => {
      await new Promise((r) => setTimeout(r, 1)); // no longer the hook's synchronous part: outside intake
      refused = await sink.send({ type: 'x' }).catch((e) => e);
    });
    const report = await s.shutdown();
    expect((refused as Error).name).toBe('ShuttingDownError');
    expect(report.deadLettersByReason['shutting-down']).toBe(1);
  });

  it('rejects ref.send with MailboxFullError when a drop-newest mailbox drops it', async () => {
    const s = await start();
    const Slow = defineActor<{ type: 'x' }, undefined>({
      init: () => undefined,
      receive: () => new Promise((r) => setTimeout(r, 50)),
      mailbox: { capacity: 1, overflow: 'drop-newest' },
    });
    const slow = s.spawn(Slow);
    await slow.send({ type: 'x' });
    await new Promise((r) => setTimeout(r, 5)); // the first is in flight
    await slow.send({ type: 'x' }); // fills the one slot
    await expect(slow.send({ type: 'x' })).rejects.toMatchObject({ name: 'MailboxFullError' });
    expect(s.deadLetters.count('mailbox-full')).toBe(1);
  });

  it('tells an actor whether the current message expects a reply', async () => {
    const s = await start();
    const seen: boolean[] = [];
    const Probe = defineActor<{ type: 'q' }, undefined>({
      init: () => undefined,
      receive: (_s, _m, ctx) => {
        seen.push(ctx.expectsReply);
        if (ctx.expectsReply) ctx.reply('yes');
        seen.push(ctx.expectsReply);
      },
    });
    const p = s.spawn(Probe);
    p.tell({ type: 'q' });
    expect(await p.ask({ type: 'q' })).toBe('yes');
    expect(seen).toEqual([false, false, true, false]);
  });
});

describe('ctx.send', () => {
  it('passes the intake gate after an await, and the refusal of a plain send names the operation', async () => {
    const s = await start();
    const got: string[] = [];
    const Sink = defineActor<{ type: 'item'; via: string }, undefined>({
      init: () => undefined,
      receive: (_s, m) => {
        got.push(m.via);
      },
      mailbox: { capacity: 4, overflow: 'backpressure' },
    });
    const sink = s.spawn(Sink);
    let refused: Error | undefined;
    const Stage = defineActor<{ type: 'go' }, undefined>({
      init: () => undefined,
      receive: async (_s, _m, ctx) => {
        await new Promise((r) => setTimeout(r, 20));
        await ctx.send(sink, { type: 'item', via: 'ctx.send' });
        refused = await sink.send({ type: 'item', via: 'ref.send' }).then(
          () => undefined,
          (e) => e,
        );
      },
    });
    s.spawn(Stage).tell({ type: 'go' });
    await new Promise((r) => setTimeout(r, 5));
    await s.shutdown();
    expect(got).toEqual(['ctx.send']);
    expect(refused?.message).toMatch(/send to \[\/user\/\$\w+\] with message of type \[item\] was refused/);
  });
});

// Issue 9 item 3: a child waiting out a restart backoff is stopped at once by shutdown (OTP).
describe('shutdown during a restart backoff', () => {
  it('stops the child at once: its queued tells become dead letters, its asks reject, exit 0', async () => {
    const s = await start();
    const { ActorStoppedError, restart } = await import('@troupe/core');
    const Flaky = defineActor<{ type: 'boom' } | { type: 'work' } | { type: 'ask' }, undefined>({
      init: () => undefined,
      receive: (_s, m, ctx) => {
        if (m.type === 'boom') throw new Error('flaky');
        if (m.type === 'ask') ctx.reply('answered');
      },
    });
    const flaky = s.spawn(Flaky, {
      name: 'flaky',
      supervision: restart().withBackoff({ minMs: 60_000, maxMs: 60_000, jitter: 0 }),
    });
    flaky.tell({ type: 'boom' });
    await new Promise((r) => setTimeout(r, 20)); // now in its 60 s backoff
    for (let i = 0; i < 3; i++) flaky.tell({ type: 'work' });
    const asked = flaky.ask({ type: 'ask' }, { timeoutMs: 60_000 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    const report = await s.shutdown();
    expect(report.exitCode).toBe(0);
    expect(report.abandoned).toEqual([]);
    const drain = report.phases.find((p) => p.phase === 'drain');
    expect(drain?.timedOut).toBe(false);
    expect(report.durationMs).toBeLessThan(5_000);
    expect(await asked).toBeInstanceOf(ActorStoppedError);
    expect(report.deadLettersByReason['actor-stopped']).toBe(4);
    system = undefined;
  });
});
