/**
 * The messages of both designs. Only plain data crosses a thread: a job is an
 * item index, a result its hex digest.
 */

/** Main → naive worker: one job, or the end. */
export type NaiveJob = { readonly type: 'job'; readonly id: number } | { readonly type: 'stop' };

/** Naive worker → main: ready for its first job, or a result (which also asks for the next job). */
export type NaiveReport =
  | { readonly type: 'ready'; readonly threadId: number }
  | { readonly type: 'result'; readonly id: number; readonly digest: string };

/** The protocol of the Troupe hasher actor. */
export type HasherMsg =
  /** Answered with the item's digest. */
  | { readonly type: 'hash'; readonly id: number }
  /** Answered with the `threadId` the actor runs on. */
  | { readonly type: 'where' };

/** Spawn input of a hasher actor (and `workerData.data` of a naive worker). */
export interface HasherInput {
  readonly rounds: number;
}

/** The outcome of one design's run. */
export interface RunResult {
  /** Digest of item `i` at index `i`. */
  readonly digests: readonly string[];
  /** From the first job sent to the last result received (threads already started). */
  readonly elapsedMs: number;
  /** The threads that did the work (`worker_threads.threadId`). */
  readonly threadIds: readonly number[];
}
