import { threadId } from 'node:worker_threads';
import { defineActor } from '@troupe/core';
import { digestOf } from './digest.js';
import type { HasherStats, HashMsg } from './protocol.js';

/** Spawn input of a hasher (crosses to its thread, so plain data). */
export interface HasherInput {
  /** SHA-256 rounds per reading: the knob for how CPU-heavy the stage is. */
  readonly rounds: number;
}

interface HasherState {
  hashed: number;
  busyMs: number;
}

/**
 * The worker-thread stage: SHA-256 of each reading's canonical text, `rounds`
 * times. This module is imported *by the worker thread* (by URL, see
 * `HashStage.ts`), so it must not import anything main-thread only; all it
 * shares with main is plain data.
 */
export const Hasher = defineActor<HashMsg, HasherState, HasherInput>({
  name: 'hasher',
  init: () => ({ hashed: 0, busyMs: 0 }),
  receive: (state, msg, ctx) => {
    if (msg.type === 'stats') {
      const stats: HasherStats = { name: ctx.self.name, threadId, hashed: state.hashed, busyMs: state.busyMs };
      ctx.reply(stats);
      return;
    }
    const t0 = performance.now();
    const { rounds } = ctx.input;
    ctx.reply(msg.texts.map((text) => digestOf(text, rounds)));
    // State is private to this actor: counting in place saves an allocation per chunk.
    state.busyMs += performance.now() - t0;
    state.hashed += msg.texts.length;
    return state;
  },
});
