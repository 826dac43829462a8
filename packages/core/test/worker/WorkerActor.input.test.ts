import { type ActorSystemOptions, restart, UnserializableMessageError } from '@troupe/core';
import { TestProbe } from '@troupe/core/testing';
import { describe, expect, it } from 'vitest';
import { cellOf } from '../../src/internal/LocalActorRef.js';
import type { RemoteProxy } from '../../src/internal/RemoteProxy.js';
import { useSystem } from '../helpers/system.js';
import { failure, InputProbeSpec } from './helpers.js';

const useStart = useSystem();
const start = (extra: Partial<ActorSystemOptions> = {}) =>
  useStart({ name: 'worker-input', workers: { size: 2 }, askTimeoutMs: 20_000, ...extra });

type Seen = { secret: number[]; label: string; threadId: number };

describe('the input of a worker actor is a message taken at the spawn call', () => {
  it('gives the thread the input as it was at the call, even if the caller zeroes it at once', async () => {
    const s = await start();
    const secret = new Uint8Array([7, 1, 2, 3, 250]);
    const input = { secret, label: 'before' };
    const probe = s.spawnWorker(InputProbeSpec, { name: 'probe', input });
    // What PSI does with its key: the caller wipes its copy as soon as spawn returns.
    secret.fill(0);
    input.label = 'after';
    const seen = await probe.ask<Seen>({ type: 'input' });
    expect(seen.secret).toEqual([7, 1, 2, 3, 250]);
    expect(seen.label).toBe('before');
  });

  it('gives a restarted thread the same input again', async () => {
    const s = await start();
    const secret = new Uint8Array([42, 43, 44]);
    const probe = s.spawnWorker(InputProbeSpec, {
      name: 'probe',
      host: 0,
      input: { secret, label: 'x' },
      supervision: restart().withLimit(3, 10_000).withBackoff({ minMs: 1, maxMs: 5, jitter: 0 }),
    });
    secret.fill(0);
    const first = await probe.ask<Seen>({ type: 'input' });
    probe.tell({ type: 'crash' });
    // The thread dies and the proxy restarts the actor in a fresh one.
    let again: Seen | undefined;
    for (let i = 0; i < 100 && again === undefined; i++) {
      try {
        const r = await probe.ask<Seen>({ type: 'input' }, { timeoutMs: 2_000 });
        if (r.threadId !== first.threadId) again = r;
      } catch {
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    expect(again?.secret).toEqual([42, 43, 44]);
  });

  it('swaps a ref inside the input, so the worker actor can use it', async () => {
    const s = await start();
    const target = new TestProbe<{ type: 'from-worker'; text: string; secret: number[] }>(s);
    const probe = s.spawnWorker(InputProbeSpec, {
      name: 'probe',
      input: { secret: new Uint8Array([1]), label: 'ref', target: target.ref },
    });
    probe.tell({ type: 'tell-target', text: 'hi' });
    const got = await target.expectMessage(undefined, 5_000);
    expect(got).toEqual({ type: 'from-worker', text: 'hi', secret: [1] });
  });

  it('refuses an unserialisable input at the call with UnserializableMessageError, spawning nothing', async () => {
    const s = await start();
    const bad = { secret: new Uint8Array([1]), label: 'bad', callback: () => 1 };
    let error: unknown;
    try {
      // biome-ignore lint/suspicious/noExplicitAny: the point is a wrong input
      s.spawnWorker(InputProbeSpec, { name: 'probe', input: bad as any });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UnserializableMessageError);
    expect((error as Error).message).toMatch(/\/user\/probe.*\.callback is a function/);
    expect(s.select('/user/probe').isAlive).toBe(false);
    expect(s.workerThreads).toBe(0);
  });

  it('zeroes the binary data of its own copy of the input when the actor stops for good', async () => {
    const s = await start();
    const probe = s.spawnWorker(InputProbeSpec, {
      name: 'probe',
      input: { secret: new Uint8Array([9, 9, 9, 9]), label: 'k' },
    });
    await probe.ask({ type: 'input' });
    const proxy = cellOf(probe)?.remote as unknown as RemoteProxy;
    const kept = (proxy.input as { secret: Uint8Array }).secret;
    expect([...kept]).toEqual([9, 9, 9, 9]);
    await s.stop(probe);
    expect([...kept]).toEqual([0, 0, 0, 0]);
  });

  it('fails, rather than hangs, an ask to a worker actor whose input held a ref (regression)', async () => {
    // Before the fix, the ref was not encoded: postMessage threw, the proxy's init
    // waited forever, and shutdown waited out its timeouts. Now the actor runs.
    const s = await start({ phaseTimeoutsMs: { drain: 2_000, 'stop-actors': 2_000 } });
    const target = new TestProbe<{ type: 'from-worker'; text: string; secret: number[] }>(s);
    const probe = s.spawnWorker(InputProbeSpec, {
      name: 'probe',
      input: { secret: new Uint8Array([3]), label: 'r', target: target.ref },
    });
    const seen = await probe.ask<Seen>({ type: 'input' }, { timeoutMs: 5_000 });
    expect(seen.label).toBe('r');
    const report = await s.shutdown();
    expect(report.exitCode).toBe(0);
    expect(report.abandoned).toEqual([]);
    await expect(failure(probe.ask({ type: 'input' }))).resolves.toBeInstanceOf(Error);
  });
});
