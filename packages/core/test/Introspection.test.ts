import { defineActor, type IntrospectionSnapshot, restart, summarizeError } from '@troupe/core';
import { describe, expect, it } from 'vitest';
import { gate, useSystem, waitFor } from './helpers/system.js';
import { EchoSpec } from './worker/helpers.js';

const start = useSystem();

type Msg = { type: 'work'; secret?: string } | { type: 'slow'; ms: number } | { type: 'boom' } | { type: 'done' };

const Worker = defineActor<Msg, undefined>({
  name: 'Worker',
  init: () => undefined,
  receive: async (_s, m, ctx) => {
    if (m.type === 'slow') await new Promise((r) => setTimeout(r, m.ms));
    if (m.type === 'boom') throw new Error('boom');
    if (m.type === 'done') ctx.reply(true);
  },
});

const Parent = defineActor<Msg, undefined>({
  init: (ctx) => {
    ctx.spawn(Worker, { name: 'kid' });
    return undefined;
  },
  receive: (_s, m, ctx) => {
    if (m.type === 'done') ctx.reply(true);
  },
});

function actor(s: IntrospectionSnapshot, path: string) {
  const a = s.actors.find((x) => x.path === path);
  if (a === undefined) throw new Error(`no ${path} in the snapshot: ${s.actors.map((x) => x.path).join(', ')}`);
  return a;
}

