import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { defineActor } from '@troupe/core';
import { PoisonJobError } from './errors.js';
import type { JobResult, WorkerMsg } from './protocol.js';

/** Jobs run since the last (re)start: a restart gives the worker fresh state. */
interface WorkerState {
  readonly handled: number;
}

/**
 * A long-lived worker: runs one job at a time (the runtime guarantees it even
 * though `receive` is async) and replies to the ask with the result. A poison
 * job makes it throw; its supervisor (the queue) decides what happens next, and
 * the asker gets the error.
 */
export const Worker = defineActor<WorkerMsg, WorkerState>({
  name: 'worker',
  init: () => ({ handled: 0 }),
  receive: async (state, msg, ctx) => {
    const { job } = msg;
    await sleep(job.workMs); // the job's I/O
    if (job.poison) throw new PoisonJobError(job.id, ctx.self.path);
    const digest = createHash('sha256').update(job.payload).digest('hex').slice(0, 12);
    const result: JobResult = { jobId: job.id, worker: ctx.self.name, digest };
    ctx.reply(result);
    return { handled: state.handled + 1 };
  },
});
