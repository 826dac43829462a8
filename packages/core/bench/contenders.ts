/**
 * The runs of each case, one function per contender and case. Loops are
 * written out per contender on purpose: a shared loop calling `send()` through
 * a parameter would turn that call site polymorphic and tax whoever runs last.
 */

import { type ActorRef, type ActorSystem, defineActor } from '@troupe/core';
import { EventEmitter } from 'eventemitter3';
import { type AnyActorRef, assign, createActor, fromTransition, setup } from 'xstate';
import { MinimalMailbox, type MiniReply } from './MinimalMailbox.js';

/** What one run yields: one number per series of its case, or why it is void. */
export interface RunResult {
  values: number[];
  problem?: string;
}

export type Inc = { type: 'inc' };
export type Get = { type: 'get' };
/** xstate has no reply channel for outside callers; the request carries a callback, answered by an action. */
type XGet = { type: 'get'; reply: (n: number) => void };
type XEvent = Inc | XGet;

export const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

// ------------------------------------------------------------------ behaviours

interface TellState {
  n: number;
  readonly total: number;
  readonly done: () => void;
}

const TroupeTellCounter = defineActor<Inc, TellState, { total: number; done: () => void }>({
  name: 'bench-tell-counter',
  init: (ctx) => ({ n: 0, total: ctx.input.total, done: ctx.input.done }),
  receive: (s) => {
    if (++s.n === s.total) s.done();
  },
});

const TroupeAskCounter = defineActor<Get, { n: number }>({
  name: 'bench-ask-counter',
  init: () => ({ n: 0 }),
  receive: (s, _m, ctx) => {
    ctx.reply(++s.n);
  },
});

let idleStarted = 0;
const TroupeIdle = defineActor<Inc, number>({
  name: 'bench-idle',
  init: () => {
    idleStarted++;
    return 0;
  },
  receive: (n) => n + 1,
});

const counterMachine = setup({
  types: { context: {} as { n: number }, events: {} as XEvent },
}).createMachine({
  id: 'counter',
  context: { n: 0 },
  on: {
    inc: { actions: assign({ n: ({ context }) => context.n + 1 }) },
    get: { actions: ({ context, event }) => event.reply(context.n) },
  },
});

const counterTransition = fromTransition((n: number, event: XEvent) => {
  if (event.type === 'inc') return n + 1;
  // xstate also passes its own events (e.g. `xstate.stop`) through the transition.
  if (event.type === 'get') event.reply(n);
  return n;
}, 0);

function miniTellCounter(total: number, done: () => void): MinimalMailbox<{ n: number }, Inc> {
  return new MinimalMailbox<{ n: number }, Inc>({ n: 0 }, (s) => {
    if (++s.n === total) done();
    return undefined;
  });
}

function miniAskCounter(): MinimalMailbox<{ n: number }, Get> {
  return new MinimalMailbox<{ n: number }, Get>({ n: 0 }, (s, _m, reply: MiniReply) => {
    reply?.(++s.n);
    return undefined;
  });
}

function completion(): { promise: Promise<void>; done: () => void } {
  let done!: () => void;
  const promise = new Promise<void>((resolve) => {
    done = resolve;
  });
  return { promise, done };
}

// ------------------------------------------------------------------ tell

/** Troupe: 1 sender outside the actors, 1 actor; timed until the actor has handled the last message. */
export async function troupeTell(system: ActorSystem, n: number): Promise<RunResult> {
  const { promise, done } = completion();
  const ref = system.spawn(TroupeTellCounter, { input: { total: n, done } });
  await tick();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) ref.tell({ type: 'inc' });
  await promise;
  const ms = performance.now() - t0;
  await system.stop(ref);
  return { values: [(n / ms) * 1e3] };
}

export async function miniTell(n: number): Promise<RunResult> {
  const { promise, done } = completion();
  const box = miniTellCounter(n, done);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) box.tell({ type: 'inc' });
  await promise;
  const ms = performance.now() - t0;
  return { values: [(n / ms) * 1e3] };
}

/** xstate handles each event synchronously inside `send`, so the loop is the whole run. */
export async function xstateMachineTell(n: number): Promise<RunResult> {
  const actor = createActor(counterMachine).start();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) actor.send({ type: 'inc' });
  const ms = performance.now() - t0;
  const seen = actor.getSnapshot().context.n;
  actor.stop();
  return check({ values: [(n / ms) * 1e3] }, seen, n);
}

export async function xstateTransitionTell(n: number): Promise<RunResult> {
  const actor = createActor(counterTransition).start();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) actor.send({ type: 'inc' });
  const ms = performance.now() - t0;
  const seen = actor.getSnapshot().context;
  actor.stop();
  return check({ values: [(n / ms) * 1e3] }, seen, n);
}

export async function emitterTell(n: number): Promise<RunResult> {
  const ee = new EventEmitter<{ inc: [Inc] }>();
  let seen = 0;
  ee.on('inc', () => {
    seen++;
  });
  const t0 = performance.now();
  for (let i = 0; i < n; i++) ee.emit('inc', { type: 'inc' });
  const ms = performance.now() - t0;
  return check({ values: [(n / ms) * 1e3] }, seen, n);
}

// ------------------------------------------------------------------ sequential ask

export async function troupeAskSeq(system: ActorSystem, n: number): Promise<RunResult> {
  const ref = system.spawn(TroupeAskCounter);
  await tick();
  let last = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) last = await ref.ask<number>({ type: 'get' });
  const ms = performance.now() - t0;
  await system.stop(ref);
  return check({ values: [(n / ms) * 1e3] }, last, n);
}

