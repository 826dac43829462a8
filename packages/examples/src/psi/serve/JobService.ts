/**
 * The PSI job service as an actor: it owns the job records (on disk through
 * {@link JobStore}), runs at most `maxRunning` jobs at once and queues the
 * rest, cancels, and drains. Every change goes through its mailbox, so the
 * records never race; the HTTP layer and the inspector only ask it.
 *
 * The runs themselves belong to a `PsiService` child (`@troupe/actors`), by
 * its message protocol: a job that may start is `submit`ted to it, its
 * progress comes back as `psi-job-progress` events (this actor subscribes),
 * a cancel or an interrupting drain is a `cancel` message, and the end is one
 * `psi-job-finished` event, sent once the run has released its files. This
 * actor adds what a service needs around that: ids that survive restarts,
 * records on disk, the queue and its bound, and the drain.
 */
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import {
  PsiInterruptedError,
  type PsiJobError,
  type PsiJobEvent,
  type PsiJobOptions,
  type PsiJobStatus,
  PsiService,
  type PsiServiceMsg,
  type SessionProgress,
  type SideSummary,
} from '@troupe/actors';
import { type ActorContext, type ActorRef, defineActor, stop } from '@troupe/core';
import {
  type AnyJobRequest,
  finalStates,
  isPartyRequest,
  type JobRecord,
  type JobRequest,
  jobError,
  jobProgress,
  type PartyJobRequest,
  partyProgress,
  queuedProgress,
} from './JobRecord.js';
import { idNumber, type JobStore } from './JobStore.js';
import { removeLeftovers } from './leftovers.js';

/** The messages of {@link JobService}: every one is an ask. */
export type JobServiceMsg =
  | { type: 'submit'; request: AnyJobRequest; inputBytes: { left: number; right: number } }
  | { type: 'list' }
  | { type: 'get'; id: string }
  | { type: 'cancel'; id: string }
  /** Stop starting jobs; `interrupt` also stops the running ones. Replies when none runs. */
  | { type: 'drain'; mode: 'finish' | 'interrupt' };

/** Why a run ended without a result: the PSI service's plain error, or one of ours. */
type RunError = Pick<PsiJobError, 'name' | 'message'> & { code?: string | null };

/** What the service tells itself, and what its PSI service tells it. */
type Internal =
  | PsiJobEvent
  | { type: 'jobs.started'; id: string; psiId: string }
  | { type: 'jobs.refused'; id: string; error: RunError }
  | { type: 'jobs.measured'; id: string; status: PsiJobStatus; outputBytes: { left: number; right: number } }
  | { type: 'jobs.party-progress'; id: string; progress: SessionProgress; elapsedMs: number }
  | { type: 'jobs.party-done'; id: string; summary: SideSummary; outputBytes: number };

/**
 * Runs one party job's session, as `psi party` runs it (the service's `runParty` over its
 * NATS cluster): aborting `signal` aborts it (the peer is told, nothing is written).
 */
export type PartyRunner = (
  id: string,
  request: PartyJobRequest,
  hooks: { signal: AbortSignal; onProgress: (progress: SessionProgress) => void },
) => Promise<SideSummary>;

export interface JobServiceInput {
  store: JobStore;
  /** The records found on disk at start. */
  loaded: JobRecord[];
  maxRunning: number;
  /** How often a running job's progress is pushed to the service (ms); default 250. */
  progressIntervalMs?: number;
  /** Told every change (for the inspector's jobs section). */
  publish?: (jobs: readonly JobRecord[]) => void;
  /** Runs party jobs; without it (no `--nats`) the API refuses them. */
  runParty?: PartyRunner;
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
  /** The run's id in the PSI service, once it runs there. */
  psiId: string | undefined;
  /** Why it is being stopped: decides the final state. */
  stoppedAs: 'cancelled' | 'interrupted' | undefined;
  lastSaved: number;
  /** A party job: aborts its session. */
  abort?: AbortController;
}

interface State {
  psi: ActorRef<PsiServiceMsg>;
  jobs: Map<string, JobRecord>;
  queue: string[];
  running: Map<string, Running>;
  /** Our job id by the PSI service's. */
  byPsiId: Map<string, string>;
  next: number;
  draining: boolean;
  drainWaiters: (() => void)[];
  saving: Promise<void>;
}

