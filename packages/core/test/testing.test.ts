import { type ActorRef, defineActor } from '@troupe/core';
import { settle, TestClock, TestProbe } from '@troupe/core/testing';
import { describe, expect, it } from 'vitest';
import { useSystem } from './helpers/system.js';

const start = useSystem();

type Reply = { type: 'done'; job: number } | { type: 'progress'; pct: number };
type WorkerMsg = { type: 'job'; job: number; replyTo: ActorRef<Reply> };
const Worker = defineActor<WorkerMsg, undefined>({
  init: () => undefined,
  receive: (_s, m) => {
    m.replyTo.tell({ type: 'progress', pct: 50 });
    m.replyTo.tell({ type: 'done', job: m.job });
  },
});

describe('TestProbe', () => {
  it('receives what is sent to its ref, in order, and checks it by deep equality or predicate', async () => {
    const system = await start();
    const probe = new TestProbe<Reply>(system);
    const w = system.spawn(Worker);
    w.tell({ type: 'job', job: 7, replyTo: probe.ref });
    await probe.expectMessage({ type: 'progress', pct: 50 });
    const done = await probe.expectMessage((m: Reply) => m.type === 'done' && m.job === 7);
    expect(done).toEqual({ type: 'done', job: 7 });
  });

  it('fails an expectation that is not met, saying what it got', async () => {
    const system = await start();
    const probe = new TestProbe<Reply>(system, 'strict');
    probe.ref.tell({ type: 'done', job: 1 });
    await expect(probe.expectMessage({ type: 'done', job: 2 })).rejects.toThrow(
      /expected \{"type":"done","job":2\}, got \{"type":"done","job":1\}/,
    );
    probe.ref.tell({ type: 'progress', pct: 1 });
    await expect(probe.expectMessage((m: Reply) => m.type === 'done')).rejects.toThrow(/unexpected message/);
  });

  it('fails when no message arrives within the time given', async () => {
    const system = await start();
    const probe = new TestProbe(system);
    await expect(probe.receiveMessage(30)).rejects.toThrow(/no message within 30 ms/);
  });

  it('passes expectNoMessage when nothing arrives, and fails it when something does', async () => {
    const system = await start();
    const probe = new TestProbe<Reply>(system);
    await probe.expectNoMessage(20);
    setTimeout(() => probe.ref.tell({ type: 'progress', pct: 1 }), 5);
    await expect(probe.expectNoMessage(50)).rejects.toThrow(/expected no message for 50 ms/);
    expect(probe.pending).toEqual([{ type: 'progress', pct: 1 }]);
  });

  it('watches an actor and expects its Terminated', async () => {
    const system = await start();
    const probe = new TestProbe(system);
    const w = system.spawn(Worker, { name: 'w' });
    probe.watch(w);
    await settle();
    await system.stop(w);
    const t = await probe.expectTerminated(w);
    expect(t.reason).toEqual({ kind: 'stopped' });
  });

  it('lives under /system, outside the user tree', async () => {
    const system = await start();
    const probe = new TestProbe(system, 'p1');
    expect(probe.ref.path).toBe('/system/p1');
    expect(system.allMetrics()).toEqual([]);
  });
});

describe('TestClock', () => {
  it('fires due timers in due order, ties in scheduling order, and only when advanced', () => {
    const clock = new TestClock();
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('b@20'), 20);
    clock.setTimeout(() => fired.push('a@10'), 10);
    clock.setTimeout(() => fired.push('c@20'), 20);
    const cancelled = clock.setTimeout(() => fired.push('x@15'), 15);
    clock.clearTimeout(cancelled);
    expect(clock.pendingTimers).toBe(3);
    clock.advance(9);
    expect(fired).toEqual([]);
    expect(clock.now()).toBe(9);
    clock.advance(11);
    expect(fired).toEqual(['a@10', 'b@20', 'c@20']);
    expect(clock.now()).toBe(20);
    expect(clock.pendingTimers).toBe(0);
  });

  it('runs a timer scheduled by a timer within the same advance when it falls due', () => {
    const clock = new TestClock();
    const at: number[] = [];
    const again = () => {
      at.push(clock.now());
      if (at.length < 3) clock.setTimeout(again, 10);
    };
    clock.setTimeout(again, 10);
    clock.advance(100);
    expect(at).toEqual([10, 20, 30]);
  });

  it('lets promise callbacks run between timers on tick, so async reactions can schedule the next one', async () => {
    const clock = new TestClock();
    const at: number[] = [];
    const again = async () => {
      at.push(clock.now());
      await Promise.resolve();
      await new Promise((r) => setImmediate(r));
      if (at.length < 3) clock.setTimeout(() => void again(), 10);
    };
    clock.setTimeout(() => void again(), 10);
    await clock.tick(35);
    expect(at).toEqual([10, 20, 30]);
  });

  it('drives ask timeouts of a system deterministically', async () => {
    const clock = new TestClock();
    const system = await start({ clock });
    const silent = system.spawn(defineActor<{ type: 'q' }, undefined>({ init: () => undefined, receive: () => {} }));
    const outcome = silent.ask({ type: 'q' }, { timeoutMs: 1_000 }).then(
      () => 'answered',
      (e: Error) => e.name,
    );
    await new Promise((r) => setTimeout(r, 30)); // real time passes; the test clock does not
    expect(system.outstandingAsks).toBe(1);
    await clock.tick(1_000);
    expect(await outcome).toBe('AskTimeoutError');
  });
});
