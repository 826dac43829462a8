import { type ActorRef, defineActor, restart } from '@troupe/core';
import type { ServiceMsg, WorkerMsg, WorkResult } from './protocol.js';
import { Worker } from './Worker.js';

/** Spawn input of the service. */
export interface ServiceInput {
  readonly workers: number;
  readonly workMs: number;
  /** How long the service waits for a worker's answer, ms. */
  readonly workTimeoutMs: number;
}

interface ServiceState {
  readonly workers: readonly ActorRef<WorkerMsg>[];
  readonly next: number;
}

/**
 * The front actor of the service: owns a fixed pool of long-lived workers (its
 * children, restarted when they crash) and hands each request to the next one
 * round-robin. It forwards synchronously, inside `receive`, and lets the worker's
 * answer settle the original ask through a deferred reply: so a request
 * accepted before shutdown closed intake still reaches its worker and is
 * answered during the drain.
 */
export const Service = defineActor<ServiceMsg, ServiceState, ServiceInput>({
  name: 'service',
  // A crashed worker restarts with fresh state; its queued requests survive.
  childSupervision: restart().withLimit(20, 1_000).withBackoff({ minMs: 5, maxMs: 200, jitter: 0.2 }),
  init: (ctx) => ({
    workers: Array.from({ length: ctx.input.workers }, (_, i) =>
      ctx.spawn(Worker, { name: `worker-${i + 1}`, input: { workMs: ctx.input.workMs } }),
    ),
    next: 0,
  }),
  receive: (state, msg, ctx) => {
    const worker = state.workers[state.next % state.workers.length] as ActorRef<WorkerMsg>;
    const reply = ctx.deferReply<WorkResult>();
    worker.ask<WorkResult>(msg, { timeoutMs: ctx.input.workTimeoutMs }).then(reply.reply, reply.fail);
    return { workers: state.workers, next: state.next + 1 };
  },
});