export async function miniAskSeq(n: number): Promise<RunResult> {
  const box = miniAskCounter();
  let last = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) last = await box.ask<number>({ type: 'get' });
  const ms = performance.now() - t0;
  return check({ values: [(n / ms) * 1e3] }, last, n);
}

/** xstate's send+reply: a promise per request, resolved by the machine's action. */
export async function xstateMachineAskSeq(n: number): Promise<RunResult> {
  const actor = createActor(counterMachine).start();
  let count = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    await new Promise<number>((reply) => actor.send({ type: 'get', reply }));
    count++;
  }
  const ms = performance.now() - t0;
  actor.stop();
  return check({ values: [(n / ms) * 1e3] }, count, n);
}

export async function xstateTransitionAskSeq(n: number): Promise<RunResult> {
  const actor = createActor(counterTransition).start();
  let count = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    await new Promise<number>((reply) => actor.send({ type: 'get', reply }));
    count++;
  }
  const ms = performance.now() - t0;
  actor.stop();
  return check({ values: [(n / ms) * 1e3] }, count, n);
}

// ------------------------------------------------------------------ asks with a window of outstanding requests

/** `window` callers, each asking sequentially, so about `window` asks are always outstanding. */
export async function troupeAskWindow(system: ActorSystem, n: number, window: number): Promise<RunResult> {
  const ref: ActorRef<Get> = system.spawn(TroupeAskCounter);
  await tick();
  const per = Math.ceil(n / window);
  let count = 0;
  const caller = async () => {
    for (let i = 0; i < per; i++) {
      await ref.ask<number>({ type: 'get' });
      count++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: window }, caller));
  const ms = performance.now() - t0;
  await system.stop(ref);
  return check({ values: [(count / ms) * 1e3] }, count, per * window);
}

export async function miniAskWindow(n: number, window: number): Promise<RunResult> {
  const box = miniAskCounter();
  const per = Math.ceil(n / window);
  let count = 0;
  const caller = async () => {
    for (let i = 0; i < per; i++) {
      await box.ask<number>({ type: 'get' });
      count++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: window }, caller));
  const ms = performance.now() - t0;
  return check({ values: [(count / ms) * 1e3] }, count, per * window);
}

export async function xstateMachineAskWindow(n: number, window: number): Promise<RunResult> {
  const actor = createActor(counterMachine).start();
  const per = Math.ceil(n / window);
  let count = 0;
  const caller = async () => {
    for (let i = 0; i < per; i++) {
      await new Promise<number>((reply) => actor.send({ type: 'get', reply }));
      count++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: window }, caller));
  const ms = performance.now() - t0;
  actor.stop();
  return check({ values: [(count / ms) * 1e3] }, count, per * window);
}

export async function xstateTransitionAskWindow(n: number, window: number): Promise<RunResult> {
  const actor = createActor(counterTransition).start();
  const per = Math.ceil(n / window);
  let count = 0;
  const caller = async () => {
    for (let i = 0; i < per; i++) {
      await new Promise<number>((reply) => actor.send({ type: 'get', reply }));
      count++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: window }, caller));
  const ms = performance.now() - t0;
  actor.stop();
  return check({ values: [(count / ms) * 1e3] }, count, per * window);
}

// ------------------------------------------------------------------ spawn rate and heap per idle actor

const gc = (globalThis as { gc?: () => void }).gc;

function heapNow(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

/**
 * Spawn `n` actors and keep them; the rate is timed until every one has run
 * `init` (Troupe starts actors in a microtask), and the heap is read after a
 * full GC on both sides. Yields [spawns/s, bytes per idle actor].
 */
export async function troupeSpawn(system: ActorSystem, n: number): Promise<RunResult> {
  const refs: unknown[] = new Array(n).fill(undefined);
  idleStarted = 0;
  const h0 = heapNow();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) refs[i] = system.spawn(TroupeIdle);
  await tick();
  const ms = performance.now() - t0;
  const h1 = heapNow();
  const started = idleStarted;
  await Promise.all(refs.map((r) => system.stop(r as ActorRef<Inc>)));
  return spawnResult(n, ms, h0, h1, started);
}

export async function miniSpawn(n: number): Promise<RunResult> {
  const boxes: unknown[] = new Array(n).fill(undefined);
  const handler = (s: number) => s + 1;
  const h0 = heapNow();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) boxes[i] = new MinimalMailbox<number, Inc>(0, handler);
  const ms = performance.now() - t0;
  const h1 = heapNow();
  return spawnResult(n, ms, h0, h1, boxes.length);
}

export async function xstateMachineSpawn(n: number): Promise<RunResult> {
  const actors: AnyActorRef[] = new Array(n).fill(undefined);
  const h0 = heapNow();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) actors[i] = createActor(counterMachine).start();
  const ms = performance.now() - t0;
  const h1 = heapNow();
  for (const a of actors) a.stop();
  return spawnResult(n, ms, h0, h1, n);
}

export async function xstateTransitionSpawn(n: number): Promise<RunResult> {
  const actors: AnyActorRef[] = new Array(n).fill(undefined);
  const h0 = heapNow();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) actors[i] = createActor(counterTransition).start();
  const ms = performance.now() - t0;
  const h1 = heapNow();
  for (const a of actors) a.stop();
  return spawnResult(n, ms, h0, h1, n);
}

function spawnResult(n: number, ms: number, h0: number, h1: number, started: number): RunResult {
  const result: RunResult = { values: [(n / ms) * 1e3, (h1 - h0) / n] };
  if (gc === undefined) result.problem = 'heap not measured: run node with --expose-gc';
  return check(result, started, n);
}

function check(result: RunResult, seen: number, expected: number): RunResult {
  if (seen !== expected) result.problem = `expected ${expected}, saw ${seen}`;
  return result;
}
