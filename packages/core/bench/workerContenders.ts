/**
 * The runs of the worker suite, one function per contender and case (written
 * out per contender, as in `contenders.ts`, so no call site turns polymorphic).
 * The thread-side code is in `threads/`.
 */

import type { Worker } from 'node:worker_threads';
import type { ActorRef } from '@troupe/core';
import type { Piscina } from 'piscina';
import type { Tinypool } from 'tinypool';
import { type RunResult, tick } from './contenders.js';
import type { CounterMsg, HashMsg } from './threads/actors.js';

export { type RunResult, tick };

/** Long enough for a million queued tells to drain on a busy machine: the runs measure speed, not timeouts. */
const ASK_TIMEOUT = { timeoutMs: 120_000 };

function completion(): { promise: Promise<void>; done: () => void } {
  let done!: () => void;
  const promise = new Promise<void>((resolve) => {
    done = resolve;
  });
  return { promise, done };
}

function check(result: RunResult, seen: number, expected: number): RunResult {
  if (seen !== expected) result.problem = `expected ${expected}, saw ${seen}`;
  return result;
}

/** Median and 99th percentile of round-trip times, in µs. */
function latencies(ms: Float64Array): number[] {
  const s = ms.slice().sort();
  const at = (q: number) => (s[Math.min(s.length - 1, Math.floor(q * s.length))] as number) * 1e3;
  return [at(0.5), at(0.99)];
}

/**
 * CPU time of the whole process (every thread) over wall time since `c0`: how
 * many cores the run actually got. On a shared machine a 2-thread run that gets
 * ~1 core cannot scale, whatever the runtime does.
 */
function coresBusy(c0: NodeJS.CpuUsage, ms: number): number {
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1e3 / ms;
}

// ------------------------------------------------------------------ raw worker_threads

/**
 * Request/response over a bare worker whose script answers every post with
 * exactly one post, in order: a FIFO of resolvers is all the bookkeeping needed.
 */
export class RawRpc {
  private readonly waiting: ((v: unknown) => void)[] = [];
  constructor(readonly worker: Worker) {
    worker.on('message', (v) => (this.waiting.shift() as (v: unknown) => void)(v));
  }
  call<R>(message: unknown): Promise<R> {
    return new Promise<R>((resolve) => {
      this.waiting.push(resolve as (v: unknown) => void);
      this.worker.postMessage(message);
    });
  }
}

/** Attach one message handler per worker; returns the function that detaches them. */
function listen<T>(workers: readonly Worker[], handlers: readonly ((v: T) => void)[]): () => void {
  workers.forEach((w, i) => {
    w.on('message', handlers[i] as (v: T) => void);
  });
  return () => {
    workers.forEach((w, i) => {
      w.off('message', handlers[i] as (v: T) => void);
    });
  };
}

/** One `x + 1` task per post and per reply; `window` tasks in flight over the workers; timed until the last reply. */
export async function rawPerPost(workers: readonly Worker[], n: number, window: number): Promise<RunResult> {
  const { promise, done } = completion();
  let sent = 0;
  let replied = 0;
  let sum = 0;
  const handlers = workers.map((w) => (v: number) => {
    sum += v;
    if (++replied === n) done();
    else if (sent < n) w.postMessage(sent++);
  });
  const off = listen(workers, handlers);
  const t0 = performance.now();
  for (let i = 0; i < window && sent < n; i++) (workers[i % workers.length] as Worker).postMessage(sent++);
  await promise;
  const ms = performance.now() - t0;
  off();
  // Each task answers x + 1 for x in 0..n-1.
  return check({ values: [(n / ms) * 1e3] }, sum, (n * (n + 1)) / 2);
}

/** `per` numbers per post (a fresh array each time), `inflight` posts in flight per worker; msg/s counts numbers. */
export async function rawBatched(
  workers: readonly Worker[],
  n: number,
  per: number,
  inflight: number,
): Promise<RunResult> {
  const posts = Math.ceil(n / per);
  const { promise, done } = completion();
  let sent = 0;
  let replied = 0;
  let count = 0;
  const batch = () => {
    const a: number[] = new Array(per);
    const base = sent++ * per;
    for (let i = 0; i < per; i++) a[i] = base + i;
    return a;
  };
  const handlers = workers.map((w) => (a: number[]) => {
    count += a.length;
    if (++replied === posts) done();
    else if (sent < posts) w.postMessage(batch());
  });
  const off = listen(workers, handlers);
  const t0 = performance.now();
  for (let i = 0; i < inflight * workers.length && sent < posts; i++)
    (workers[i % workers.length] as Worker).postMessage(batch());
  await promise;
  const ms = performance.now() - t0;
  off();
  return check({ values: [(count / ms) * 1e3] }, count, posts * per);
}

/** Sequential round trips to one bare worker; yields [median µs, p99 µs]. */
export async function rawPingPong(rpc: RawRpc, n: number): Promise<RunResult> {
  const rtt = new Float64Array(n);
  let ok = 0;
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const v = await rpc.call<number>(i);
    rtt[i] = performance.now() - t;
    if (v === i + 1) ok++;
  }
  return check({ values: latencies(rtt) }, ok, n);
}

/**
 * The same sequential round trip, posting the frames a Troupe ask posts and
 * getting back the frames its host posts (`threads/rawFrames.mjs`): what
 * structured clone alone costs a round trip of Troupe's, without its code.
 */
export async function rawFramesPingPong(rpc: RawRpc, ask: number, n: number): Promise<RunResult> {
  const rtt = new Float64Array(n);
  let ok = 0;
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const f = await rpc.call<unknown[]>([ask, 1, { type: 'add', x: i }, i]);
    rtt[i] = performance.now() - t;
    if (f[1] === i && f[2] === i + 1) ok++;
  }
  return check({ values: latencies(rtt) }, ok, n);
}

