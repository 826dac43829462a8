import { type ActorSystemOptions, restart, WorkerExitedError } from '@troupe/core';
import { describe, expect, it } from 'vitest';
import { reportOf, runFixture } from '../helpers/child.js';
import { collectDeadLetters, useSystem, waitFor } from '../helpers/system.js';
import { EchoSpec, failure, SinkSpec } from './helpers.js';

const useStart = useSystem();
const start = (extra: Partial<ActorSystemOptions> = {}) =>
  useStart({ name: 'worker-flow', workers: { size: 1 }, askTimeoutMs: 20_000, ...extra });
const quickRestarts = restart().withLimit(5, 60_000).withBackoff({ minMs: 1, maxMs: 10, jitter: 0 });

// Issue 9 item 7: nothing vanishes at a thread boundary.
describe('tells posted to a thread that dies', () => {
  it('become dead letters worker-exited, one per tell its actor had not taken', async () => {
    const s = await start();
    const letters = collectDeadLetters(s);
    const echo = s.spawnWorker(EchoSpec, { name: 'echo', host: 0, supervision: quickRestarts });
    const killer = s.spawnWorker(EchoSpec, { name: 'killer', host: 0, supervision: quickRestarts });
    await Promise.all([echo.ask({ type: 'count' }), killer.ask({ type: 'count' })]);
    // echo is busy for a while; 50 tells wait behind it in its mailbox in the thread.
    const slow = echo.ask({ type: 'slow', ms: 5_000 }, { timeoutMs: 30_000 });
    for (let i = 0; i < 50; i++) echo.tell({ type: 'echo', value: i });
    await waitFor(() => s.loadOf(echo) === 51, 'the tells to reach the thread', 10_000);
    killer.tell({ type: 'exit', code: 4 });
    expect(await failure(slow)).toBeInstanceOf(WorkerExitedError);
    // Recorded with their type, as the dead letters a thread reports itself are.
    const lost = letters.of('worker-exited').filter((l) => l.recipient === '/user/echo');
    expect(lost.map((l) => l.message)).toEqual(Array.from({ length: 50 }, () => ({ type: 'echo' })));
    // The actor restarts on a fresh thread and works again.
    expect(await echo.ask({ type: 'count' }, { timeoutMs: 10_000 })).toBe(0);
  });

  it('are counted in the shutdown report when the thread dies during the drain, which waits for them', async () => {
    const s = await start({ phaseTimeoutsMs: { drain: 10_000 } });
    const echo = s.spawnWorker(EchoSpec, { name: 'echo', host: 0, supervision: quickRestarts });
    const killer = s.spawnWorker(EchoSpec, { name: 'killer', host: 0, supervision: quickRestarts });
    await Promise.all([echo.ask({ type: 'count' }), killer.ask({ type: 'count' })]);
    const slow = failure(echo.ask({ type: 'slow', ms: 3_000 }, { timeoutMs: 30_000 }));
    for (let i = 0; i < 20; i++) echo.tell({ type: 'echo', value: i });
    await waitFor(() => s.loadOf(echo) === 21, 'the tells to reach the thread', 10_000);
    killer.tell({ type: 'exit-in', ms: 500, code: 5 });
    await waitFor(() => s.loadOf(killer) === 0, 'the killer to take its message', 10_000);
    // The drain waits for what the thread has not taken yet; the thread dies meanwhile.
    const report = await s.shutdown();
    expect(await slow).toBeInstanceOf(WorkerExitedError);
    expect(report.deadLettersByReason['worker-exited']).toBe(20);
    expect(report.phases.find((p) => p.phase === 'drain')?.timedOut).toBe(false);
    expect(report.exitCode).toBe(0);
  });
});

// Issue 9 item 8: backpressure crosses into the thread.
describe('flow control between a proxy and its worker actor', () => {
  it('bounds memory end to end under a 10x burst into a backpressure mailbox: send waits for the thread', {
    timeout: 60_000,
  }, async () => {
    // In a child process run with --expose-gc, so live memory is measured (after a
    // collection) on both sides of the thread, not garbage waiting for one.
    const child = runFixture('flow-burst.ts', ['20', '5'], {}, ['--expose-gc']);
    const { code } = await child.exited;
    expect(code, child.stderr()).toBe(0);
    const m = reportOf(child) as unknown as {
      burst: number;
      capacity: number;
      consumerMs: number;
      loopMs: number;
      taken: number;
      threadLiveMiB: number;
      mainLiveMiB: number;
      rssGrowthMiB: number;
    };
    expect(m.taken).toBe(m.burst);
    // The 200 MiB burst never sits anywhere at once. In the thread: at most the window
    // (= the mailbox capacity, 20 messages of 1 MiB) and the one in hand.
    expect(m.threadLiveMiB).toBeLessThan(m.capacity + 4);
    // On the main side: the mailbox, the one the proxy holds, and the window it has
    // sent but the actor has not taken yet (kept for the dead letters of a crash).
    expect(m.mainLiveMiB).toBeLessThan(3 * m.capacity + 8);
    expect(m.rssGrowthMiB).toBeLessThan(m.burst / 2);
    // send waited: the producer went no faster than the consumer, less what fits in flight.
    expect(m.loopMs).toBeGreaterThanOrEqual((m.burst - 2 * m.capacity - 2) * m.consumerMs);
  });

  it('stops a flooded worker actor within its stop budget: the Stop does not queue behind the flood', async () => {
    const lines: string[] = [];
    const capture = (m: string) => {
      lines.push(m);
    };
    const s = await start({
      stopTimeoutMs: 3_000,
      logger: { debug: () => {}, info: () => {}, warn: capture, error: capture },
    });
    const letters = collectDeadLetters(s);
    const sink = s.spawnWorker(SinkSpec, { name: 'flooded', input: { ms: 0 } });
    await sink.ask({ type: 'stats' });
    for (let i = 0; i < 100_000; i++) sink.tell({ type: 'spin', ms: 0.05 });
    await new Promise((r) => setTimeout(r, 50));
    const t0 = performance.now();
    await s.stop(sink);
    const ms = performance.now() - t0;
    expect(ms).toBeLessThan(3_000);
    expect(lines.filter((l) => /did not finish/.test(l))).toEqual([]);
    // What the actor had not handled is accounted for, on both sides of the thread.
    const stopped = letters.of('actor-stopped').filter((l) => l.recipient === '/user/flooded').length;
    expect(stopped).toBeGreaterThan(50_000);
  });
});