const PROGRESS_SAVE_MS = 2_000;
/** A week: a run ends by itself, by cancel or by the drain, never by this. */
const RUN_TIMEOUT_MS = 7 * 24 * 3_600_000;

const CANCELLED_RUNNING = {
  name: 'Cancelled',
  code: 'ERR_JOB_CANCELLED',
  message: 'cancelled while it ran; it left no output',
};
const INTERRUPTED_RUNNING = {
  name: 'Interrupted',
  code: 'ERR_JOB_INTERRUPTED',
  message: 'the service shut down while this job ran; it left no output. Submit it again to rerun it.',
};

export const JobService = defineActor<JobServiceMsg | Internal, State, JobServiceInput>({
  name: 'psi-job-service',
  // The PSI service keeps its jobs' failures to itself; should it stop anyway, it is not restarted
  // under running jobs it no longer knows: those jobs fail (onTerminated), new ones are refused.
  childSupervision: stop(),
  init: async (ctx) => {
    const { loaded, store } = ctx.input;
    const psi = ctx.spawn(PsiService, { name: 'psi', input: { historyLimit: 100 } });
    ctx.watch(psi);
    const s: State = {
      psi,
      jobs: new Map(),
      queue: [],
      running: new Map(),
      byPsiId: new Map(),
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
        // The service stopped (crashed, was killed) while this ran; the run's outputs were never committed,
        // and what it had begun to write is removed now.
        r.warnings = [...r.warnings, ...(await removeLeftovers(r.request.out, r.outFolderMade === true))];
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
        if (s.draining) {
          return ctx.replyError(new JobServiceError(503, 'the service is shutting down; it takes no new jobs'));
        }
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
          warnings: [],
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
          record.cancelRequested = true;
          stopRun(s, ctx, msg.id, 'cancelled');
          publish(s, input);
        }
        ctx.reply(copy(record));
        return;
      }
      case 'drain': {
        s.draining = true;
        if (msg.mode === 'interrupt') for (const id of s.running.keys()) stopRun(s, ctx, id, 'interrupted');
        const replier = ctx.deferReply<{ queued: number }>();
        const done = () => replier.reply({ queued: s.queue.length });
        if (s.running.size === 0) done();
        else s.drainWaiters.push(done);
        publish(s, input);
        return;
      }
      case 'jobs.started': {
        const run = s.running.get(msg.id);
        if (run === undefined) return;
        run.psiId = msg.psiId;
        s.byPsiId.set(msg.psiId, msg.id);
        ctx.tell(s.psi, {
          type: 'subscribe',
          id: msg.psiId,
          subscriber: ctx.self,
          intervalMs: input.progressIntervalMs ?? 250,
        });
        // Stopped while the PSI service was still checking its files: stop it there now.
        if (run.stoppedAs !== undefined) askCancel(s, ctx, msg.psiId);
        return;
      }
      case 'jobs.refused':
        // Refused by the PSI service's own checks (e.g. an output appeared meanwhile), or stopped while it prepared.
        ended(s, ctx, msg.id, undefined, msg.error);
        return;
      case 'psi-job-progress': {
        const id = s.byPsiId.get(msg.id);
        const record = id === undefined ? undefined : s.jobs.get(id);
        const run = id === undefined ? undefined : s.running.get(id);
        if (record === undefined || run === undefined) return;
        record.progress = jobProgress(msg.progress);
        progressed(s, input, ctx, record, run);
        return;
      }
      case 'psi-job-finished': {
        const id = s.byPsiId.get(msg.id);
        if (id === undefined) return;
        s.byPsiId.delete(msg.id);
        const { status } = msg;
        if (status.state !== 'done' || status.summary === undefined) {
          ended(s, ctx, id, status, status.error);
          return;
        }
        // The outputs are committed (the event comes once the run has released them): measure them.
        const { left, right } = status.summary;
        const self = ctx.self;
        void ctx.inFlight(
          // A side that learns nothing (reveal) writes no file: 0 bytes.
          Promise.all([size(left.outFile), size(right.outFile)]).then(
            ([l, r]) => self.tell({ type: 'jobs.measured', id, status, outputBytes: { left: l, right: r } }),
            (error: unknown) => self.tell({ type: 'jobs.refused', id, error: jobError(error) }),
          ),
        );
        return;
      }
      case 'jobs.party-progress': {
        const record = s.jobs.get(msg.id);
        const run = s.running.get(msg.id);
        if (record === undefined || run === undefined) return;
        record.progress = partyProgress(msg.progress, msg.elapsedMs);
        progressed(s, input, ctx, record, run);
        return;
      }
      case 'jobs.party-done': {
        const record = s.jobs.get(msg.id);
        if (record === undefined || !s.running.delete(msg.id)) return;
        const side = msg.summary.side;
        record.result = {
          ...msg.summary,
          kind: 'party',
          outputBytes: { left: side === 'left' ? msg.outputBytes : 0, right: side === 'right' ? msg.outputBytes : 0 },
        };
        if (msg.summary.emptyKeyRows > 0) {
          record.warnings = [
            `${msg.summary.emptyKeyRows} rows with an empty key (the first on line ${msg.summary.firstEmptyKeyLine})`,
          ];
        }
        record.progress = { ...record.progress, phase: 'done', fraction: 1, elapsedMs: msg.summary.elapsedMs };
        finish(s, ctx, record, 'done', null);
        afterRun(s, ctx);
        return;
      }
      case 'jobs.measured': {
        const record = s.jobs.get(msg.id);
        if (record === undefined || !s.running.delete(msg.id)) return;
        const summary = msg.status.summary as NonNullable<PsiJobStatus['summary']>;
        record.result = { ...summary, outputBytes: msg.outputBytes };
        record.warnings = msg.status.warnings.map((w) => w.message);
        record.progress = { ...record.progress, phase: 'done', fraction: 1 };
        finish(s, ctx, record, 'done', null);
        afterRun(s, ctx);
        return;
      }
    }
  },
  onTerminated: (s, t, ctx) => {
    if (t.ref.path !== s.psi.path) return;
    // Not expected (the PSI service contains its jobs' failures); say so, and fail what it ran.
    ctx.log.error(`psi serve: the PSI service stopped (${t.reason.kind}); its running jobs fail, new ones are refused`);
    s.draining = true;
    for (const id of [...s.running.keys()]) {
      ended(s, ctx, id, undefined, {
        name: 'PsiServiceStopped',
        code: 'ERR_PSI_SERVICE_STOPPED',
        message: 'the PSI service stopped while this job ran',
      });
    }
  },
});