describe('Introspection', () => {
  it('lists the tree depth first with each actor status, parent and counters', async () => {
    const system = await start();
    const view = system.introspect();
    const p = system.spawn(Parent, { name: 'p' });
    await p.ask({ type: 'done' });
    const kid = system.select('/user/p/kid');
    for (let i = 0; i < 5; i++) kid.tell({ type: 'work' });
    await kid.ask({ type: 'done' });
    // The reply settles the ask just before the handler's turn is counted.
    await waitFor(() => system.metrics(kid)?.processed === 6, 'the six messages to be counted');
    const s = view.snapshot();
    expect(s.actors.map((a) => a.path)).toEqual(['/user/p', '/user/p/kid']);
    expect(actor(s, '/user/p')).toMatchObject({ parent: '/user', status: 'running', kind: undefined });
    expect(actor(s, '/user/p/kid')).toMatchObject({
      parent: '/user/p',
      status: 'running',
      kind: 'Worker',
      processed: 6,
      mailboxDepth: 0,
      definition: Worker,
    });
    expect(s.actorCount).toBe(2);
    expect(s.processedTotal).toBe(7);
    expect(s.state).toBe('running');
    view.dispose();
  });

  it('reports p50 below p99 from the sampled handling times, and the mailbox high-water mark', async () => {
    const system = await start();
    const view = system.introspect();
    const held = gate();
    const a = system.spawn(
      defineActor<Msg, undefined>({
        init: () => held.promise.then(() => undefined),
        receive: async (_s, m, ctx) => {
          if (m.type === 'slow') await new Promise((r) => setTimeout(r, m.ms));
          if (m.type === 'done') ctx.reply(true);
        },
      }),
      { name: 'timed' },
    );
    // 63 fast, 1 slow, then the ask: p50 from the fast ones, p99 at least as slow.
    for (let i = 0; i < 63; i++) a.tell({ type: 'slow', ms: 0 });
    a.tell({ type: 'slow', ms: 60 });
    expect(actor(view.snapshot(), '/user/timed')).toMatchObject({ mailboxDepth: 64, status: 'starting' });
    held.open();
    await a.ask({ type: 'done' }, { timeoutMs: 10_000 });
    const h = actor(view.snapshot(), '/user/timed');
    expect(h.mailboxHighWater).toBe(65);
    expect(h.handlingMs.samples).toBeGreaterThan(0);
    expect(h.handlingMs.p99).toBeGreaterThanOrEqual(h.handlingMs.p50);
    // The quantiles are the metrics API's, kept while the actor takes no new sample.
    expect(h.handlingMs).toEqual(system.metrics(a)?.handlingMs);
    expect(actor(view.snapshot(), '/user/timed').handlingMs).toBe(h.handlingMs);
    view.dispose();
  });

  it('keeps the last error per actor (name and message only) and lists actors that stopped failing', async () => {
    const system = await start();
    const view = system.introspect();
    const a = system.spawn(Worker, { name: 'fragile', supervision: restart().withLimit(1, 60_000) });
    a.tell({ type: 'boom' });
    await waitFor(() => (system.metrics(a)?.restarts ?? 0) === 1, 'the first restart');
    expect(actor(view.snapshot(), '/user/fragile')).toMatchObject({
      restarts: 1,
      failed: 1,
      lastError: { name: 'Error', message: 'boom', directive: 'restart' },
    });
    a.tell({ type: 'boom' }); // over the limit: stopped
    await system.whenTerminated(a);
    const s = view.snapshot();
    expect(s.actors.find((x) => x.path === '/user/fragile')).toBeUndefined();
    expect(s.stopped).toEqual([
      expect.objectContaining({ path: '/user/fragile', reason: 'failed', error: { name: 'Error', message: 'boom' } }),
    ]);
    view.dispose();
  });

  it('stops and restarts an actor by path, and refuses paths with no live actor', async () => {
    const system = await start();
    const view = system.introspect();
    const a = system.spawn(Worker, { name: 'w' });
    await a.ask({ type: 'done' });
    expect(view.restart('/user/w')).toBe(true);
    await waitFor(() => system.metrics(a)?.restarts === 1, 'the restart');
    expect(await a.ask({ type: 'done' })).toBe(true);
    expect(view.stop('/user/nobody')).toBe(false);
    expect(view.restart('/user')).toBe(false);
    expect(view.stop('/user/w')).toBe(true);
    await system.whenTerminated(a);
    expect(view.stop('/user/w')).toBe(false);
    view.dispose();
  });

  it('records the lifecycle transitions of a shutdown and then its report', async () => {
    const system = await start();
    const view = system.introspect();
    await system.shutdown();
    const s = view.snapshot();
    expect(s.transitions.map((t) => t.state)).toEqual([
      'stopping.stopIntake',
      'stopping.drain',
      'stopping.stopActors',
      'stopping.beforeExit',
      'stopped',
    ]);
    expect(s.shutdown?.exitCode).toBe(0);
    expect(s.stopped).toEqual([]); // shutdown stops are not listed one by one
    view.dispose();
  });

  it('shows worker threads with their hosted actors, and the exit code and cause when a thread dies', async () => {
    const system = await start({ workers: { size: 1 } });
    const view = system.introspect();
    const w = system.spawnWorker(EchoSpec, { name: 'echo' });
    expect(await w.ask({ type: 'echo', value: 1 })).toBe(1);
    let s = view.snapshot();
    expect(s.workers.size).toBe(1);
    const first = s.workers.slots[0];
    expect(first).toMatchObject({ index: 0, alive: true, actors: 1, threadsStarted: 1 });
    expect(actor(s, '/user/echo')).toMatchObject({ workerHost: 0, kind: 'worker:Echo' });
    w.tell({ type: 'exit', code: 7 });
    await waitFor(() => view.snapshot().workers.exits.length === 1, 'the exit to be recorded');
    // The supervisor restarts the actor on a fresh thread in the same slot.
    await waitFor(() => system.metrics(w)?.restarts === 1, 'the restart on a new thread');
    expect(await w.ask({ type: 'echo', value: 2 })).toBe(2);
    s = view.snapshot();
    expect(s.workers.exits[0]).toMatchObject({ threadId: first?.threadId, hostIndex: 0, exitCode: 7 });
    expect(s.workers.slots[0]).toMatchObject({ alive: true, threadsStarted: 2 });
    expect(s.workers.slots[0]?.threadId).not.toBe(first?.threadId);
    view.dispose();
  });

  it('stops listening once disposed', async () => {
    const system = await start();
    const before = system.events.listenerCount('failed') + system.events.listenerCount('stopped');
    const view = system.introspect();
    expect(system.events.listenerCount('failed') + system.events.listenerCount('stopped')).toBe(before + 2);
    view.dispose();
    expect(system.events.listenerCount('failed') + system.events.listenerCount('stopped')).toBe(before);
  });

  it('summarises a thrown non-Error by its type only, never its value', () => {
    expect(summarizeError({ type: 'pay', card: '4111' })).toEqual({
      name: 'object',
      message: 'thrown value of type object (not shown)',
    });
    expect(summarizeError(new RangeError('x'.repeat(400))).message).toHaveLength(301);
  });
});
