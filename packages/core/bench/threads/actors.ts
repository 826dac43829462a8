/**
 * The worker actors of the worker suite, loaded inside host threads by module
 * URL and export name (`workerActor(new URL('./threads/actors.ts', ...), 'BenchCounter')`).
 * TypeScript, so it loads only when Troupe runs from its sources
 * (`--conditions=source --import tsx`, as `npm run bench` does).
 */
import { defineActor } from '@troupe/core';
import { hashBlocks } from './hashBlocks.mjs';

export type CounterMsg = { type: 'inc' } | { type: 'get' } | { type: 'add'; x: number };

/** Counts tells; answers `get` with the count and `add` with `x + 1` (the pools' trivial task). */
export const BenchCounter = defineActor<CounterMsg, { n: number }>({
  name: 'bench-worker-counter',
  init: () => ({ n: 0 }),
  receive: (s, m, ctx) => {
    if (m.type === 'inc') s.n++;
    else ctx.reply(m.type === 'add' ? m.x + 1 : s.n);
  },
});

export type HashMsg = { type: 'hash'; seed: number; blocks: number };

/** CPU-bound: SHA-256 of `blocks` 1 KiB blocks per message. */
export const BenchHasher = defineActor<HashMsg, undefined>({
  name: 'bench-worker-hasher',
  init: () => undefined,
  receive: (_s, m, ctx) => {
    ctx.reply(hashBlocks(m.seed, m.blocks));
  },
});