/** `tasks` hashing tasks of `blocks` KiB over the workers, `inflight` per worker; [hashes/s, cores busy]. */
export async function rawHash(
  rpcs: readonly RawRpc[],
  tasks: number,
  blocks: number,
  inflight: number,
): Promise<RunResult> {
  let next = 0;
  let finished = 0;
  const caller = async (rpc: RawRpc) => {
    while (next < tasks) {
      const seed = next++ * blocks;
      await rpc.call<number>({ seed, blocks });
      finished++;
    }
  };
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: rpcs.length * inflight }, (_, i) => caller(rpcs[i % rpcs.length] as RawRpc)));
  const ms = performance.now() - t0;
  return check({ values: [((tasks * blocks) / ms) * 1e3, coresBusy(c0, ms)] }, finished, tasks);
}

// ------------------------------------------------------------------ piscina and tinypool

/** `window` callers each running `x + 1` tasks one after another, so about `window` are always queued. */
export async function piscinaRun(pool: Piscina, n: number, window: number): Promise<RunResult> {
  const per = Math.ceil(n / window);
  let count = 0;
  const caller = async (c: number) => {
    for (let i = 0; i < per; i++) if ((await pool.run(c)) === c + 1) count++;
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: window }, (_, c) => caller(c)));
  const ms = performance.now() - t0;
  return check({ values: [(count / ms) * 1e3] }, count, per * window);
}

export async function tinypoolRun(pool: Tinypool, n: number, window: number): Promise<RunResult> {
  const per = Math.ceil(n / window);
  let count = 0;
  const caller = async (c: number) => {
    for (let i = 0; i < per; i++) if ((await pool.run(c)) === c + 1) count++;
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: window }, (_, c) => caller(c)));
  const ms = performance.now() - t0;
  return check({ values: [(count / ms) * 1e3] }, count, per * window);
}

// ------------------------------------------------------------------ Troupe worker actors

async function counts(refs: readonly ActorRef<CounterMsg>[]): Promise<number> {
  const all = await Promise.all(refs.map((r) => r.ask<number>({ type: 'get' }, ASK_TIMEOUT)));
  return all.reduce((a, b) => a + b, 0);
}

/**
 * `n` tells from the main thread, spread over `refs` in turn; the clock stops
 * when every actor has answered a `get` queued behind the last tell (per-sender
 * FIFO), i.e. when the workers have handled them all.
 */
export async function troupeTell(refs: readonly ActorRef<CounterMsg>[], n: number): Promise<RunResult> {
  const before = await counts(refs);
  const k = refs.length;
  const t0 = performance.now();
  if (k === 1) {
    const ref = refs[0] as ActorRef<CounterMsg>;
    for (let i = 0; i < n; i++) ref.tell({ type: 'inc' });
  } else {
    for (let i = 0; i < n; i++) (refs[i % k] as ActorRef<CounterMsg>).tell({ type: 'inc' });
  }
  const after = await counts(refs);
  const ms = performance.now() - t0;
  return check({ values: [(n / ms) * 1e3] }, after - before, n);
}

export async function troupeAskSeq(ref: ActorRef<CounterMsg>, n: number): Promise<RunResult> {
  let ok = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) if ((await ref.ask<number>({ type: 'add', x: i })) === i + 1) ok++;
  const ms = performance.now() - t0;
  return check({ values: [(n / ms) * 1e3] }, ok, n);
}

/** `window` callers each asking sequentially, caller `c` asking `refs[c % refs.length]`. */
export async function troupeAskWindow(
  refs: readonly ActorRef<CounterMsg>[],
  n: number,
  window: number,
): Promise<RunResult> {
  const per = Math.ceil(n / window);
  let count = 0;
  const caller = async (c: number) => {
    const ref = refs[c % refs.length] as ActorRef<CounterMsg>;
    for (let i = 0; i < per; i++) if ((await ref.ask<number>({ type: 'add', x: c }, ASK_TIMEOUT)) === c + 1) count++;
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: window }, (_, c) => caller(c)));
  const ms = performance.now() - t0;
  return check({ values: [(count / ms) * 1e3] }, count, per * window);
}

/** Sequential asks to one worker actor; yields [median µs, p99 µs]. */
export async function troupePingPong(ref: ActorRef<CounterMsg>, n: number): Promise<RunResult> {
  const rtt = new Float64Array(n);
  let ok = 0;
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const v = await ref.ask<number>({ type: 'add', x: i });
    rtt[i] = performance.now() - t;
    if (v === i + 1) ok++;
  }
  return check({ values: latencies(rtt) }, ok, n);
}

/** `tasks` hashing tasks of `blocks` KiB over the actors (one per thread), `inflight` per actor; [hashes/s, cores busy]. */
export async function troupeHash(
  refs: readonly ActorRef<HashMsg>[],
  tasks: number,
  blocks: number,
  inflight: number,
): Promise<RunResult> {
  let next = 0;
  let finished = 0;
  const caller = async (ref: ActorRef<HashMsg>) => {
    while (next < tasks) {
      const seed = next++ * blocks;
      await ref.ask<number>({ type: 'hash', seed, blocks }, ASK_TIMEOUT);
      finished++;
    }
  };
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: refs.length * inflight }, (_, i) => caller(refs[i % refs.length] as ActorRef<HashMsg>)),
  );
  const ms = performance.now() - t0;
  return check({ values: [((tasks * blocks) / ms) * 1e3, coresBusy(c0, ms)] }, finished, tasks);
}
