import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { defineActor, TroupeError } from '@troupe/core';
import type { WorkerMsg, WorkResult } from './protocol.js';

/** A request asked the worker to crash (`?fail=1`). */
export class RequestedCrashError extends TroupeError {
  constructor(readonly worker: string) {
    super('ERR_REQUESTED_CRASH', `worker [${worker}] crashed because the request asked it to (fail=1)`);
  }
}

/** Spawn input of a worker. */
export interface WorkerInput {
  /** Simulated I/O time per request, ms. */
  readonly workMs: number;
}

/**
 * A long-lived worker: one request at a time, a simulated I/O wait, then the
 * reply. Its `receive` is async, so while it waits the runtime counts the
 * request as in flight, and coordinated shutdown's drain phase waits for it.
 */
export const Worker = defineActor<WorkerMsg, { readonly served: number }, WorkerInput>({
  name: 'worker',
  init: () => ({ served: 0 }),
  receive: async (state, msg, ctx) => {
    await sleep(ctx.input.workMs);
    if (msg.fail) throw new RequestedCrashError(ctx.self.path);
    const result: WorkResult = {
      worker: ctx.self.name,
      digest: createHash('sha256').update(msg.input).digest('hex').slice(0, 16),
    };
    // A reply after an await is fine: the reply address belongs to the message, not to the call stack.
    ctx.reply(result);
    return { served: state.served + 1 };
  },
});
