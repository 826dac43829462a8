import {
  type ActorContext,
  type ActorRef,
  decide,
  defineActor,
  deserializeError,
  type Replier,
  type SupervisionStrategy,
  serializeError,
} from '@troupe/core';
import { JobLostError, PoisonJobError, QueueFullError } from './errors.js';
import type { Job, JobResult, QueueMsg, QueueStats, WorkerMsg } from './protocol.js';
import { Worker } from './Worker.js';

/** Spawn-time configuration of the queue. */
export interface JobQueueInput {
  readonly workers: number;
  /** Jobs that may wait for a worker; one more is refused with `QueueFullError`. */
  readonly maxPending: number;
  /** How long the queue waits for a worker's answer. */
  readonly jobTimeoutMs: number;
  /** How the queue supervises its workers. */
  readonly workerSupervision: SupervisionStrategy;
}

/**
 * How the queue supervises workers: a poison job restarts the worker that ran
 * it (fresh state, mailbox kept, the job is not redelivered). Anything else is
 * not ours to judge and escalates. A worker failing more than 50 times in a
 * second is broken, not unlucky: that escalates too, so a crash loop cannot spin.
 */
export const workerSupervision: SupervisionStrategy = decide((error) =>
  error instanceof PoisonJobError ? 'restart' : 'escalate',
)
  .withLimit(50, 1_000)
  .withBackoff({ minMs: 1, maxMs: 20, jitter: 0.2 });

interface Pending {
  readonly job: Job;
  readonly replier: Replier<JobResult>;
}

interface QueueState {
  readonly workers: Map<string, ActorRef<WorkerMsg>>;
  /** Workers with no job, longest idle first. */
  readonly idle: string[];
  /** Jobs waiting for a worker, oldest first. */
  readonly backlog: Pending[];
  /** Jobs on a worker, by job id. */
  readonly running: Map<number, Pending>;
  stats: { accepted: number; completed: number; failed: number; rejected: number; maxBacklog: number };
}

/**
 * The queue between many callers and a few workers. Callers `ask` it to run a
 * job; it keeps the job (and the caller's reply) until a worker is free, hands
 * the job to that worker, and answers the caller when the worker does.
 *
 * The queue owns its workers (they are its children) and supervises them with
 * {@link JobQueueInput.workerSupervision}. Only the queue touches its state, so
 * the backlog needs no locks even with 50 concurrent callers.
 */
export const JobQueue = defineActor<QueueMsg, QueueState, JobQueueInput>({
  name: 'job-queue',
  init: (ctx) => {
    const { workers: n, workerSupervision: supervision } = ctx.input;
    const workers = new Map<string, ActorRef<WorkerMsg>>();
    for (let i = 1; i <= n; i++) {
      const name = `worker-${i}`;
      workers.set(name, ctx.spawn(Worker, { name, supervision }));
    }
    return {
      workers,
      idle: [...workers.keys()],
      backlog: [],
      running: new Map(),
      stats: { accepted: 0, completed: 0, failed: 0, rejected: 0, maxBacklog: 0 },
    };
  },

  receive: (state, msg, ctx) => {
    switch (msg.type) {
      case 'submit': {
        // The answer comes later, from a worker: take the reply over.
        const replier = ctx.deferReply<JobResult>();
        if (state.backlog.length >= ctx.input.maxPending) {
          state.stats.rejected++;
          replier.fail(new QueueFullError(msg.job.id, ctx.input.maxPending));
          return;
        }
        state.stats.accepted++;
        state.backlog.push({ job: msg.job, replier });
        state.stats.maxBacklog = Math.max(state.stats.maxBacklog, state.backlog.length);
        dispatch(state, ctx);
        return;
      }
      case 'jobDone': {
        const pending = state.running.get(msg.jobId);
        // Unknown id: an answer for a queue incarnation that has since restarted.
        if (pending === undefined) return;
        state.running.delete(msg.jobId);
        if (msg.error !== undefined) {
          state.stats.failed++;
          pending.replier.fail(deserializeError(msg.error));
        } else {
          state.stats.completed++;
          pending.replier.reply(msg.result as JobResult);
        }
        state.idle.push(msg.worker);
        dispatch(state, ctx);
        return;
      }
      case 'stats': {
        const stats: QueueStats = { ...state.stats, backlog: state.backlog.length, running: state.running.size };
        ctx.reply(stats);
        return;
      }
    }
  },

  // The queue's own failure must not leave callers hanging until their ask
  // times out: fail every job it holds, naming the cause.
  beforeRestart: (state, error) => {
    for (const p of [...state.backlog, ...state.running.values()]) p.replier.fail(new JobLostError(p.job.id, error));
  },
});

/** Hand waiting jobs to idle workers. */
function dispatch(state: QueueState, ctx: ActorContext<QueueMsg, JobQueueInput>): void {
  while (state.idle.length > 0 && state.backlog.length > 0) {
    const name = state.idle.shift() as string;
    const pending = state.backlog.shift() as Pending;
    const worker = state.workers.get(name) as ActorRef<WorkerMsg>;
    const jobId = pending.job.id;
    const self = ctx.self;
    state.running.set(jobId, pending);
    // Pipe the worker's answer back to the queue as a message, so that state is
    // only ever touched inside `receive`. If the worker crashes on the job, the
    // ask rejects with the crash's cause at once; the worker's restart happens
    // meanwhile and its mailbox (and any next job sent to it) survives it.
    worker.ask<JobResult>({ type: 'run', job: pending.job }, { timeoutMs: ctx.input.jobTimeoutMs }).then(
      (result) => self.tell({ type: 'jobDone', worker: name, jobId, result }),
      (error: unknown) => self.tell({ type: 'jobDone', worker: name, jobId, error: serializeError(error) }),
    );
  }
}
