import { type ActorRef, ShuttingDownError } from '@troupe/core';
import type { Job, JobResult, QueueMsg } from './protocol.js';

/** Hands out the demo's jobs, one at a time, to whichever caller asks next. */
export class JobSource {
  private nextId = 1;
  /** Poison jobs handed out so far. */
  poisonIssued = 0;

  constructor(
    private readonly total: number,
    private readonly poisonRate: number,
    private readonly maxWorkMs: number,
    private readonly random: () => number,
  ) {}

  next(): Job | undefined {
    if (this.nextId > this.total) return undefined;
    const id = this.nextId++;
    const poison = this.random() < this.poisonRate;
    if (poison) this.poisonIssued++;
    const workMs = Math.floor(this.random() * (this.maxWorkMs + 1));
    return { id, workMs, poison, payload: `order-${id}` };
  }
}

/** What the callers saw. `ok + failed === submitted`. */
export interface CallerOutcome {
  submitted: number;
  ok: number;
  failed: number;
  /** Failures by error name (`PoisonJobError`, `QueueFullError`, ...). */
  failedBy: Record<string, number>;
  /** One line per failure, in the order they happened (the first few are printed). */
  failures: string[];
  /** Round-trip time of each ask, in ms. */
  latenciesMs: number[];
  /** True when the system began shutting down (a signal) before the jobs ran out. */
  interrupted: boolean;
}

/**
 * Run `callers` concurrent loops, as a web server's request handlers would:
 * each takes the next job, asks the queue to run it and awaits the answer.
 * A failed job is that caller's problem only; the loop goes on.
 */
export async function runCallers(
  queue: ActorRef<QueueMsg>,
  source: JobSource,
  callers: number,
  askTimeoutMs: number,
): Promise<CallerOutcome> {
  const out: CallerOutcome = {
    submitted: 0,
    ok: 0,
    failed: 0,
    failedBy: {},
    failures: [],
    latenciesMs: [],
    interrupted: false,
  };
  const caller = async () => {
    for (let job = source.next(); job !== undefined && !out.interrupted; job = source.next()) {
      const t0 = performance.now();
      out.submitted++;
      try {
        await queue.ask<JobResult>({ type: 'submit', job }, { timeoutMs: askTimeoutMs });
        out.ok++;
      } catch (error) {
        const e = error as Error;
        out.failed++;
        out.failedBy[e.name] = (out.failedBy[e.name] ?? 0) + 1;
        out.failures.push(`job ${job.id}: ${e.name}: ${e.message}`);
        if (error instanceof ShuttingDownError) out.interrupted = true;
      }
      out.latenciesMs.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: callers }, caller));
  return out;
}
