import { type ActorRef, ActorStoppedError, defineActor, restart, resume } from '@troupe/core';
import { TestClock } from '@troupe/core/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { collectDeadLetters, gate, useSystem, waitFor } from './helpers/system.js';

const start = useSystem();

describe('property: per-pair FIFO', () => {
  it('delivers each sender`s messages in send order, whatever the interleaving, async gaps and throughput', async () => {
    const system = await start();
    type RMsg = { type: 'm'; from: number; seq: number; slow: boolean } | { type: 'count' };
    type SMsg = { type: 'go'; to: ActorRef<RMsg>; plan: { slow: boolean; pause: boolean }[] };
    const Sender = defineActor<SMsg, undefined, number>({
      init: () => undefined,
      receive: async (_s, m, ctx) => {
        let seq = 0;
        for (const step of m.plan) {
          if (step.pause) await new Promise((r) => setImmediate(r));
          m.to.tell({ type: 'm', from: ctx.input, seq: seq++, slow: step.slow });
        }
        ctx.reply(seq);
      },
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.record({ slow: fc.boolean(), pause: fc.boolean() }), { maxLength: 60 }), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.integer({ min: 1, max: 20 }),
        async (plans, throughput) => {
          const got: { from: number; seq: number }[] = [];
          const receiver = system.spawn(
            defineActor<RMsg, undefined>({
              init: () => undefined,
              receive: async (_s, m, ctx) => {
                if (m.type === 'count') return ctx.reply(got.length);
                if (m.slow) await Promise.resolve();
                got.push({ from: m.from, seq: m.seq });
              },
            }),
            { mailbox: { throughput } },
          );
          const senders = plans.map((_, i) => system.spawn(Sender, { input: i }));
          await Promise.all(senders.map((s, i) => s.ask({ type: 'go', to: receiver, plan: plans[i] ?? [] })));
          const total = plans.reduce((n, p) => n + p.length, 0);
          await waitFor(() => got.length === total, 'every message');
          for (let i = 0; i < plans.length; i++) {
            const seqs = got.filter((g) => g.from === i).map((g) => g.seq);
            expect(seqs).toEqual(Array.from({ length: plans[i]?.length ?? 0 }, (_, k) => k));
          }
          await Promise.all([receiver, ...senders].map((r) => system.stop(r)));
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('property: bounded mailboxes', () => {
  it('never queue more than capacity, and keep exactly what the overflow policy says', async () => {
    const system = await start();
    const dead = collectDeadLetters(system);
    await fc.assert(
      fc.asyncProperty(
        fc
          .integer({ min: 1, max: 16 })
          .chain((capacity) => fc.tuple(fc.constant(capacity), fc.integer({ min: 0, max: 10 * capacity }))),
        fc.constantFrom('drop-newest' as const, 'drop-oldest' as const, 'reject' as const),
        async ([capacity, n], overflow) => {
          const ready = gate();
          const handled: number[] = [];
          const ref = system.spawn(
            defineActor<{ type: 'n'; i: number }, undefined>({
              init: () => ready.promise.then(() => undefined),
              receive: (_s, m) => {
                handled.push(m.i);
              },
            }),
            { mailbox: { capacity, overflow } },
          );
          dead.letters.length = 0;
          let thrown = 0;
          for (let i = 0; i < n; i++) {
            try {
              ref.tell({ type: 'n', i });
            } catch {
              thrown++;
            }
            expect(system.metrics(ref)?.mailboxDepth).toBeLessThanOrEqual(capacity);
          }
          const kept = Math.min(n, capacity);
          const all = Array.from({ length: n }, (_, i) => i);
          const expected = overflow === 'drop-oldest' ? all.slice(n - kept) : all.slice(0, kept);
          expect(system.metrics(ref)?.mailboxHighWater).toBe(kept);
          if (overflow === 'reject') expect(thrown).toBe(n - kept);
          else expect(dead.of('mailbox-full').length).toBe(n - kept);
          ready.open();
          await waitFor(() => handled.length === kept, 'kept messages');
          expect(handled).toEqual(expected);
          await system.stop(ref);
        },
      ),
      { numRuns: 80 },
    );
  });
});

describe('property: restart limits', () => {
  it('restart a failing child while fewer than N restarts fall in the window, then stop it, never more', async () => {
    const clock = new TestClock();
    const system = await start({ clock });
    type CMsg = { type: 'boom' } | { type: 'ping' };
    const Child = defineActor<CMsg, undefined>({
      init: () => undefined,
      receive: (_s, m, ctx) => {
        if (m.type === 'boom') throw new Error('boom');
        ctx.reply('pong');
      },
    });
    type PMsg = { type: 'spawn'; maxRestarts: number; windowMs: number };
    const Parent = defineActor<PMsg, undefined>({
      init: () => undefined,
      receive: (_s, m, ctx) =>
        ctx.reply(ctx.spawn(Child, { supervision: restart().withLimit(m.maxRestarts, m.windowMs) })),
    });
    // The parent resumes after each escalated RestartLimitExceededError.
    const parent = system.spawn(Parent, { name: 'parent', supervision: resume() });
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 4 }),
        fc.integer({ min: 1, max: 1_000 }).chain((windowMs) =>
          fc.tuple(
            fc.constant(windowMs),
            // Gaps around the window's edges, where an off-by-one would show.
            fc.array(
              fc.oneof(
                fc.integer({ min: 0, max: 2 * windowMs }),
                fc.constantFrom(0, 1, windowMs - 1, windowMs, windowMs + 1, Math.ceil(windowMs / 2)),
              ),
              { minLength: 1, maxLength: 12 },
            ),
          ),
        ),
        async (maxRestarts, [windowMs, gaps]) => {
          const child = await parent.ask<ActorRef<CMsg>>({ type: 'spawn', maxRestarts, windowMs });
          // Model: a failure at time t restarts iff fewer than maxRestarts restarts happened in (t - windowMs, t].
          const times: number[] = [];
          let modelStopAt = -1;
          let now = clock.now();
          for (let k = 0; k < gaps.length; k++) {
            now += gaps[k] ?? 0;
            const recent = times.filter((x) => now - x < windowMs);
            if (recent.length >= maxRestarts) {
              modelStopAt = k;
              break;
            }
            times.splice(0, times.length, ...recent, now);
          }
          let stoppedAt = -1;
          for (let k = 0; k < gaps.length; k++) {
            await clock.tick(gaps[k] ?? 0);
            child.tell({ type: 'boom' });
            const outcome = await child.ask({ type: 'ping' }).then(
              () => 'restarted',
              (e) => (e instanceof ActorStoppedError ? 'stopped' : `other ${e}`),
            );
            if (outcome === 'stopped') {
              stoppedAt = k;
              break;
            }
            expect(outcome).toBe('restarted');
          }
          expect(stoppedAt).toBe(modelStopAt);
          const restarts = system.metrics(child)?.restarts ?? -1;
          expect(restarts).toBe(modelStopAt === -1 ? gaps.length : modelStopAt);
          if (stoppedAt === -1) await system.stop(child);
          expect(child.isAlive).toBe(false);
        },
      ),
      { numRuns: 100 },
    );
    expect(parent.isAlive).toBe(true);
  });
});
