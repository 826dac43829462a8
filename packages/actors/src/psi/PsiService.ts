/**
 * PSI as a service: an actor that takes PSI jobs by message, runs each as its
 * own child, and answers questions about them (status, progress, list), with
 * cancel, and progress pushed to subscribers. Made to sit behind a front end
 * (an HTTP job service, say) next to the service's other actors.
 *
 * Containment: a job is checked at the door (options, worker hosts, files on
 * disk) and refused there with the error on its own ask; a job that fails
 * later is stopped (never restarted, never escalated) and only its status and
 * its waiters learn it. The service's own state (the other jobs, the job
 * counter) is never lost to a job's failure.
 *
 * Shutdown: `system.shutdown()` (or a signal) interrupts running jobs at once
 * in its first phase; each ends `interrupted` with no output, well within the
 * stop budget, so a clean shutdown stays clean (exit code 0).
 */
import { type ActorRef, defineActor, type Replier, stop } from '@troupe/core';
import { PsiInterruptedError, PsiJobNotFoundError, PsiOptionsError } from './errors.js';
import { type PreparedRun, prepareRun } from './PreparedRun.js';
import { type JobMsg, PsiJob, type PsiProgress, type PsiSummary } from './PsiJob.js';
import {
  checkWorkerHosts,
  emptyKeyWarnings,
  type PsiOptions,
  type PsiWarning,
  type ResolvedPsiRun,
  resolvePsiOptions,
} from './PsiOptions.js';
import { JOB_RESULT_TIMEOUT_MS } from './runPsi.js';

/** The options of a job sent to {@link PsiService}: plain data only (no callbacks, no AbortSignal). */
export type PsiJobOptions = Omit<PsiOptions, 'onProgress' | 'onWarning' | 'signal' | 'progressIntervalMs'>;

/** Where a job is in its life. `done`, `failed`, `cancelled` and `interrupted` are final. */
export type PsiJobState = 'preparing' | 'running' | 'done' | 'failed' | 'cancelled' | 'interrupted';

/** An error as plain data (it crosses threads and HTTP). */
export interface PsiJobError {
  name: string;
  code?: string;
  message: string;
  /** For input errors: where. */
  file?: string;
  line?: number;
  column?: number;
  /** For option errors: which option (as the `psi` flag). */
  option?: string;
}

/** What the service knows about one job. */
export interface PsiJobStatus {
  id: string;
  state: PsiJobState;
  left: string;
  right: string;
  outDir: string;
  /** Epoch milliseconds. */
  submittedAt: number;
  finishedAt?: number;
  /** The last progress seen (asked for, or pushed to subscribers). */
  progress?: PsiProgress;
  /** When `done`. */
  summary?: PsiSummary;
  /** When `failed`, `cancelled` or `interrupted`. */
  error?: PsiJobError;
  warnings: PsiWarning[];
}

/** What a subscriber receives. */
export type PsiJobEvent =
  | { type: 'psi-job-progress'; id: string; progress: PsiProgress }
  | { type: 'psi-job-finished'; id: string; status: PsiJobStatus };

/**
 * Messages of {@link PsiService}. Every one but `subscribe` is an ask:
 *
 * - `submit`: check and start a job; answers `{ id }` once it runs, or fails
 *   with the reason it was refused (`PsiOptionsError`, a `CsvInputError`).
 * - `run`: the same, but answers with the `PsiSummary` when the job is done (or its error).
 * - `status` / `wait`: a job's {@link PsiJobStatus}, now / once it has ended.
 * - `progress`: a live `PsiProgress` of a running job (the last one for an ended job).
 * - `cancel`: stop a job; answers its status once it has stopped (`cancelled`, nothing written).
 * - `list`: every job's status, oldest first (finished jobs are kept, up to `historyLimit`).
 * - `subscribe`: `subscriber` is told `psi-job-progress` every `intervalMs` (default 1000)
 *   while the job runs, then `psi-job-finished` once.
 *
 * Unknown ids fail with `PsiJobNotFoundError`.
 */
export type PsiServiceMsg =
  | { type: 'submit'; options: PsiJobOptions }
  | { type: 'run'; options: PsiJobOptions }
  | { type: 'status'; id: string }
  | { type: 'wait'; id: string }
  | { type: 'progress'; id: string }
  | { type: 'cancel'; id: string }
  | { type: 'list' }
  | { type: 'subscribe'; id: string; subscriber: ActorRef<PsiJobEvent>; intervalMs?: number };

/** What the service tells itself. */
type ServiceInternal =
  | { type: 'psi-service.prepared'; id: string; prepared: PreparedRun }
  | { type: 'psi-service.refused'; id: string; error: unknown }
  | { type: 'psi-service.ended'; id: string; summary?: PsiSummary; error?: unknown }
  | { type: 'psi-service.released'; id: string }
  | { type: 'psi-service.tick'; id: string };