type Ctx = ActorContext<JobServiceMsg | Internal, JobServiceInput>;

/** Start queued jobs while there is room: each is submitted to the PSI service. */
function pump(s: State, ctx: Ctx): void {
  while (!s.draining && s.running.size < ctx.input.maxRunning && s.queue.length > 0) {
    const id = s.queue.shift() as string;
    const record = s.jobs.get(id) as JobRecord;
    s.running.set(id, { psiId: undefined, stoppedAs: undefined, lastSaved: Date.now() });
    record.state = 'running';
    record.startedAt = new Date().toISOString();
    record.progress = { ...queuedProgress(), phase: 'starting' };
    record.outFolderMade = !existsSync(record.request.out);
    save(s, ctx, record);
    const self = ctx.self;
    const request = record.request;
    if (isPartyRequest(request)) {
      startParty(s, ctx, id, request);
      continue;
    }
    // `submit` answers once the job runs there (its files checked), or with why it was refused.
    void ctx.inFlight(
      ctx
        .ask<{ id: string }>(s.psi, { type: 'submit', options: psiOptions(request) }, { timeoutMs: RUN_TIMEOUT_MS })
        .then(
          ({ id: psiId }) => self.tell({ type: 'jobs.started', id, psiId }),
          (error: unknown) => self.tell({ type: 'jobs.refused', id, error: jobError(error) }),
        ),
    );
  }
}

function psiOptions(r: JobRequest): PsiJobOptions {
  return {
    left: r.left,
    right: r.right,
    key: r.key,
    outDir: r.out,
    threads: r.threads,
    batchSize: r.batch,
    delimiter: r.delimiter,
    overwrite: r.overwrite,
    emptyKeys: r.emptyKeys,
  };
}

