/**
 * The PSI job service as an actor: it owns the job records (on disk through
 * {@link JobStore}), runs at most `maxRunning` jobs at once and queues the
 * rest, cancels, and drains. Every change goes through its mailbox, so the
 * records never race; the HTTP layer and the inspector only ask it.
 */
import type { PsiProgress, PsiSummary } from '@troupe/actors';
import { type ActorContext, defineActor } from '@troupe/core';
import { finalStates, type JobRecord, type JobRequest, jobError, jobProgress, queuedProgress } from './JobRecord.js';
import { idNumber, type JobStore } from './JobStore.js';

/**
 * How the service runs one PSI job: the seam to the PSI library. It must
 * report progress, stop (rejecting) when `signal` aborts, and leave no output
 * when it does not finish.
 */
export type PsiRunner = (
  request: JobRequest,
  run: { onProgress: (p: PsiProgress) => void; signal: AbortSignal },
) => Promise<{ summary: PsiSummary; outputBytes: { left: number; right: number } }>;

export type JobServiceMsg =
  | { type: 'submit'; request: JobRequest; inputBytes: { left: number; right: number } }
  | { type: 'list' }
  | { type: 'get'; id: string }
  | { type: 'cancel'; id: string }
  /** Stop starting jobs; `interrupt` also aborts the running ones. Replies when none runs. */
  | { type: 'drain'; mode: 'finish' | 'interrupt' }
  | { type: 'progress'; id: string; progress: PsiProgress }
  | {
      type: 'finished';
      id: string;
      outcome:
        | { ok: { summary: PsiSummary; outputBytes: { left: number; right: number } } }
        | { error: ReturnType<typeof jobError> };
    };

export interface JobServiceInput {
  store: JobStore;
  /** The records found on disk at start. */
  loaded: JobRecord[];
  maxRunning: number;
  run: PsiRunner;
  /** Told every change (for the inspector's jobs section). */
  publish?: (jobs: readonly JobRecord[]) => void;
}

