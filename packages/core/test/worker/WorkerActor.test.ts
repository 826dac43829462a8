import { threadId as mainThreadId } from 'node:worker_threads';
import {
  type ActorRef,
  type ActorSystemOptions,
  AskTimeoutError,
  defineActor,
  stop,
  UnserializableMessageError,
  WorkerActorLoadError,
} from '@troupe/core';
import { TestProbe } from '@troupe/core/testing';
import { describe, expect, it } from 'vitest';
import { reportOf, runFixture } from '../helpers/child.js';
import { collectDeadLetters, useSystem, waitFor } from '../helpers/system.js';
import { CounterSpec, EchoSpec, failure, MissingSpec, RelaySpec } from './helpers.js';

const useStart = useSystem();
/** A system with two worker hosts, shut down after each test. */
const start = (extra: Partial<ActorSystemOptions> = {}) =>
  useStart({ name: 'workers', workers: { size: 2 }, askTimeoutMs: 20_000, ...extra });

describe('actors on worker threads', () => {
  it('answers asks from another thread behind the same ActorRef API', async () => {
    const s = await start();
    const echo = s.spawnWorker(EchoSpec, { name: 'echo', input: { tag: 'hello' } });
    expect(echo.path).toBe('/user/echo');
    expect(await echo.ask({ type: 'echo', value: { a: [1, 2] } })).toEqual({ a: [1, 2] });
    const where = await echo.ask<{ threadId: number; tag: string }>({ type: 'thread' });
    expect(where.threadId).not.toBe(mainThreadId);
    expect(where.tag).toBe('hello');
    expect(s.workerThreads).toBe(1);
  });

  it('an ask that times out gives up its place on the link: unanswered asks do not pile up there, and a reply after the timeout is a late-reply dead letter naming the actor', async () => {
    const s = await start();
    const echo = s.spawnWorker(EchoSpec, { name: 'silent', host: 0 });
    expect(await echo.ask({ type: 'count' })).toBe(0);
    const dead = collectDeadLetters(s);
    const introspection = s.introspect();
    const pendingOnLink = () => introspection.snapshot().workers.slots[0]?.pendingAsks;
    const unanswered = Array.from({ length: 500 }, () => echo.ask({ type: 'ignore' }, { timeoutMs: 100 }));
    await waitFor(() => pendingOnLink() === 500, 'the asks to be on the link');
    for (const error of await Promise.all(unanswered.map(failure))) expect(error).toBeInstanceOf(AskTimeoutError);
    expect(pendingOnLink()).toBe(0);
    // Answered after its timeout: the reply finds no ask, and is recorded under the actor asked.
    expect(await failure(echo.ask({ type: 'slow', ms: 300 }, { timeoutMs: 50 }))).toBeInstanceOf(AskTimeoutError);
    expect(pendingOnLink()).toBe(0);
    await waitFor(() => dead.of('late-reply').length === 1, 'the late reply');
    expect(dead.of('late-reply')[0]).toMatchObject({ recipient: '/user/silent', message: 'slow done' });
    // The link still answers.
    expect(await echo.ask({ type: 'count' })).toBe(0);
    introspection.dispose();
  });

  it('keeps per-sender FIFO order across the thread boundary', async () => {
    const s = await start();
    const echo = s.spawnWorker(EchoSpec);
    for (let i = 0; i < 10_000; i++) echo.tell({ type: 'echo', value: i });
    const seen = await echo.ask<number[]>({ type: 'seen' }, { timeoutMs: 30_000 });
    expect(seen).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
  });

  it('places actors on the least-loaded host, or on the host named', async () => {
    const s = await start();
    const a = s.spawnWorker(EchoSpec, { name: 'a' });
    const b = s.spawnWorker(EchoSpec, { name: 'b' });
    const c = s.spawnWorker(EchoSpec, { name: 'c', host: 0 });
    const tid = async (r: ActorRef<{ type: 'thread' }>) =>
      (await r.ask<{ threadId: number }>({ type: 'thread' })).threadId;
    const [ta, tb, tc] = [await tid(a), await tid(b), await tid(c)];
    expect(ta).not.toBe(tb);
    expect(tc).toBe(ta);
    expect(s.workerThreads).toBe(2);
    expect(() => s.spawnWorker(EchoSpec, { host: 5 })).toThrow(
      /host must be 'least-loaded' or an index in \[0, 1\], got 5/,
    );
  });

  it('refuses a function or a class instance at the sender, enqueuing nothing', async () => {
    const s = await start();
    const echo = s.spawnWorker(EchoSpec);
    class Point {
      constructor(readonly x: number) {}
    }
    expect(() => echo.tell({ type: 'echo', value: () => 1 })).toThrow(UnserializableMessageError);
    expect(() => echo.tell({ type: 'echo', value: new Point(1) })).toThrow(/instance of class Point/);
    const err = await failure(echo.ask({ type: 'echo', value: { deep: [{ fn: Math.max }] } }));
    expect(err).toBeInstanceOf(UnserializableMessageError);
    expect(err.message).toMatch(/cannot be structured-cloned \(functions and class instances do not cross threads\)/);
    expect(err.message).toMatch(/\$\.value\.deep\[0\]\.fn is a function/);
    expect(err.message).toMatch(/\[\/user\/\$\w+\]/);
    expect(await echo.ask({ type: 'count' })).toBe(0);
  });

  it('turns an unserialisable reply inside the worker into an error reply, not a timeout', async () => {
    const s = await start();
    const echo = s.spawnWorker(EchoSpec);
    const err = await failure(echo.ask({ type: 'bad-reply' }, { timeoutMs: 60_000 }));
    expect(err.name).toBe('UnserializableMessageError');
    expect(err.code).toBe('ERR_UNSERIALIZABLE_MESSAGE');
  });

  it('keeps name, message, stack, cause and custom fields of errors that cross the boundary', async () => {
    const s = await start();
    const echo = s.spawnWorker(EchoSpec);
    const err = await failure(echo.ask({ type: 'error-with-code' }));
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toBe('custom failure');
    expect(err.code).toBe('E_CUSTOM');
    expect(err.detail).toBe(42);
    expect(err.stack).toMatch(/actors\.ts/);
  });

  it('passes refs by message both ways: a worker actor tells and asks main-side actors', async () => {
    const s = await start();
    const relay = s.spawnWorker(RelaySpec, { name: 'relay' });
    const probe = new TestProbe<{ type: 'hello'; from: string; self: ActorRef<{ type: 'spawn-local' }> }>(s);
    relay.tell({ type: 'relay', to: probe.ref });
    const hello = await probe.expectMessage(undefined, 5_000);
    expect(hello.from).toBe('/user/relay');
    // The ref the worker sent is its own, routed back through its proxy.
    expect(hello.self.path).toBe('/user/relay');
    const Main = defineActor<{ type: 'get' }, undefined>({
      init: () => undefined,
      receive: (_s, _m, ctx) => ctx.reply('from main'),
    });
    const main = s.spawn(Main, { name: 'main' });
    expect(await relay.ask({ type: 'ask-main', to: main })).toBe('from main');
  });

  it('lets a worker actor spawn local children in its thread, reachable by a ref passed back', async () => {
    const s = await start();
    const relay = s.spawnWorker(RelaySpec, { name: 'relay' });
    const child = await relay.ask<ActorRef<{ type: 'double'; value: number }>>({ type: 'spawn-local' });
    expect(child.path).toBe('/user/relay/doubler');
    expect(await child.ask({ type: 'double', value: 21 })).toBe(42);
    expect(await relay.ask({ type: 'via-child', value: 5 })).toBe(10);
  });

  it('moves an ArrayBuffer without copying when the sender opts in to transfer', async () => {
    const s = await start();
    const echo = s.spawnWorker(EchoSpec);
    const bytes = new Uint8Array([1, 2, 3, 4]);
    const back = await echo.ask<Uint8Array>({ type: 'echo', value: bytes }, { transfer: [bytes.buffer] });
    expect(bytes.byteLength).toBe(0); // detached here: it was moved, not copied
    expect([...back]).toEqual([1, 2, 3, 4]);
    const kept = new Uint8Array([9]);
    await echo.ask({ type: 'echo', value: kept });
    expect(kept.byteLength).toBe(1); // without transfer, a copy
  });

  it('fails a worker actor whose export does not exist with WorkerActorLoadError, to its supervisor', async () => {
    const s = await start();
    const ref = s.spawnWorker(MissingSpec, { name: 'missing', supervision: stop() });
    const reason = await s.whenTerminated(ref);
    expect(reason.kind).toBe('failed');
    const error = (reason as { error: Error }).error;
    expect(error.name).toBe('WorkerActorLoadError');
    expect(error.message).toMatch(/DoesNotExist.*no such export \(exports: .*Echo/);
    expect(WorkerActorLoadError.name).toBe('WorkerActorLoadError');
  });

  it('counts a sync worker actor one message at a time from many senders', async () => {
    const s = await start();
    const counter = s.spawnWorker(CounterSpec);
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        for (let i = 0; i < 1000; i++) counter.tell({ type: 'inc' });
      }),
    );
    expect(await counter.ask({ type: 'get' })).toBe(10_000);
  });

  it('starts worker actors in a process run with flags Node refuses in workers (--expose-gc, --max-old-space-size)', async () => {
    const child = runFixture('worker-flags.ts', [], {}, ['--expose-gc', '--max-old-space-size=512']);
    const { code } = await child.exited;
    expect(code, child.stderr()).toBe(0);
    expect(reportOf(child)).toMatchObject({ count: 1, gc: 'function' });
  });

  it('starts worker actors after the program has chdir()ed away from where --import tsx resolves (no restart storm)', async () => {
    const child = runFixture('worker-after-chdir.ts');
    const { code } = await child.exited;
    expect(code, child.stderr()).toBe(0);
    expect(reportOf(child)).toMatchObject({ count: 1, restarts: 0, report: { exitCode: 0 } });
  });

  it('loses nothing when a burst outruns a worker actor (the thread pauses reading its port and resumes)', async () => {
    const s = await start();
    const counter = s.spawnWorker(CounterSpec);
    for (let i = 0; i < 200_000; i++) counter.tell({ type: 'inc' });
    expect(await counter.ask({ type: 'get' }, { timeoutMs: 60_000 })).toBe(200_000);
    // Other messages still get through after the burst.
    expect(await counter.ask({ type: 'ping' })).toBe('pong');
  });
});