/** Options of a {@link PsiService} actor (its spawn `input`). */
export interface PsiServiceInput {
  /** Finished jobs kept for `status` and `list`; default 1000 (the oldest go first). */
  historyLimit?: number;
}

interface Job {
  status: PsiJobStatus;
  run: ResolvedPsiRun;
  prepared: PreparedRun | undefined;
  ref: ActorRef<JobMsg> | undefined;
  /** Why it is being stopped, if it is. */
  stopping: 'cancelled' | 'interrupted' | undefined;
  submitReply: Replier<{ id: string }> | undefined;
  runReply: Replier<PsiSummary> | undefined;
  waiters: Replier<PsiJobStatus>[];
  subscribers: Set<ActorRef<PsiJobEvent>>;
  /** Resolves once the job has ended and its files are released. */
  ended: Promise<void>;
  markEnded: () => void;
  releasing: boolean;
}

interface ServiceState {
  jobs: Map<string, Job>;
  next: number;
  unhook: (() => void) | undefined;
}

const FINAL: ReadonlySet<PsiJobState> = new Set(['done', 'failed', 'cancelled', 'interrupted']);

/** An error as plain data. */
function plainError(error: unknown): PsiJobError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const e = error as Error & { code?: unknown; file?: unknown; line?: unknown; column?: unknown; option?: unknown };
  return {
    name: e.name,
    message: e.message,
    ...(typeof e.code === 'string' ? { code: e.code } : {}),
    ...(typeof e.file === 'string' ? { file: e.file } : {}),
    ...(typeof e.line === 'number' && e.line > 0 ? { line: e.line } : {}),
    ...(typeof e.column === 'number' && e.column > 0 ? { column: e.column } : {}),
    ...(typeof e.option === 'string' ? { option: e.option } : {}),
  };
}

/** Refuse what cannot travel in a message: callbacks and signals belong to `runPsi`. */
function checkPlain(options: PsiJobOptions): void {
  const o = options as PsiOptions;
  if (o === null || typeof o !== 'object') throw new PsiOptionsError('options', 'must be an object');
  if (o.onProgress !== undefined) {
    throw new PsiOptionsError(
      'onProgress',
      "cannot be sent to PsiService (a message carries plain data): ask it { type: 'progress', id } or send { type: 'subscribe', id, subscriber }",
    );
  }
  if (o.onWarning !== undefined) {
    throw new PsiOptionsError('onWarning', "cannot be sent to PsiService: warnings are in the job's status");
  }
  if (o.signal !== undefined) {
    throw new PsiOptionsError('signal', "cannot be sent to PsiService: send it { type: 'cancel', id }");
  }
}

const snapshot = (j: Job): PsiJobStatus => ({ ...j.status, warnings: [...j.status.warnings] });

/**
 * An actor that runs PSI jobs sent to it by message (see {@link PsiServiceMsg}).
 * Each job is a child; a failed job fails only its own asks and status.
 *
 * @example
 * const psi = system.spawn(PsiService, { name: 'psi' });
 * const { id } = await psi.ask<{ id: string }>({ type: 'submit', options: { left, right, key: ['id'], outDir, threads: 2 } });
 * const progress = await psi.ask<PsiProgress>({ type: 'progress', id });
 * const status = await psi.ask<PsiJobStatus>({ type: 'wait', id }, { timeoutMs: 3_600_000 });
 */
