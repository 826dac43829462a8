/**
 * One party of a PSI run: a subtree of a reader, maskers on worker threads
 * (one per host thread, holding this party's key), an exchanger, a matcher
 * and a writer. Its session gives it the key (fresh per run, or the one a
 * resumed run kept), which the party hands to its maskers and then zeroes;
 * the maskers zero theirs when they stop.
 *
 * A side that writes no rows (the other side learns the result, or only the
 * intersection size is revealed) gets a {@link Tally} instead of the writer,
 * and, if it learns nothing, instead of the matcher too.
 *
 * Maskers start as the work needs them: one at first, another each time the
 * exchanger has more queued (hashing or masking) than its maskers take
 * (`want-masker`), up to `threads`; so a small input starts one thread, not
 * one per core. The key is kept (for the maskers still to come) until the
 * last one has started or the party stops, then zeroed.
 *
 * A masker whose thread dies is restarted by this party (bounded), and the
 * exchanger redoes its unfinished batches. Any other child that fails (bad
 * input in the reader, a broken invariant) is stopped, and the party reports
 * the failure to its session, which aborts the run.
 *
 * **Abort.** The party first trips its stop signal (the reader, matcher and
 * writer check it at every step of their long messages: a bucket, a chunk of
 * the file, a merge), then asks each stage to abort and answers once all four
 * have confirmed: the exchanger has dropped its queues and refused the reader,
 * the reader, the matcher and the writer are idle and have deleted their
 * spill files, sort runs and temporary output. So the session's stop that follows
 * finds nothing in flight and abandons nothing. A stop that comes without an
 * abort trips the signal too, before the stages stop ({@link StopSignal}).
 */
import { type ActorContext, type ActorRef, defineActor, restart, stop, type Terminated } from '@troupe/core';
import type { Checkpoint } from './Checkpoint.js';
import { Exchanger } from './Exchanger.js';
import { PsiInterruptedError } from './errors.js';
import { maskerSpec } from './Masker.js';
import { Matcher } from './Matcher.js';
import {
  type ExchangeOutMsg,
  type ExchangePlan,
  type ExchangerMsg,
  type MaskerMsg,
  type MatcherMsg,
  type PartyConfig,
  type PartyEvent,
  sideLearns,
  type WriterMsg,
} from './protocol.js';
import { Reader, type ReaderMsg } from './Reader.js';
import { StopSignal } from './StopSignal.js';
import { Tally } from './Tally.js';
import { Writer } from './Writer.js';
import { generateKey, zeroKey } from './x25519.js';

export type PartyMsg =
  | PartyEvent
  | { type: 'get-exchanger' }
  | { type: 'commit' }
  /** Answered (when asked) once every stage has wound down and dropped its files. */
  | { type: 'abort' };

export interface PartyInput {
  config: PartyConfig;
  /** Where progress and results go (the session). */
  job: ActorRef<PartyEvent>;
  /** Where the exchanger sends what goes to the peer (the session). */
  session: ActorRef<ExchangeOutMsg>;
  /** The party's key; zeroed here once the maskers have their copies. Default: a fresh one. */
  key?: Uint8Array;
  /** A resumed run: what is done already. */
  plan?: ExchangePlan;
  checkpoint?: Checkpoint;
}

interface PartyState {
  /** The party's key, until every masker it may start has its copy (then zeroed, and undefined). */
  key: Uint8Array | undefined;
  exchanger: ActorRef<ExchangerMsg>;
  writer: ActorRef<WriterMsg>;
  matcher: ActorRef<MatcherMsg>;
  reader: ActorRef<ReaderMsg>;
  maskers: ActorRef<MaskerMsg>[];
  /** Tripped on abort: the stages' long messages check it and end early. */
  stopping: AbortController;
  failed: boolean;
}

/** How long one stage may take to confirm an abort (inside the job's wait for the party, inside runPsi's grace). */
const STAGE_ABORT_MS = 3_000;

