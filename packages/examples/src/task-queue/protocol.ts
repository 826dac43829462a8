import type { SerializedError } from '@troupe/core';

/** One unit of work, as plain data. */
export interface Job {
  readonly id: number;
  /** Simulated I/O time of the job. */
  readonly workMs: number;
  /** A poison job makes the worker that runs it throw. */
  readonly poison: boolean;
  readonly payload: string;
}

/** What a caller gets back for a job that succeeded. */
export interface JobResult {
  readonly jobId: number;
  /** Name of the worker that ran it. */
  readonly worker: string;
  readonly digest: string;
}

/** Messages of a worker. `run` is asked; the reply is a {@link JobResult}. */
export type WorkerMsg = { readonly type: 'run'; readonly job: Job };

/** Counters of the queue, answered to `stats`. */
export interface QueueStats {
  readonly accepted: number;
  readonly completed: number;
  readonly failed: number;
  /** Refused with `QueueFullError` because the backlog was at `maxPending`. */
  readonly rejected: number;
  /** Waiting for a free worker. */
  readonly backlog: number;
  /** Running on a worker right now. */
  readonly running: number;
  /** Deepest the backlog has been. */
  readonly maxBacklog: number;
}

/**
 * Messages of the queue.
 * - `submit` (ask): run `job` on a worker; replies with a {@link JobResult}, or fails with the job's error.
 * - `stats` (ask): replies with {@link QueueStats}.
 * - `jobDone`: internal; the queue tells it to itself when a worker's answer arrives.
 */
export type QueueMsg =
  | { readonly type: 'submit'; readonly job: Job }
  | { readonly type: 'stats' }
  | {
      readonly type: 'jobDone';
      readonly worker: string;
      readonly jobId: number;
      readonly result?: JobResult;
      readonly error?: SerializedError;
    };