export const PsiService = defineActor<PsiServiceMsg | ServiceInternal, ServiceState, PsiServiceInput | undefined>({
  name: 'psi-service',
  // A job that fails is stopped: never restarted (its input would fail again), never escalated.
  childSupervision: stop(),
  init: (ctx) => {
    const limit = ctx.input?.historyLimit;
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) {
      throw new TypeError(`PsiService historyLimit must be a non-negative integer, got ${limit}`);
    }
    return { jobs: new Map(), next: 1, unhook: undefined };
  },
  afterStart: (s, ctx) => {
    const self = ctx.self;
    // Interrupt running jobs in the first phase of shutdown, and wait (bounded by the
    // phase timeout) until each has stopped and released its files.
    s.unhook = ctx.system.onShutdown('stop-intake', `psi-service ${self.path}`, async () => {
      const ended: Promise<void>[] = [];
      for (const job of s.jobs.values()) {
        if (FINAL.has(job.status.state)) continue;
        job.stopping ??= 'interrupted';
        job.ref?.tell({ type: 'abort', reason: new PsiInterruptedError('the actor system is shutting down') });
        ended.push(job.ended);
      }
      await Promise.all(ended);
    });
  },
  afterStop: (s) => {
    s.unhook?.();
  },
  receive: (s, msg, ctx) => {
    const history = ctx.input?.historyLimit ?? 1000;
    const self = ctx.self;
    const find = (id: string): Job => {
      const job = s.jobs.get(id);
      if (job === undefined) throw new PsiJobNotFoundError(id, [...s.jobs.keys()]);
      return job;
    };
    /** Record the end of a job (once), answer everyone waiting, release its files. */
    const end = (job: Job, summary: PsiSummary | undefined, error: unknown) => {
      if (FINAL.has(job.status.state)) return;
      const st = job.status;
      st.finishedAt = Date.now();
      if (summary !== undefined) {
        st.state = 'done';
        st.summary = summary;
        st.warnings.push(...emptyKeyWarnings(summary, job.run));
      } else {
        st.state = job.stopping ?? (error instanceof PsiInterruptedError ? 'interrupted' : 'failed');
        st.error = plainError(
          job.stopping === 'cancelled' ? new PsiInterruptedError('cancelled by its client', { cause: error }) : error,
        );
      }
      ctx.timers.cancel(`tick:${st.id}`);
      if (job.submitReply !== undefined) {
        // Ended before it ran (cancelled or interrupted while preparing).
        job.submitReply.fail(error ?? new PsiInterruptedError(st.state));
        job.submitReply = undefined;
      }
      if (job.runReply !== undefined) {
        if (summary !== undefined) job.runReply.reply(summary);
        else job.runReply.fail(error);
        job.runReply = undefined;
      }
      const ref = job.ref;
      job.ref = undefined;
      // Stop the job's actors, then give back its outputs (and, after a failure, the folders it made).
      job.releasing = true;
      void ctx.inFlight(
        (async () => {
          if (ref !== undefined) await ctx.stop(ref);
          await job.prepared?.release(summary === undefined);
        })()
          .catch((e) => ctx.log.error(`psi-service: releasing job ${st.id} failed: ${String(e)}`))
          .then(() => ctx.tell(self, { type: 'psi-service.released', id: st.id })),
      );
    };
    const released = (job: Job) => {
      job.releasing = false;
      const status = snapshot(job);
      for (const w of job.waiters) w.reply(status);
      job.waiters = [];
      for (const sub of job.subscribers) ctx.tell(sub, { type: 'psi-job-finished', id: status.id, status });
      job.subscribers.clear();
      job.markEnded();
      // Keep at most `history` finished jobs.
      let finished = 0;
      for (const j of s.jobs.values()) if (FINAL.has(j.status.state) && !j.releasing) finished++;
      for (const [id, j] of s.jobs) {
        if (finished <= history) break;
        if (FINAL.has(j.status.state) && !j.releasing) {
          s.jobs.delete(id);
          finished--;
        }
      }
    };

    // Whatever goes wrong below fails the ask that caused it, never the service.
    try {
      switch (msg.type) {
        case 'submit':
        case 'run': {
          checkPlain(msg.options);
          const run = resolvePsiOptions(msg.options as PsiOptions);
          checkWorkerHosts(run, ctx.system.workerPool().size);
          const id = `job-${s.next++}`;
          let markEnded: () => void = () => undefined;
          const ended = new Promise<void>((r) => {
            markEnded = r;
          });
          const job: Job = {
            status: {
              id,
              state: 'preparing',
              left: run.left.file,
              right: run.right.file,
              outDir: run.outDir,
              submittedAt: Date.now(),
              warnings: [],
            },
            run,
            prepared: undefined,
            ref: undefined,
            stopping: undefined,
            submitReply: msg.type === 'submit' ? ctx.deferReply<{ id: string }>() : undefined,
            runReply: msg.type === 'run' ? ctx.deferReply<PsiSummary>() : undefined,
            waiters: [],
            subscribers: new Set(),
            ended,
            markEnded,
            releasing: false,
          };
          s.jobs.set(id, job);
          void ctx.inFlight(
            prepareRun(run, (w) => job.status.warnings.push(w)).then(
              (prepared) => ctx.tell(self, { type: 'psi-service.prepared', id, prepared }),
              (error) => ctx.tell(self, { type: 'psi-service.refused', id, error }),
            ),
          );
          return;
        }
        case 'psi-service.prepared': {
          const job = s.jobs.get(msg.id);
          if (job === undefined) {
            void msg.prepared.release(true);
            return;
          }
          job.prepared = msg.prepared;
          if (job.stopping !== undefined) {
            end(
              job,
              undefined,
              new PsiInterruptedError(
                job.stopping === 'cancelled' ? 'cancelled by its client' : 'the actor system is shutting down',
              ),
            );
            return;
          }
          let ref: ActorRef<JobMsg>;
          try {
            ref = ctx.spawn(PsiJob, { name: msg.id, input: job.run });
          } catch (error) {
            end(job, undefined, error);
            return;
          }
          ctx.watch(ref);
          job.ref = ref;
          job.status.state = 'running';
          job.submitReply?.reply({ id: msg.id });
          job.submitReply = undefined;
          ctx.ask<PsiSummary>(ref, { type: 'result' }, { timeoutMs: JOB_RESULT_TIMEOUT_MS }).then(
            (summary) => ctx.tell(self, { type: 'psi-service.ended', id: msg.id, summary }),
            (error) => ctx.tell(self, { type: 'psi-service.ended', id: msg.id, error }),
          );
          return;
        }
        case 'psi-service.refused': {
          // Refused at the door: the job fails its own ask and leaves a `failed` status, nothing else.
          const job = s.jobs.get(msg.id);
          if (job === undefined) return;
          job.stopping = undefined;
          end(job, undefined, msg.error);
          return;
        }
        case 'psi-service.ended': {
          const job = s.jobs.get(msg.id);
          if (job !== undefined) end(job, msg.summary, msg.error);
          return;
        }
        case 'psi-service.released': {
          const job = s.jobs.get(msg.id);
          if (job !== undefined) released(job);
          return;
        }
        case 'psi-service.tick': {
          const job = s.jobs.get(msg.id);
          if (job?.ref === undefined || job.subscribers.size === 0) return;
          ctx.ask<PsiProgress>(job.ref, { type: 'progress-snapshot' }, { timeoutMs: 60_000 }).then(
            (progress) => {
              job.status.progress = progress;
              for (const sub of job.subscribers) ctx.tell(sub, { type: 'psi-job-progress', id: msg.id, progress });
            },
            () => undefined,
          );
          return;
        }
        case 'status':
          ctx.reply(snapshot(find(msg.id)));
          return;
        case 'list':
          ctx.reply([...s.jobs.values()].map(snapshot));
          return;
        case 'wait': {
          const job = find(msg.id);
          if (FINAL.has(job.status.state) && !job.releasing) ctx.reply(snapshot(job));
          else job.waiters.push(ctx.deferReply<PsiJobStatus>());
          return;
        }
        case 'progress': {
          const job = find(msg.id);
          if (job.ref === undefined) {
            if (job.status.progress !== undefined) ctx.reply(job.status.progress);
            else ctx.replyError(new PsiOptionsError('id', `${msg.id} is ${job.status.state}: it has no progress yet`));
            return;
          }
          const reply = ctx.deferReply<PsiProgress>();
          ctx.ask<PsiProgress>(job.ref, { type: 'progress-snapshot' }, { timeoutMs: 60_000 }).then(
            (progress) => {
              job.status.progress = progress;
              reply.reply(progress);
            },
            (error) => reply.fail(error),
          );
          return;
        }
        case 'cancel': {
          const job = find(msg.id);
          if (FINAL.has(job.status.state) && !job.releasing) {
            ctx.reply(snapshot(job));
            return;
          }
          job.waiters.push(ctx.deferReply<PsiJobStatus>());
          if (!FINAL.has(job.status.state)) {
            job.stopping ??= 'cancelled';
            job.ref?.tell({ type: 'abort', reason: new PsiInterruptedError('cancelled by its client') });
          }
          return;
        }
        case 'subscribe': {
          const job = find(msg.id);
          if (FINAL.has(job.status.state) && !job.releasing) {
            ctx.tell(msg.subscriber, { type: 'psi-job-finished', id: msg.id, status: snapshot(job) });
            return;
          }
          const every = msg.intervalMs ?? 1000;
          if (!Number.isFinite(every) || every < 10) {
            throw new PsiOptionsError('intervalMs', `must be a number of milliseconds >= 10, got ${every}`);
          }
          job.subscribers.add(msg.subscriber);
          ctx.timers.interval(`tick:${msg.id}`, every, { type: 'psi-service.tick', id: msg.id });
          return;
        }
      }
    } catch (error) {
      if (ctx.expectsReply) ctx.replyError(error);
      else ctx.log.warn(`psi-service: ${msg.type} failed: ${(error as Error).message}`);
    }
  },
  onTerminated: (s, t, ctx) => {
    // A job actor that died on its own (a crash, not our stop): its ask fails too, but say why here.
    const job = s.jobs.get(t.ref.name);
    if (job === undefined || job.ref === undefined || t.reason.kind !== 'failed') return;
    ctx.tell(ctx.self, { type: 'psi-service.ended', id: job.status.id, error: t.reason.error });
  },
});