export const PsiParty = defineActor<PartyMsg, PartyState, PartyInput>({
  name: 'psi-party',
  // Stages other than maskers do not restart: their errors are bad input or bugs, not transient.
  childSupervision: stop(),
  init: (ctx) => {
    const { config, session, plan, checkpoint } = ctx.input;
    // A fresh key per party per run, from the OS CSPRNG (crypto.randomBytes), unless the session resumes one.
    const key = ctx.input.key ?? generateKey();
    let maskers: ActorRef<MaskerMsg>[];
    try {
      maskers = [spawnMasker(ctx, config, key, 0)];
    } catch (error) {
      zeroKey(key);
      throw error;
    }
    if (config.threads === 1) zeroKey(key);
    const self = ctx.self as unknown as ActorRef<PartyEvent>;
    const learns = sideLearns(config);
    const stopping = new AbortController();
    const signal = stopping.signal;
    let writer: ActorRef<WriterMsg>;
    let matcher: ActorRef<MatcherMsg>;
    if (learns === 'rows') {
      writer = ctx.spawn(Writer, { name: 'writer', input: { config, party: self, signal } });
      matcher = ctx.spawn(Matcher, { name: 'matcher', input: { config, writer, party: self, signal } });
    } else {
      const tally = ctx.spawn(Tally, { name: 'tally', input: { config, party: self, matching: learns === 'size' } });
      writer = tally;
      matcher =
        learns === 'size'
          ? ctx.spawn(Matcher, { name: 'matcher', input: { config, writer: tally, party: self, signal } })
          : tally;
    }
    const exchanger = ctx.spawn(Exchanger, {
      name: 'exchanger',
      input: {
        config,
        maskers,
        matcher,
        party: self,
        session,
        ...(plan === undefined ? {} : { plan }),
        ...(checkpoint === undefined ? {} : { checkpoint }),
      },
    });
    const reader = ctx.spawn(Reader, {
      name: 'reader',
      input: { config, exchanger, matcher, writer, party: self, signal },
    });
    for (const child of new Set([reader, exchanger, matcher, writer])) ctx.watch(child);
    // Spawned last, stopped first: a stop without an abort trips the signal before the stages stop.
    ctx.spawn(StopSignal, { name: 'stop-signal', input: { controller: stopping } });
    ctx.tell(self, { type: 'progress', side: config.side, delta: { maskers: 1 } });
    return {
      key: config.threads === 1 ? undefined : key,
      exchanger,
      writer,
      matcher,
      reader,
      maskers,
      stopping,
      failed: false,
    };
  },
  receive: (s, msg, ctx) => {
    switch (msg.type) {
      case 'get-exchanger':
        ctx.reply(s.exchanger);
        return;
      case 'commit':
        s.writer.tell({ type: 'commit' });
        return;
      case 'abort': {
        s.stopping.abort(new PsiInterruptedError('aborted'));
        const reply = ctx.expectsReply ? ctx.deferReply<boolean>() : undefined;
        // biome-ignore lint/suspicious/noExplicitAny: every stage answers { type: 'abort' }
        const ack = (ref: ActorRef<any>) =>
          ctx.ask<boolean>(ref, { type: 'abort' }, { timeoutMs: STAGE_ABORT_MS }).catch(() => false);
        // All four at once: each answers once its message in flight has ended, which the stop
        // signal (and the exchanger refusing the reader) makes quick.
        void Promise.all([ack(s.exchanger), ack(s.reader), ack(s.matcher), ack(s.writer)]).then(() =>
          reply?.reply(true),
        );
        return;
      }
      case 'want-masker': {
        const { config } = ctx.input;
        if (s.key === undefined || s.maskers.length >= config.threads || s.stopping.signal.aborted) return;
        const masker = spawnMasker(ctx, config, s.key, s.maskers.length);
        s.maskers.push(masker);
        if (s.maskers.length >= config.threads) {
          // Every masker's proxy holds its own copy now; this one is no longer needed.
          zeroKey(s.key);
          s.key = undefined;
        }
        s.exchanger.tell({ type: 'masker-ready', masker });
        ctx.input.job.tell({ type: 'progress', side: config.side, delta: { maskers: 1 } });
        return;
      }
      default:
        // Progress and results go up to the session.
        ctx.input.job.tell(msg);
    }
  },
  afterStop: (s) => {
    s.stopping.abort(new PsiInterruptedError('stopped'));
    if (s.key !== undefined) zeroKey(s.key);
    s.key = undefined;
  },
  onTerminated: (s, t: Terminated, ctx) => {
    if (t.reason.kind !== 'failed' || s.failed) return;
    s.failed = true;
    ctx.input.job.tell({ type: 'party-failed', side: ctx.input.config.side, error: t.reason.error });
  },
});

/**
 * Start masker `i` on host thread `i`. spawnWorker snapshots the input at the
 * call (the proxy's copy is zeroed when the masker stops for good).
 */
function spawnMasker(
  ctx: { spawnWorker: ActorContextSpawnWorker },
  config: PartyConfig,
  key: Uint8Array,
  i: number,
): ActorRef<MaskerMsg> {
  return ctx.spawnWorker(config.masker ?? maskerSpec, {
    name: `masker-${i}`,
    host: i,
    input: { key },
    // A thread that dies is replaced; one that keeps dying ends the run.
    supervision: restart().withLimit(5, 60_000).withBackoff({ minMs: 10, maxMs: 500, jitter: 0.2 }),
  });
}

type ActorContextSpawnWorker = ActorContext<PartyMsg, PartyInput>['spawnWorker'];