/** Run a party job's session (the service's `runParty`); its progress and its end come back as messages. */
function startParty(s: State, ctx: Ctx, id: string, request: PartyJobRequest): void {
  const run = s.running.get(id) as Running;
  const self = ctx.self;
  const runner = ctx.input.runParty;
  if (runner === undefined) {
    self.tell({
      type: 'jobs.refused',
      id,
      error: {
        name: 'PartyJobsUnavailable',
        code: 'ERR_NO_NATS',
        message: 'this service was started without --nats, so it runs no party jobs',
      },
    });
    return;
  }
  const abort = new AbortController();
  run.abort = abort;
  const started = Date.now();
  void ctx.inFlight(
    runner(id, request, {
      signal: abort.signal,
      onProgress: (progress) =>
        self.tell({ type: 'jobs.party-progress', id, progress, elapsedMs: Date.now() - started }),
    })
      .then(async (summary) => ({ summary, bytes: await size(summary.outFile) }))
      .then(
        ({ summary, bytes }) => self.tell({ type: 'jobs.party-done', id, summary, outputBytes: bytes }),
        (error: unknown) => self.tell({ type: 'jobs.refused', id, error: jobError(error) }),
      ),
  );
}

/** Stop a running job (a cancel, or the drain): by a `cancel` to the PSI service once it runs there. */
function stopRun(s: State, ctx: Ctx, id: string, as: 'cancelled' | 'interrupted'): void {
  const run = s.running.get(id);
  if (run === undefined) return;
  run.stoppedAs ??= as;
  if (run.abort !== undefined) {
    run.abort.abort(
      new PsiInterruptedError(as === 'cancelled' ? 'the job was cancelled' : 'the service is shutting down'),
    );
    return;
  }
  if (run.psiId !== undefined) askCancel(s, ctx, run.psiId);
}

function askCancel(s: State, ctx: Ctx, psiId: string): void {
  // Its answer is the final status, which `psi-job-finished` brings too.
  ctx.ask(s.psi, { type: 'cancel', id: psiId }, { timeoutMs: 60_000 }).catch((error: unknown) => {
    ctx.log.warn(`psi serve: cancel of PSI job ${psiId} failed: ${(error as Error).message}`);
  });
}

/** A run ended without a result: cancelled, interrupted or failed, as it was stopped or as it says. */
function ended(s: State, ctx: Ctx, id: string, status: PsiJobStatus | undefined, error: RunError | undefined): void {
  const record = s.jobs.get(id);
  const run = s.running.get(id);
  if (record === undefined || run === undefined) return;
  s.running.delete(id);
  if (run.psiId !== undefined) s.byPsiId.delete(run.psiId);
  if (status !== undefined) record.warnings = status.warnings.map((w) => w.message);
  if (run.stoppedAs === 'cancelled') finish(s, ctx, record, 'cancelled', CANCELLED_RUNNING);
  else if (run.stoppedAs === 'interrupted' || status?.state === 'interrupted')
    finish(s, ctx, record, 'interrupted', INTERRUPTED_RUNNING);
  else
    finish(s, ctx, record, 'failed', {
      name: error?.name ?? 'Error',
      code: error?.code ?? null,
      message: error?.message ?? 'the run ended without a result',
    });
  afterRun(s, ctx);
}

/** A slot is free: start the next job, or tell a drain that nothing runs any more. */
function afterRun(s: State, ctx: Ctx): void {
  pump(s, ctx);
  if (s.running.size === 0) for (const w of s.drainWaiters.splice(0)) w();
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

/** A running job's progress changed: publish it, and save its record at most every PROGRESS_SAVE_MS. */
function progressed(s: State, input: JobServiceInput, ctx: Ctx, record: JobRecord, run: Running): void {
  const now = Date.now();
  if (now - run.lastSaved >= PROGRESS_SAVE_MS) {
    run.lastSaved = now;
    save(s, ctx, record);
  }
  publish(s, input);
}

function publish(s: State, input: JobServiceInput): void {
  input.publish?.([...s.jobs.values()]);
}

function copy(r: JobRecord): JobRecord {
  return structuredClone(r);
}

/** The size of an output file; 0 for a side that writes none (it learns nothing of the intersection). */
async function size(file: string | null): Promise<number> {
  return file === null ? 0 : (await stat(file)).size;
}
