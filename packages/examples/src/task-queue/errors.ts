import { TroupeError } from '@troupe/core';

/** A job that crashes whichever worker runs it (the demo's deliberate failure). */
export class PoisonJobError extends TroupeError {
  constructor(
    readonly jobId: number,
    readonly worker: string,
  ) {
    super('ERR_POISON_JOB', `job ${jobId} is poison: it crashed worker [${worker}]`);
  }
}

/** The queue's backlog is full; the caller should retry later or slow down. */
export class QueueFullError extends TroupeError {
  constructor(
    readonly jobId: number,
    readonly maxPending: number,
  ) {
    super(
      'ERR_QUEUE_FULL',
      `job ${jobId} refused: the queue already holds ${maxPending} jobs waiting for a worker (--max-pending). ` +
        'Retry later, add workers, or raise --max-pending.',
    );
  }
}

/** The queue itself failed and restarted; jobs it held were lost and are failed with this. */
export class JobLostError extends TroupeError {
  constructor(
    readonly jobId: number,
    cause: unknown,
  ) {
    super('ERR_JOB_LOST', `job ${jobId} was lost because the queue restarted after a failure`, { cause });
  }
}
