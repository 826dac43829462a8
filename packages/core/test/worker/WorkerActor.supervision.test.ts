import {
  ActorNotFoundError,
  type ActorRef,
  type ActorSystemOptions,
  decide,
  type Logger,
  restart,
  WorkerActorLoadError,
} from '@troupe/core';
import { describe, expect, it } from 'vitest';
import { collectDeadLetters, useSystem, waitFor } from '../helpers/system.js';
import { BadParentSpec, failure, MissingSpec, NurserySpec, RelaySpec } from './helpers.js';

const useStart = useSystem();
const start = (extra: Partial<ActorSystemOptions> = {}) =>
  useStart({ name: 'worker-supervision', workers: { size: 1 }, askTimeoutMs: 20_000, ...extra });

function busyWait(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {}
}

// Issue 9 item 11: a load error is deterministic; Akka stops a child whose initialisation fails.
describe('a worker actor that cannot be loaded', () => {
  it('is stopped at once by the default strategy and by restart(): no retries, no escalation, the system runs on', async () => {
    const s = await start();
    let restarts = 0;
    s.events.on('restarted', () => restarts++);
    for (const supervision of [undefined, restart().withLimit(5, 60_000)]) {
      const ref = s.spawnWorker(MissingSpec, supervision === undefined ? {} : { supervision });
      const reason = await s.whenTerminated(ref);
      expect(reason.kind).toBe('failed');
      const error = (reason as { error: Error }).error;
      expect(error).toBeInstanceOf(WorkerActorLoadError);
      expect(error.message).toMatch(/DoesNotExist.*no such export/);
      expect(await failure(ref.ask({ type: 'noop' }))).toBeInstanceOf(Error);
    }
    expect(restarts).toBe(0);
    expect(s.state).toBe('running');
  });

  it('can still be retried by a strategy that says so (decide)', async () => {
    const s = await start();
    let restarts = 0;
    s.events.on('restarted', () => restarts++);
    s.spawnWorker(MissingSpec, {
      name: 'retried',
      supervision: decide(() => 'restart')
        .withLimit(2, 60_000)
        .withBackoff({ minMs: 1, maxMs: 2, jitter: 0 }),
    });
    const report = await s.whenShutdown;
    expect(report.exitCode).toBe(1);
    expect(restarts).toBe(2);
  });
});

// Issue 9 item 10: the children of a suspended actor are suspended with it (Akka).
describe('children of a worker actor waiting for its supervisor', () => {
  it('handle nothing until the decision, then go on', async () => {
    const s = await start();
    let decidedAt = 0;
    const nursery = s.spawnWorker(NurserySpec, {
      name: 'nursery',
      // A slow decision on the main thread: the hosted actor stays suspended meanwhile.
      supervision: decide(() => {
        busyWait(400);
        decidedAt = Date.now();
        return 'resume';
      }),
    });
    await nursery.ask({ type: 'failed-at' });
    await new Promise((r) => setTimeout(r, 50));
    const first = await nursery.ask<number[]>({ type: 'ticks' });
    expect(first.length).toBeGreaterThan(0);
    nursery.tell({ type: 'boom' });
    await waitFor(() => decidedAt > 0, 'the decision', 10_000);
    await new Promise((r) => setTimeout(r, 100));
    const failedAt = await nursery.ask<number>({ type: 'failed-at' });
    const ticks = await nursery.ask<number[]>({ type: 'ticks' });
    // The child ticked before and after, never while its parent awaited the decision.
    const during = ticks.filter((t) => t > failedAt + 20 && t < decidedAt - 20);
    expect(during).toEqual([]);
    expect(ticks.some((t) => t >= decidedAt)).toBe(true);
  });
});

describe('select() and worker actors', () => {
  it('finds a child that lives inside a worker thread, through its parent', async () => {
    const s = await start();
    const relay = s.spawnWorker(RelaySpec, { name: 'relay' });
    await relay.ask({ type: 'spawn-local' });
    const selected = s.select<{ type: 'double'; value: number }>('/user/relay/doubler');
    expect(selected.isAlive).toBe(true);
    expect(await selected.ask({ type: 'double', value: 4 })).toBe(8);
    const letters = collectDeadLetters(s);
    const nobody = s.select('/user/relay/nobody');
    expect(await failure(nobody.ask({ type: 'x' }))).toBeInstanceOf(ActorNotFoundError);
    nobody.tell({ type: 'y' });
    await waitFor(() => letters.of('unknown-actor').length >= 2, 'the dead letters of both');
    expect(letters.of('unknown-actor').map((l) => l.recipient)).toContain('/user/relay/nobody');
  });

  it('lets a main-side actor watch a child inside a worker: Terminated when it stops', async () => {
    const s = await start();
    const relay = s.spawnWorker(RelaySpec, { name: 'relay' });
    const child = await relay.ask<ActorRef<{ type: 'double'; value: number }>>({ type: 'spawn-local' });
    const ended = s.whenTerminated(child);
    await s.stop(child);
    expect((await ended).kind).toBe('stopped');
    expect(await failure(child.ask({ type: 'double', value: 1 }))).toBeInstanceOf(Error);
  });
});

// Issue 9 item 1 (logging half): a worker thread logs through the system's logger.
describe('log lines of a worker thread', () => {
  it('go to the logger the system was given, not to stderr', async () => {
    const lines: string[] = [];
    const logger: Logger = {
      debug: () => {},
      info: () => {},
      warn: (m) => lines.push(m),
      error: (m) => lines.push(m),
    };
    const s = await start({ logger });
    const parent = s.spawnWorker(BadParentSpec, { name: 'bad-parent' });
    expect(await parent.ask({ type: 'noop' })).toBe('ok');
    await waitFor(() => lines.some((l) => l.includes('/user/bad-parent/bad-child')), 'the thread-side log line');
    expect(lines.find((l) => l.includes('bad-child'))).toMatch(/child cannot start.*stop/);
  });
});
