import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { threadId as mainThreadId } from 'node:worker_threads';
import { type ActorRef, type ActorSystemOptions, restart, WorkerExitedError } from '@troupe/core';
import { describe, expect, it } from 'vitest';
import { reportOf, runFixture } from '../helpers/child.js';
import { useSystem } from '../helpers/system.js';
import { BrokenInitSpec, CounterSpec, EchoSpec, failure, HogSpec, JournalSpec } from './helpers.js';

const useStart = useSystem();
/** A system with two worker hosts, shut down after each test. */
const start = (extra: Partial<ActorSystemOptions> = {}) =>
  useStart({ name: 'faults', workers: { size: 2 }, askTimeoutMs: 20_000, ...extra });
const threadOf = async (r: ActorRef<{ type: 'thread' }>) =>
  (await r.ask<{ threadId: number }>({ type: 'thread' }, { timeoutMs: 10_000 })).threadId;
const quickRestarts = restart().withLimit(5, 60_000).withBackoff({ minMs: 1, maxMs: 10, jitter: 0 });

// RELIABILITY.md scenarios 8, 9, 12 and 15, with real worker threads. (A cold thread can take seconds to
// start on a loaded machine: asks get 20 s, never the 5 s default.)
describe('worker thread faults', () => {
  it('rejects asks in flight with WorkerExitedError when the worker exits, and restarts the actor on a new thread', async () => {
    const s = await start();
    const echo = s.spawnWorker(EchoSpec, { name: 'echo', host: 0, supervision: quickRestarts });
    const killer = s.spawnWorker(EchoSpec, { name: 'killer', host: 0, supervision: quickRestarts });
    const before = await threadOf(echo);
    expect(await threadOf(killer)).toBe(before);
    const slow = echo.ask({ type: 'slow', ms: 5_000 }, { timeoutMs: 30_000 });
    killer.tell({ type: 'exit', code: 7 });
    const err = await failure(slow);
    expect(err).toBeInstanceOf(WorkerExitedError);
    expect(err.exitCode).toBe(7);
    expect(err.message).toMatch(/hosting \[\/user\/echo\] exited with code 7/);
    const after = await threadOf(echo);
    expect(after).not.toBe(before);
    expect(s.metrics(echo)?.restarts).toBe(1);
  });

  it('keeps the cause when the worker throws in a timer', async () => {
    const s = await start();
    const echo = s.spawnWorker(EchoSpec, { host: 0, supervision: quickRestarts });
    const culprit = s.spawnWorker(EchoSpec, { host: 0, supervision: quickRestarts });
    await culprit.ask({ type: 'count' });
    const slow = echo.ask({ type: 'slow', ms: 5_000 }, { timeoutMs: 30_000 });
    culprit.tell({ type: 'throw-in-timer' });
    const err = await failure(slow);
    expect(err).toBeInstanceOf(WorkerExitedError);
    expect(err.cause.message).toBe('thrown in a timer');
    expect(await echo.ask({ type: 'count' }, { timeoutMs: 10_000 })).toBe(0);
  });

  it('keeps the cause when the worker has an unhandled rejection', async () => {
    const s = await start();
    const echo = s.spawnWorker(EchoSpec, { host: 0, supervision: quickRestarts });
    const culprit = s.spawnWorker(EchoSpec, { host: 0, supervision: quickRestarts });
    await culprit.ask({ type: 'count' });
    const slow = echo.ask({ type: 'slow', ms: 5_000 }, { timeoutMs: 30_000 });
    culprit.tell({ type: 'reject-unhandled' });
    const err = await failure(slow);
    expect(err).toBeInstanceOf(WorkerExitedError);
    expect(String(err.cause?.message)).toMatch(/nobody handles this/);
  });

  it('delivers a reply sent just before the worker dies, then restarts', async () => {
    const s = await start();
    const echo = s.spawnWorker(EchoSpec, { supervision: quickRestarts });
    expect(await echo.ask({ type: 'reply-then-throw' })).toBe('ok');
    await expect.poll(() => s.metrics(echo)?.restarts, { timeout: 10_000 }).toBe(1);
    expect(await echo.ask({ type: 'count' }, { timeoutMs: 10_000 })).toBe(0);
  });

  it('rejects a poison message with its cause, restarts the actor in its thread, and keeps the rest of its mailbox', async () => {
    const s = await start();
    const echo = s.spawnWorker(EchoSpec, { supervision: quickRestarts });
    echo.tell({ type: 'echo', value: 1 });
    const boom = echo.ask({ type: 'boom' });
    for (let i = 2; i <= 50; i++) echo.tell({ type: 'echo', value: i });
    await expect(boom).rejects.toThrow('boom in worker');
    // Fresh state after the restart; the 49 messages queued behind the poison one all arrived.
    expect(await echo.ask({ type: 'seen' }, { timeoutMs: 10_000 })).toEqual(
      Array.from({ length: 49 }, (_, i) => i + 2),
    );
    expect(s.metrics(echo)?.restarts).toBe(1);
  });

  it('queues messages on the main side while the worker actor restarts, and delivers them in order', async () => {
    const s = await start();
    const echo = s.spawnWorker(EchoSpec, { supervision: quickRestarts });
    await echo.ask({ type: 'count' });
    echo.tell({ type: 'exit', code: 1 });
    await expect.poll(() => s.metrics(echo)?.failed, { timeout: 10_000 }).toBe(1);
    for (let i = 0; i < 100; i++) echo.tell({ type: 'echo', value: i });
    expect(await echo.ask({ type: 'seen' }, { timeoutMs: 10_000 })).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('reports an out-of-memory worker with ERR_WORKER_OUT_OF_MEMORY as the cause', async () => {
    const s = await start({
      workers: { size: 1, resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 } },
    });
    const hog = s.spawnWorker(HogSpec, { supervision: quickRestarts });
    const err = await failure(hog.ask({ type: 'hog' }, { timeoutMs: 60_000 }));
    expect(err).toBeInstanceOf(WorkerExitedError);
    expect(err.cause?.code).toBe('ERR_WORKER_OUT_OF_MEMORY');
  });

  it('leaves actors on other hosts untouched when one thread dies', async () => {
    const s = await start();
    const victim = s.spawnWorker(EchoSpec, { name: 'victim', host: 0, supervision: quickRestarts });
    const bystander = s.spawnWorker(CounterSpec, { name: 'bystander', host: 1 });
    for (let i = 0; i < 10; i++) bystander.tell({ type: 'inc' });
    await victim.ask({ type: 'count' });
    victim.tell({ type: 'exit', code: 3 });
    await expect.poll(() => s.metrics(victim)?.restarts, { timeout: 10_000 }).toBe(1);
    expect(await bystander.ask({ type: 'get' })).toBe(10);
    expect(s.metrics(bystander)?.restarts).toBe(0);
  });

  it('does not respawn a worker actor whose init always fails forever: bounded restarts, then escalation', async () => {
    const s = await start();
    let restarts = 0;
    s.events.on('restarted', () => restarts++);
    s.spawnWorker(BrokenInitSpec, {
      name: 'broken',
      supervision: restart().withLimit(2, 60_000).withBackoff({ minMs: 1, maxMs: 5, jitter: 0 }),
    });
    const report = await s.whenShutdown;
    expect(report.cause).toBe('failure');
    expect(report.exitCode).toBe(1);
    expect(report.error).toMatch(/\/user\/broken.*cannot start/);
    expect(restarts).toBe(2);
    expect(s.workerThreads).toBe(0);
  });

  it('runs a worker actor stop hook inside its thread when it is stopped', async () => {
    const s = await start();
    const file = join(mkdtempSync(join(tmpdir(), 'troupe-journal-')), 'journal.txt');
    const journal = s.spawnWorker(JournalSpec, { input: { file } });
    journal.tell({ type: 'note', line: 'one' });
    await journal.ask({ type: 'note', line: 'two' });
    await s.stop(journal);
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(/^one\ntwo\nstopped in thread (\d+)\n$/);
    expect(Number(/thread (\d+)/.exec(text)?.[1])).not.toBe(mainThreadId);
    expect(journal.isAlive).toBe(false);
  });

  it('terminates every host thread at shutdown', async () => {
    const s = await start();
    const a = s.spawnWorker(CounterSpec, { host: 0 });
    const b = s.spawnWorker(CounterSpec, { host: 1 });
    await Promise.all([a.ask({ type: 'get' }), b.ask({ type: 'get' })]);
    expect(s.workerThreads).toBe(2);
    await s.shutdown();
    expect(s.workerThreads).toBe(0);
  });

  it('on SIGTERM runs stop hooks inside threads, terminates a hung thread after its timeout, and exits', {
    timeout: 60_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'troupe-wshutdown-'));
    const child = runFixture('worker-shutdown.ts', [join(dir, 'journal.txt')]);
    await child.waitFor('ready', 30_000);
    child.proc.kill('SIGTERM');
    const { code, ms } = await child.exited;
    const { report, threadsAfter } = reportOf(child) as unknown as {
      report: import('@troupe/core').ShutdownReport;
      threadsAfter: number;
    };
    expect(readFileSync(join(dir, 'journal.txt'), 'utf8')).toMatch(/^before shutdown\nstopped in thread \d+\n$/);
    expect(report.abandoned).toContain('/user/slow-stop');
    expect(threadsAfter).toBe(0);
    expect(code).toBe(3);
    expect(ms).toBeLessThan(30_000);
  });
});
