/**
 * One PSI run: two parties (each its own subtree and key), introduced to each
 * other by their exchangers' refs, a progress account, and a two-phase commit
 * of the outputs: both parties write temporary files, and only when both have
 * do both rename them into place. Any failure aborts both; a stop (shutdown)
 * aborts both too, so an interrupted run leaves no output.
 */
import { type ActorContext, type ActorDefinition, type ActorRef, defineActor, type Replier, stop } from '@troupe/core';
import { PsiInterruptedError } from './errors.js';
import { type PartyMsg, PsiParty } from './PsiParty.js';
import type { ExchangerMsg, PartyConfig, PartyEvent, Side, SideProgress } from './protocol.js';

/** The result of a run. */
export interface PsiSummary {
  left: SideSummary;
  right: SideSummary;
  /** Keys in the intersection (unique). */
  intersection: number;
  threads: number;
  /** Worker threads the run actually used: maskers start as the work needs them, up to `threads`. */
  threadsUsed: number;
  batchSize: number;
  elapsedMs: number;
  /** Unique items masked per second, both parties together (each item is masked twice). */
  itemsPerSecond: number;
}

export interface SideSummary {
  file: string;
  outFile: string;
  rows: number;
  uniqueKeys: number;
  matchedRows: number;
  matchedKeys: number;
  /** Rows whose key was empty (matched, skipped or refused per `emptyKeys`). */
  emptyKeyRows: number;
  /** Line of the first such row, or 0. */
  firstEmptyKeyLine: number;
}

export type JobMsg =
  | PartyEvent
  | { type: 'result' }
  | { type: 'progress-snapshot' }
  | { type: 'abort'; reason?: unknown }
  /** Internal: both parties have stopped their exchange and dropped their temporary files. */
  | { type: 'aborted'; error: unknown };

export interface JobInput {
  left: PartyConfig;
  right: PartyConfig;
  /** An actor to put on the wire between the parties (see {@link PsiRelayInput}); none by default. */
  // biome-ignore lint/suspicious/noExplicitAny: the relay's state is its own
  relay?: ActorDefinition<ExchangerMsg, any, PsiRelayInput>;
}

/**
 * Input of a relay: an actor the job puts between the two exchangers, one per
 * direction, that must pass every message on to `to`. Everything that crosses
 * between the parties goes through it, so it is the place to audit (or test)
 * what a party reveals to its peer, exactly as a network link would carry it.
 */
export interface PsiRelayInput {
  /** The side whose exchanger sends through this relay. */
  from: Side;
  /** The other side's exchanger. */
  to: ActorRef<ExchangerMsg>;
}

/** Progress of both sides and the time since the start. */
export interface PsiProgress {
  left: SideProgress;
  right: SideProgress;
  elapsedMs: number;
}

interface JobState {
  started: number;
  /** Why the run is being aborted (set at the first failure; the outcome follows once both parties confirm). */
  aborting: { error: unknown } | undefined;
  parties: Record<Side, ActorRef<PartyMsg>>;
  progress: Record<Side, SideProgress>;
  written: Partial<Record<Side, Extract<PartyEvent, { type: 'party-written' }>>>;
  committed: Partial<Record<Side, true>>;
  waiting: Replier<PsiSummary>[];
  outcome: { ok: PsiSummary } | { error: unknown } | undefined;
}

const emptyProgress = (cfg: PartyConfig): SideProgress => ({
  rows: 0,
  uniqueKeys: 0,
  ownMasked: 0,
  peerMasked: 0,
  returned: 0,
  matchedRows: 0,
  writtenRows: 0,
  maskers: 0,
  bytesRead: 0,
  bytesTotal: cfg.fileBytes ?? 0,
  emptyKeyRows: 0,
  firstEmptyKeyLine: 0,
  readDone: false,
  writing: false,
  done: false,
});