/** A request the service refuses: the HTTP layer maps `status`. */
export class JobServiceError extends Error {
  override readonly name = 'JobServiceError';
  constructor(
    readonly status: 404 | 409 | 503,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

interface Running {
  controller: AbortController;
  /** Why it is being aborted: decides the final state. */
  abortedAs: 'cancelled' | 'interrupted' | undefined;
  lastSaved: number;
}

interface State {
  jobs: Map<string, JobRecord>;
  queue: string[];
  running: Map<string, Running>;
  next: number;
  draining: boolean;
  drainWaiters: (() => void)[];
  saving: Promise<void>;
}

const PROGRESS_SAVE_MS = 2_000;

export const JobService = defineActor<JobServiceMsg, State, JobServiceInput>({
  name: 'psi-job-service',
  init: async (ctx) => {
    const { loaded, store } = ctx.input;
    const s: State = {
      jobs: new Map(),
      queue: [],
      running: new Map(),
      next: 1,
      draining: false,
      drainWaiters: [],
      saving: Promise.resolve(),
    };
    const now = new Date().toISOString();
    for (const r of loaded) {
      s.jobs.set(r.id, r);
      s.next = Math.max(s.next, idNumber(r.id) + 1);
      if (r.state === 'running') {
        // The service stopped (crashed, was killed) while this ran; the run's outputs were never committed.
        r.state = 'interrupted';
        r.finishedAt = now;
        r.error = {
          name: 'Interrupted',
          code: 'ERR_JOB_INTERRUPTED',
          message: 'the service stopped while this job ran; it left no output. Submit it again to rerun it.',
        };
        await store.save(r);
      } else if (r.state === 'queued') {
        s.queue.push(r.id);
      }
    }
    return s;
  },
  afterStart: (s, ctx) => {
    pump(s, ctx);
    publish(s, ctx.input);
  },
  receive: (s, msg, ctx) => {
    const input = ctx.input;
    switch (msg.type) {
      case 'submit': {
        // Refusals are replies, not throws: a throw would fail (and restart) the service itself.
        if (s.draining)
          return ctx.replyError(new JobServiceError(503, 'the service is shutting down; it takes no new jobs'));
        const busy = [...s.jobs.values()].find((j) => !finalStates.has(j.state) && j.request.out === msg.request.out);
        if (busy !== undefined) {
          return ctx.replyError(
            new JobServiceError(409, `job ${busy.id} (${busy.state}) already writes to ${msg.request.out}`, 'out'),
          );
        }
        const record: JobRecord = {
          id: `j-${s.next++}`,
          state: 'queued',
          request: msg.request,
          inputBytes: msg.inputBytes,
          createdAt: new Date().toISOString(),
          startedAt: null,
          finishedAt: null,
          progress: queuedProgress(),
          result: null,
          error: null,
          cancelRequested: false,
        };
        s.jobs.set(record.id, record);
        s.queue.push(record.id);
        // Accepted means on disk: the answer waits for the record's write, so a crash right after loses nothing.
        const replier = ctx.deferReply<JobRecord>();
        const answer = copy(record);
        save(s, ctx, record).then(
          () => replier.reply(answer),
          (error: unknown) => replier.fail(error),
        );
        pump(s, ctx);
        publish(s, input);
        return;
      }
      case 'list':
        ctx.reply([...s.jobs.values()].map(copy));
        return;
      case 'get':
        ctx.reply(s.jobs.has(msg.id) ? copy(s.jobs.get(msg.id) as JobRecord) : null);
        return;
      case 'cancel': {
        const record = s.jobs.get(msg.id);
        if (record === undefined) return ctx.replyError(new JobServiceError(404, `no job ${msg.id}`, 'id'));
        if (finalStates.has(record.state)) {
          return ctx.replyError(
            new JobServiceError(409, `job ${msg.id} is already ${record.state}; only queued or running jobs cancel`),
          );
        }
        if (record.state === 'queued') {
          s.queue = s.queue.filter((id) => id !== msg.id);
          finish(s, ctx, record, 'cancelled', {
            name: 'Cancelled',
            code: 'ERR_JOB_CANCELLED',
            message: 'cancelled before it started',
          });
        } else {
          const run = s.running.get(msg.id) as Running;
          run.abortedAs ??= 'cancelled';
          record.cancelRequested = true;
          run.controller.abort(new Error('cancelled'));
          publish(s, input);
        }
        ctx.reply(copy(record));
        return;
      }
      case 'drain': {
        s.draining = true;
        if (msg.mode === 'interrupt') {
          for (const run of s.running.values()) {
            run.abortedAs ??= 'interrupted';
            run.controller.abort(new Error('the service is shutting down'));
          }
        }
        const replier = ctx.deferReply<{ queued: number }>();
        const done = () => replier.reply({ queued: s.queue.length });
        if (s.running.size === 0) done();
        else s.drainWaiters.push(done);
        publish(s, input);
        return;
      }
      case 'progress': {
        const record = s.jobs.get(msg.id);
        const run = s.running.get(msg.id);
        if (record === undefined || run === undefined) return;
        record.progress = jobProgress(msg.progress);
        const now = Date.now();
        if (now - run.lastSaved >= PROGRESS_SAVE_MS) {
          run.lastSaved = now;
          save(s, ctx, record);
        }
        publish(s, input);
        return;
      }
      case 'finished': {
        const record = s.jobs.get(msg.id);
        const run = s.running.get(msg.id);
        if (record === undefined || run === undefined) return;
        s.running.delete(msg.id);
        if ('ok' in msg.outcome) {
          record.result = { ...msg.outcome.ok.summary, outputBytes: msg.outcome.ok.outputBytes };
          record.progress = { ...record.progress, phase: 'done', fraction: 1 };
          finish(s, ctx, record, 'done', null);
        } else if (run.abortedAs === 'cancelled') {
          finish(s, ctx, record, 'cancelled', {
            name: 'Cancelled',
            code: 'ERR_JOB_CANCELLED',
            message: 'cancelled while it ran; it left no output',
          });
        } else if (run.abortedAs === 'interrupted') {
          finish(s, ctx, record, 'interrupted', {
            name: 'Interrupted',
            code: 'ERR_JOB_INTERRUPTED',
            message: 'the service shut down while this job ran; it left no output. Submit it again to rerun it.',
          });
        } else {
          finish(s, ctx, record, 'failed', msg.outcome.error);
        }
        pump(s, ctx);
        if (s.running.size === 0) for (const w of s.drainWaiters.splice(0)) w();
        return;
      }
    }
  },
});

type Ctx = ActorContext<JobServiceMsg, JobServiceInput>;

/** Start queued jobs while there is room. */
function pump(s: State, ctx: Ctx): void {
  while (!s.draining && s.running.size < ctx.input.maxRunning && s.queue.length > 0) {
    const id = s.queue.shift() as string;
    const record = s.jobs.get(id) as JobRecord;
    const controller = new AbortController();
    s.running.set(id, { controller, abortedAs: undefined, lastSaved: Date.now() });
    record.state = 'running';
    record.startedAt = new Date().toISOString();
    record.progress = { ...queuedProgress(), phase: 'starting' };
    save(s, ctx, record);
    const self = ctx.self;
    // The run's own work is in flight for the actor: shutdown's drain waits for it.
    void ctx.inFlight(
      ctx.input
        .run(record.request, {
          onProgress: (progress) => self.tell({ type: 'progress', id, progress }),
          signal: controller.signal,
        })
        .then(
          (ok) => self.tell({ type: 'finished', id, outcome: { ok } }),
          (error: unknown) => self.tell({ type: 'finished', id, outcome: { error: jobError(error) } }),
        ),
    );
  }
}

function finish(s: State, ctx: Ctx, record: JobRecord, state: JobRecord['state'], error: JobRecord['error']): void {
  record.state = state;
  record.error = error;
  record.finishedAt = new Date().toISOString();
  save(s, ctx, record);
  publish(s, ctx.input);
}

/** Writes go one after another (the last one of a record wins), tracked so a drain waits for them. */
function save(s: State, ctx: Ctx, record: JobRecord): Promise<void> {
  const snapshot = copy(record);
  const write = s.saving.then(
    () => ctx.input.store.save(snapshot),
    () => ctx.input.store.save(snapshot),
  );
  s.saving = write.catch(() => undefined);
  void ctx.inFlight(write).catch((error: unknown) => {
    ctx.log.error(`psi serve: could not save job ${record.id}: ${(error as Error).message}`);
  });
  return write;
}

function publish(s: State, input: JobServiceInput): void {
  input.publish?.([...s.jobs.values()]);
}

function copy(r: JobRecord): JobRecord {
  return structuredClone(r);
}
