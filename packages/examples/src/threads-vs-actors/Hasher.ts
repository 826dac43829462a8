import { threadId } from 'node:worker_threads';
import { defineActor } from '@troupe/core';
import type { HasherInput, HasherMsg } from './protocol.js';
import { hashItem } from './workload.js';

/**
 * Design (b)'s worker: an ordinary actor, spawned on a worker thread with
 * `spawnWorker` (the thread imports this module by URL). It answers each
 * `hash` ask with the item's digest.
 */
export const Hasher = defineActor<HasherMsg, undefined, HasherInput>({
  name: 'hasher',
  init: () => undefined,
  receive: (_state, msg, ctx) => {
    if (msg.type === 'where') ctx.reply(threadId);
    else ctx.reply(hashItem(msg.id, ctx.input.rounds));
  },
});