export const PsiJob = defineActor<JobMsg, JobState, JobInput>({
  name: 'psi-job',
  childSupervision: stop(),
  init: (ctx) => {
    const self = ctx.self as unknown as ActorRef<PartyEvent>;
    const left = ctx.spawn(PsiParty, { name: 'left', input: { config: ctx.input.left, job: self } });
    const right = ctx.spawn(PsiParty, { name: 'right', input: { config: ctx.input.right, job: self } });
    ctx.watch(left);
    ctx.watch(right);
    return {
      started: performance.now(),
      aborting: undefined,
      parties: { left, right },
      progress: { left: emptyProgress(ctx.input.left), right: emptyProgress(ctx.input.right) },
      written: {},
      committed: {},
      waiting: [],
      outcome: undefined,
    };
  },
  afterStart: async (s, ctx) => {
    // Introduce the parties: each exchanger gets the other's ref (or a relay to it), and nothing else.
    const [l, r] = await Promise.all([
      ctx.ask<ActorRef<ExchangerMsg>>(s.parties.left, { type: 'get-exchanger' }),
      ctx.ask<ActorRef<ExchangerMsg>>(s.parties.right, { type: 'get-exchanger' }),
    ]);
    const relay = ctx.input.relay;
    const toRight = relay ? ctx.spawn(relay, { name: 'relay-left', input: { from: 'left', to: r } }) : r;
    const toLeft = relay ? ctx.spawn(relay, { name: 'relay-right', input: { from: 'right', to: l } }) : l;
    if (relay) {
      ctx.watch(toRight);
      ctx.watch(toLeft);
    }
    ctx.tell(s.parties.left, { type: 'peer', peer: toRight });
    ctx.tell(s.parties.right, { type: 'peer', peer: toLeft });
  },
  receive: (s, msg, ctx) => {
    switch (msg.type) {
      case 'result':
        if (s.outcome === undefined) s.waiting.push(ctx.deferReply<PsiSummary>());
        else if ('ok' in s.outcome) ctx.reply(s.outcome.ok);
        else ctx.replyError(s.outcome.error);
        return;
      case 'progress-snapshot':
        ctx.reply({
          left: { ...s.progress.left },
          right: { ...s.progress.right },
          elapsedMs: performance.now() - s.started,
        });
        return;
      case 'progress': {
        const p = s.progress[msg.side];
        const counters = p as unknown as Record<string, number>;
        for (const [k, v] of Object.entries(msg.delta)) counters[k] = (counters[k] ?? 0) + (v as number);
        if (msg.readDone) p.readDone = true;
        if (msg.writing) p.writing = true;
        return;
      }
      case 'party-written': {
        s.written[msg.side] = msg;
        if (s.written.left && s.written.right && s.outcome === undefined) {
          s.parties.left.tell({ type: 'commit' });
          s.parties.right.tell({ type: 'commit' });
        }
        return;
      }
      case 'party-committed': {
        s.committed[msg.side] = true;
        s.progress[msg.side].done = true;
        if (s.committed.left && s.committed.right && s.outcome === undefined) finish(s, { ok: summary(s, ctx.input) });
        return;
      }
      case 'party-failed':
        fail(s, msg.error, ctx);
        return;
      case 'abort':
        fail(s, msg.reason ?? new PsiInterruptedError('aborted'), ctx);
        return;
      case 'aborted':
        if (s.outcome === undefined) finish(s, { error: msg.error });
        return;
    }
  },
  onTerminated: (s, t, ctx) => {
    if (t.reason.kind === 'failed') fail(s, t.reason.error, ctx);
  },
  afterStop: (s) => {
    // Stopped before the end (shutdown, a parent's stop): whoever waits learns it; the writers have aborted.
    if (s.outcome === undefined) {
      finish(s, { error: s.aborting?.error ?? new PsiInterruptedError('the actor system is shutting down') });
    }
  },
});

/**
 * Abort the run: both parties stop their exchange (which releases a reader
 * waiting for room) and drop their temporary files, and confirm; only then is
 * the outcome given. So whoever stops the job after it has failed finds every
 * stage idle, and the stop is quick.
 */
function fail(s: JobState, error: unknown, ctx: { ask: AskFn; tell: TellSelf; self: ActorRef<JobMsg> }): void {
  if (s.outcome !== undefined || s.aborting !== undefined) return;
  s.aborting = { error };
  const ack = (party: ActorRef<PartyMsg>) =>
    ctx.ask<boolean>(party, { type: 'abort' }, { timeoutMs: ABORT_ACK_MS }).catch(() => false);
  void Promise.all([ack(s.parties.left), ack(s.parties.right)]).then(() =>
    ctx.tell(ctx.self, { type: 'aborted', error }),
  );
}

/** How long a party may take to confirm an abort before the job gives up waiting. */
const ABORT_ACK_MS = 5_000;
type AskFn = ActorContext<JobMsg, JobInput>['ask'];
type TellSelf = ActorContext<JobMsg, JobInput>['tell'];

function finish(s: JobState, outcome: NonNullable<JobState['outcome']>): void {
  s.outcome = outcome;
  const waiting = s.waiting;
  s.waiting = [];
  for (const w of waiting) {
    if ('ok' in outcome) w.reply(outcome.ok);
    else w.fail(outcome.error);
  }
}

function summary(s: JobState, input: JobInput): PsiSummary {
  const side = (name: Side): SideSummary => {
    const w = s.written[name] as Extract<PartyEvent, { type: 'party-written' }>;
    const cfg = input[name];
    return {
      file: cfg.file,
      outFile: cfg.outFile,
      rows: w.rows,
      uniqueKeys: s.progress[name].uniqueKeys,
      matchedRows: w.matchedRows,
      matchedKeys: w.matchedKeys,
      emptyKeyRows: s.progress[name].emptyKeyRows,
      firstEmptyKeyLine: s.progress[name].firstEmptyKeyLine,
    };
  };
  const left = side('left');
  const right = side('right');
  const elapsedMs = performance.now() - s.started;
  return {
    left,
    right,
    intersection: left.matchedKeys,
    threads: input.left.threads,
    threadsUsed: Math.max(s.progress.left.maskers, s.progress.right.maskers),
    batchSize: input.left.batchSize,
    elapsedMs,
    itemsPerSecond: ((left.uniqueKeys + right.uniqueKeys) / elapsedMs) * 1000,
  };
}
