/**
 * The exchanger: runs one party's side of the ECDH-PSI exchange.
 *
 * - Own batches (from the reader) are hashed and masked by the maskers, then
 *   shuffled and handed to the session, which sends them to the peer. In the
 *   row modes each batch is shuffled on its own and the permutation stays
 *   here; in the cardinality mode all own items are shuffled across the whole
 *   set first, so the peer cannot tell which batch (or part of the file) an
 *   item came from.
 * - The peer's batches are raised to our key by the maskers; the last
 *   {@link COMPARE_BYTES} of each go to our matcher (the peer's items, as a
 *   set) if this side learns the result, and back to the peer if it does: in
 *   the order it sent them (row modes), or all of them shuffled across the
 *   whole set once every batch is in (cardinality mode).
 * - The peer's answers for our batches are un-shuffled and go to our matcher.
 *
 * It talks to the peer only through its session and plain byte arrays, so
 * the peer can as well be in another process. Masking jobs run on the
 * worker-thread maskers with a bounded number in flight; a job whose masker's
 * thread died is redone (the masker itself is restarted by its supervisor), so
 * a crash mid-run still gives the right answer. A resumed run skips what its
 * checkpoint holds ({@link ExchangePlan}); the exchanger appends to the
 * checkpoint as it goes. The party starts maskers as the work needs them:
 * when more is queued (hashing or masking) than the maskers it has can take,
 * the exchanger asks for one more (`want-masker`), up to `threads`.
 *
 * On `abort` it drops its queues and refuses the reader from then on (its
 * waiting and later `hash` / `own-batch` asks fail with
 * {@link PsiInterruptedError}), so a reader blocked on the backpressure or
 * on its hashing is released at once and stops quietly.
 */
import { type ActorContext, type ActorRef, defineActor, type Replier } from '@troupe/core';
import { BatchSet } from './BatchSet.js';
import type { Checkpoint } from './Checkpoint.js';
import { LowOrderPointError, PsiInterruptedError } from './errors.js';
import {
  COMPARE_BYTES,
  type ExchangeOutMsg,
  type ExchangePlan,
  type ExchangerMsg,
  type MaskerMsg,
  type MatcherMsg,
  type PartyConfig,
  type PartyEvent,
  sideLearns,
} from './protocol.js';
import { randomPermutation, shuffleRecords } from './shuffle.js';
import { X25519_BYTES } from './x25519.js';

export interface ExchangerInput {
  config: PartyConfig;
  maskers: ActorRef<MaskerMsg>[];
  matcher: ActorRef<MatcherMsg>;
  party: ActorRef<PartyEvent>;
  /** Where what goes to the peer is sent (the session puts it on the wire). */
  session: ActorRef<ExchangeOutMsg>;
  /** A resumed run: what is already done. */
  plan?: ExchangePlan;
  /** Where progress is recorded for a later resume. */
  checkpoint?: Checkpoint;
}

interface Job {
  id: number;
  kind: 'own' | 'peer' | 'hash';
  index: number;
  message: MaskerMsg;
  count: number;
  attempts: number;
  masker: number;
  /** Own batches: the unique key index of each point. */
  uids: Uint32Array | undefined;
  /** Hash jobs: the reader waiting for the points. */
  replier: Replier<Uint8Array> | undefined;
}

interface OwnBatch {
  uids: Uint32Array;
  perm: Uint32Array;
}

interface ExchangerState {
  /** The maskers started so far (the party starts more on `want-masker`, up to `threads`). */
  maskers: ActorRef<MaskerMsg>[];
  /** A `want-masker` is out and not yet answered. */
  wanting: boolean;
  learns: boolean;
  peerLearns: boolean;
  cardinality: boolean;
  ownQueue: Job[];
  peerQueue: Job[];
  hashQueue: Job[];
  inFlight: Map<number, Job>;
  perMasker: number[];
  nextJob: number;
  /** Own batches sent whose returns are awaited. */
  own: Map<number, OwnBatch>;
  /** Own batches whose returns arrived (or were in the checkpoint). */
  ownReturnedSet: BatchSet;
  /** A resumed run: returns the peer re-sent before the reader reached their batch. */
  early: Map<number, Uint8Array>;
  ownTotal: number | undefined;
  ownItems: number;
  /** Own batches resolved on the sending side: sent, or held by the peer already. */
  ownSent: number;
  endSent: boolean;
  ownReturned: number;
  /** Cardinality mode: own masked items, kept until all are in and shuffled together. */
  ownMasked: Uint8Array[];
  /** Cardinality mode: own items returned (shuffled) so far, and whether all are in. */
  shuffledIn: number;
  shuffledEnd: boolean;
  peerTotal: number | undefined;
  peerDone: number;
  /** Cardinality mode: the peer's items raised to our key, kept until all are in and shuffled together. */
  peerDoubles: Uint8Array[];
  shuffledSent: boolean;
  /** Readers waiting for room (the backpressure). */
  waiting: Replier<boolean>[];
  dispatched: number;
  crashed: boolean;
  finished: boolean;
  /** Aborted: the reader's next batch is refused, so it stops instead of waiting for room forever. */
  aborted: boolean;
}

/** Own batches queued beyond this make the reader wait. */
const OWN_QUEUE_LIMIT = 8;
/** A masker job is retried this many times after its thread died. */
const MAX_ATTEMPTS = 5;

type Ctx = ActorContext<ExchangerMsg, ExchangerInput>;

export const Exchanger = defineActor<ExchangerMsg, ExchangerState, ExchangerInput>({
  name: 'psi-exchanger',
  init: (ctx) => {
    const { config } = ctx.input;
    const peerSide = config.side === 'left' ? 'right' : 'left';
    return {
      maskers: [...ctx.input.maskers],
      wanting: false,
      learns: sideLearns(config) !== 'nothing',
      peerLearns: sideLearns(config, peerSide) !== 'nothing',
      cardinality: config.cardinalityOnly === true,
      ownQueue: [],
      peerQueue: [],
      hashQueue: [],
      inFlight: new Map(),
      perMasker: ctx.input.maskers.map(() => 0),
      nextJob: 1,
      own: new Map(),
      ownReturnedSet: new BatchSet(),
      early: new Map(),
      ownTotal: undefined,
      ownItems: 0,
      ownSent: 0,
      endSent: false,
      ownReturned: 0,
      ownMasked: [],
      shuffledIn: 0,
      shuffledEnd: false,
      peerTotal: undefined,
      peerDone: 0,
      peerDoubles: [],
      shuffledSent: false,
      waiting: [],
      dispatched: 0,
      crashed: false,
      finished: false,
      aborted: false,
    };
  },
  afterStart: (s, ctx) => {
    // A resumed run: the peer batches done before count as done, and go to the
    // matcher (and back to the peer, where it lacks them) without masking again.
    const plan = ctx.input.plan;
    if (plan === undefined) return;
    const { matcher, session, party, config } = ctx.input;
    for (const [index, doubles] of plan.peerDoubles) {
      if (s.learns) ctx.tell(matcher, { type: 'peer-doubles', doubles });
      if (s.peerLearns && !plan.peerHasReturned.has(index)) {
        ctx.tell(session, { type: 'out-returned', index, doubles: doubles.slice() });
      }
      s.peerDone++;
    }
    ctx.tell(party, {
      type: 'progress',
      side: config.side,
      delta: { peerMasked: [...plan.peerDoubles.values()].reduce((n, d) => n + d.byteLength / COMPARE_BYTES, 0) },
    });
  },
  receive: (s, msg, ctx) => {
    if (s.aborted) {
      // The reader's asks fail (it stops quietly on this error); anything else that asks is answered.
      if (msg.type === 'own-batch' || msg.type === 'hash') ctx.replyError(new PsiInterruptedError('aborted'));
      else if (ctx.expectsReply) ctx.reply(true);
      return;
    }
    if (s.finished && msg.type !== 'abort' && msg.type !== 'masker-ready') {
      // Done, or the peer broke the protocol (the party is aborted next): a reader still asking is let go.
      if (msg.type === 'hash') ctx.replyError(new PsiInterruptedError('the exchange is over'));
      else if (ctx.expectsReply) ctx.reply(true);
      return;
    }
    const { config, matcher, party, session, plan } = ctx.input;
    const side = config.side;
    switch (msg.type) {
      case 'hash': {
        const count = msg.offsets.length - 1;
        const j = job(s, 'hash', 0, { type: 'hash', keys: msg.keys, offsets: msg.offsets }, count);
        j.replier = ctx.deferReply<Uint8Array>();
        s.hashQueue.push(j);
        break;
      }
      case 'own-batch': {
        const count = msg.uids.length;
        if (msg.points.byteLength !== count * X25519_BYTES) {
          throw new Error(`psi ${side}: own batch ${msg.index} has ${msg.points.byteLength} bytes for ${count} keys`);
        }
        const held = plan?.ownReturned.get(msg.index);
        if (held !== undefined) {
          // Returned before the interruption: straight to the matcher.
          ctx.tell(matcher, { type: 'own-doubles', uids: msg.uids, doubles: held });
          s.ownReturnedSet.add(msg.index);
          s.ownReturned++;
          s.ownSent++;
          ctx.tell(party, { type: 'progress', side, delta: { ownMasked: count, returned: count } });
          ctx.reply(true);
          break;
        }
        if (plan?.peerHolds.has(msg.index) === true) {
          // The peer has it already and will return it: wait for that, in the order it was sent.
          const perm = plan.perms.get(msg.index);
          if (perm === undefined || perm.length !== count) {
            throw new Error(`psi ${side}: the checkpoint has no permutation for own batch ${msg.index}`);
          }
          if (s.learns) s.own.set(msg.index, { uids: msg.uids, perm });
          s.ownSent++;
          ctx.tell(party, { type: 'progress', side, delta: { ownMasked: count } });
          ctx.reply(true);
          const early = s.early.get(msg.index);
          if (early !== undefined) {
            s.early.delete(msg.index);
            if (!ownReturned(s, ctx, msg.index, early)) return;
          }
          break;
        }
        if (plan?.committed === true) throw noKey(side, `own batch ${msg.index}`);
        const j = job(s, 'own', msg.index, { type: 'mask', points: msg.points }, count);
        j.uids = msg.uids;
        s.ownQueue.push(j);
        if (s.ownQueue.length < OWN_QUEUE_LIMIT) ctx.reply(true);
        else s.waiting.push(ctx.deferReply<boolean>());
        break;
      }
      case 'own-end':
        s.ownTotal = msg.batches;
        s.ownItems = msg.uniqueKeys;
        break;
      case 'peer-batch': {
        if (plan?.committed === true) throw noKey(side, `peer batch ${msg.index}`);
        const count = msg.points.byteLength / X25519_BYTES;
        s.peerQueue.push(job(s, 'peer', msg.index, { type: 'mask', points: msg.points }, count));
        break;
      }
      case 'peer-end':
        s.peerTotal = msg.batches;
        break;
      case 'returned': {
        if (!s.own.has(msg.index) && plan?.peerHolds.has(msg.index) === true && !s.ownReturnedSet.has(msg.index)) {
          // A resumed run: the peer re-sends what it held before our reader got that far. Keep it for the batch.
          if (s.early.has(msg.index)) {
            fault(s, ctx, `returned batch ${msg.index} twice (a replayed or duplicated batch)`);
            return;
          }
          s.early.set(msg.index, msg.doubles);
          break;
        }
        if (!ownReturned(s, ctx, msg.index, msg.doubles)) return;
        break;
      }
      case 'peer-shuffled': {
        const n = msg.doubles.byteLength / COMPARE_BYTES;
        if (s.shuffledIn + n > s.ownItems) {
          fault(s, ctx, `more shuffled values (${s.shuffledIn + n}) than this side sent items (${s.ownItems})`);
          return;
        }
        // Positions mean nothing here (the whole set is shuffled): the matcher only counts.
        const uids = new Uint32Array(n);
        for (let i = 0; i < n; i++) uids[i] = s.shuffledIn + i;
        ctx.tell(matcher, { type: 'own-doubles', uids, doubles: msg.doubles });
        s.shuffledIn += n;
        ctx.tell(party, { type: 'progress', side, delta: { returned: n } });
        break;
      }
      case 'peer-shuffled-end':
        if (msg.items !== s.shuffledIn || msg.items !== s.ownItems) {
          fault(
            s,
            ctx,
            `an end of the shuffled set announcing ${msg.items} values after ${s.shuffledIn}, for the ${s.ownItems} items this side sent`,
          );
          return;
        }
        s.shuffledEnd = true;
        break;
      case 'peer-prepared': {
        // The peer is done: it sent every return it owed us before saying so.
        const missing = !s.learns
          ? 0
          : s.cardinality
            ? s.shuffledEnd
              ? 0
              : s.ownItems - s.shuffledIn
            : s.own.size + ((s.ownTotal ?? 0) - s.ownSent);
        if (s.ownTotal === undefined) {
          fault(s, ctx, "'prepared' before this side had sent all its batches");
          return;
        }
        if (missing > 0) {
          // It says it sent them all: they were lost on the way (a resume re-sends them from its checkpoint).
          fault(
            s,
            ctx,
            `the peer said it was prepared, but ${missing} of this side's ${s.cardinality ? 'values' : 'batches'} never came back`,
            undefined,
            true,
          );
          return;
        }
        break;
      }
      case 'job-done': {
        const done = s.inFlight.get(msg.job);
        if (done === undefined) break;
        s.inFlight.delete(msg.job);
        s.perMasker[done.masker] = (s.perMasker[done.masker] as number) - 1;
        if (done.kind === 'hash') (done.replier as Replier<Uint8Array>).reply(msg.result);
        else if (done.kind === 'own') ownMasked(s, ctx, done, msg.result);
        else peerMasked(s, ctx, done, msg.result);
        break;
      }
      case 'job-failed': {
        const failed = s.inFlight.get(msg.job);
        if (failed === undefined) break;
        s.inFlight.delete(msg.job);
        s.perMasker[failed.masker] = (s.perMasker[failed.masker] as number) - 1;
        const name = (msg.error as { name?: string } | undefined)?.name;
        if (failed.kind === 'peer' && (msg.error instanceof LowOrderPointError || name === 'LowOrderPointError')) {
          const at = (msg.error as { index?: number }).index;
          fault(
            s,
            ctx,
            `a low-order point in batch ${failed.index}${at === undefined ? '' : ` (point #${at})`}`,
            msg.error,
          );
          return;
        }
        const retriable = name === 'WorkerExitedError' || name === 'ActorStoppedError' || name === 'AskTimeoutError';
        if (!retriable || failed.attempts >= MAX_ATTEMPTS) {
          failed.replier?.fail(msg.error);
          throw msg.error;
        }
        ctx.log.warn(`psi ${side}: masking batch ${failed.index} (${failed.kind}) failed (${name}); redoing it`);
        (failed.kind === 'peer' ? s.peerQueue : failed.kind === 'hash' ? s.hashQueue : s.ownQueue).unshift(failed);
        break;
      }
      case 'masker-ready':
        s.maskers.push(msg.masker);
        s.perMasker.push(0);
        s.wanting = false;
        break;
      case 'abort':
        refuseReader(s, new PsiInterruptedError('aborted'));
        if (ctx.expectsReply) ctx.reply(true);
        return;
    }
    if (s.finished) return;
    dispatch(s, ctx.input, (m, j) => {
      ctx.ask<Uint8Array>(s.maskers[j.masker] as ActorRef<MaskerMsg>, m, { timeoutMs: 600_000 }).then(
        (result) => ctx.tell(ctx.self, { type: 'job-done', job: j.id, result }),
        (error) => ctx.tell(ctx.self, { type: 'job-failed', job: j.id, error }),
      );
    });
    // More queued than the maskers take: ask the party for another thread (one request at a time).
    if (
      !s.wanting &&
      s.maskers.length < config.threads &&
      s.peerQueue.length + s.hashQueue.length + s.ownQueue.length > 0
    ) {
      s.wanting = true;
      ctx.tell(party, { type: 'want-masker', side });
    }
    progress(s, ctx);
    if (s.finished) return;
    const ownDone =
      s.endSent &&
      (!s.learns || (s.cardinality ? s.shuffledEnd : s.ownReturned === (s.ownTotal as number) && s.own.size === 0));
    const peerDone =
      s.peerTotal !== undefined && s.peerDone === s.peerTotal && (!s.peerLearns || !s.cardinality || s.shuffledSent);
    if (ownDone && peerDone && s.inFlight.size === 0) {
      s.finished = true;
      ctx.tell(matcher, { type: 'exchange-done' });
      ctx.tell(session, { type: 'exchange-complete' });
    }
  },
  afterStop: (s) => refuseReader(s, new PsiInterruptedError('the exchanger stopped')),
});

/** The peer's answer for own batch `index`: un-shuffle it, record it, match it. False if it broke the protocol. */
function ownReturned(s: ExchangerState, ctx: Ctx, index: number, doubles: Uint8Array): boolean {
  const { config, matcher, party, checkpoint } = ctx.input;
  const batch = s.own.get(index);
  if (batch === undefined) {
    fault(
      s,
      ctx,
      s.ownReturnedSet.has(index)
        ? `returned batch ${index} twice (a replayed or duplicated batch)`
        : `returned batch ${index}, which this side never sent or the peer already holds (out of range)`,
    );
    return false;
  }
  const n = batch.perm.length;
  if (doubles.byteLength !== n * COMPARE_BYTES) {
    fault(
      s,
      ctx,
      `returned batch ${index} with ${doubles.byteLength / COMPARE_BYTES} values for the ${n} items it was sent (malformed length)`,
    );
    return false;
  }
  s.own.delete(index);
  s.ownReturnedSet.add(index);
  // Slot i of what we sent held our item perm[i]: put each answer back in place.
  const ordered = new Uint8Array(n * COMPARE_BYTES);
  for (let i = 0; i < n; i++) {
    const j = batch.perm[i] as number;
    ordered.set(doubles.subarray(i * COMPARE_BYTES, (i + 1) * COMPARE_BYTES), j * COMPARE_BYTES);
  }
  checkpoint?.appendOwnReturned(index, ordered);
  ctx.tell(matcher, { type: 'own-doubles', uids: batch.uids, doubles: ordered });
  s.ownReturned++;
  ctx.tell(party, { type: 'progress', side: config.side, delta: { returned: n } });
  return true;
}

/** An own batch is masked: shuffle it and send it (row modes), or keep it for the whole-set shuffle. */
function ownMasked(s: ExchangerState, ctx: Ctx, done: Job, result: Uint8Array): void {
  const { config, session, party, checkpoint } = ctx.input;
  ctx.tell(party, { type: 'progress', side: config.side, delta: { ownMasked: done.count } });
  // Room for the reader again?
  while (s.waiting.length > 0 && s.ownQueue.length < OWN_QUEUE_LIMIT) s.waiting.shift()?.reply(true);
  if (s.cardinality) {
    s.ownMasked.push(result);
    s.ownSent++;
    return;
  }
  const perm = randomPermutation(done.count);
  const shuffled = new Uint8Array(done.count * X25519_BYTES);
  for (let i = 0; i < done.count; i++) {
    const j = perm[i] as number;
    shuffled.set(result.subarray(j * X25519_BYTES, (j + 1) * X25519_BYTES), i * X25519_BYTES);
  }
  // Recorded before it leaves: if the peer keeps this batch, a resume must know its order.
  checkpoint?.appendPerm(done.index, perm);
  if (s.learns) s.own.set(done.index, { uids: done.uids as Uint32Array, perm });
  s.ownSent++;
  ctx.tell(session, { type: 'out-batch', index: done.index, points: shuffled });
}

/** A peer batch is raised to our key: to the matcher if we learn, back to the peer if it does. */
function peerMasked(s: ExchangerState, ctx: Ctx, done: Job, result: Uint8Array): void {
  const { config, session, party, matcher, checkpoint } = ctx.input;
  const tail = lastBytes(result, done.count);
  checkpoint?.appendPeerDoubles(done.index, tail);
  if (s.learns) ctx.tell(matcher, { type: 'peer-doubles', doubles: tail });
  if (s.peerLearns) {
    if (s.cardinality) s.peerDoubles.push(tail);
    else ctx.tell(session, { type: 'out-returned', index: done.index, doubles: tail.slice() });
  }
  s.peerDone++;
  ctx.tell(party, { type: 'progress', side: config.side, delta: { peerMasked: done.count } });
}

/** Sends what has become sendable: the end of the own batches, the whole-set shuffles of the cardinality mode. */
function progress(s: ExchangerState, ctx: Ctx): void {
  const { session, config } = ctx.input;
  const ownAllMasked = s.ownTotal !== undefined && s.ownSent === s.ownTotal;
  if (!s.endSent && ownAllMasked) {
    if (s.cardinality) {
      // Every own item is masked: shuffle them all together, then send them in batches.
      const all = concat(s.ownMasked, s.ownItems * X25519_BYTES);
      s.ownMasked = [];
      shuffleRecords(all, X25519_BYTES);
      const per = config.batchSize * X25519_BYTES;
      let index = 0;
      for (let at = 0; at < all.byteLength; at += per) {
        ctx.tell(session, { type: 'out-batch', index: index++, points: all.slice(at, at + per) });
      }
      ctx.tell(session, { type: 'out-end', batches: index, items: s.ownItems });
    } else {
      ctx.tell(session, { type: 'out-end', batches: s.ownTotal as number, items: s.ownItems });
    }
    s.endSent = true;
  }
  if (s.cardinality && s.peerLearns && !s.shuffledSent && s.peerTotal !== undefined && s.peerDone === s.peerTotal) {
    // Every peer item is raised to our key: return them all, shuffled together, so their positions say nothing.
    const total = s.peerDoubles.reduce((n, d) => n + d.byteLength, 0);
    const all = concat(s.peerDoubles, total);
    s.peerDoubles = [];
    shuffleRecords(all, COMPARE_BYTES);
    const per = config.batchSize * COMPARE_BYTES;
    let part = 0;
    for (let at = 0; at < all.byteLength; at += per) {
      ctx.tell(session, { type: 'out-shuffled', part: part++, doubles: all.slice(at, at + per) });
    }
    ctx.tell(session, { type: 'out-shuffled-end', parts: part, items: total / COMPARE_BYTES });
    s.shuffledSent = true;
  }
}

/** A committed run resumes only to serve the peer from its checkpoint: its key is gone, so it cannot mask. */
function noKey(side: string, what: string): Error {
  return new Error(
    `psi ${side}: this side had committed, so its key is gone, but ${what} would need masking again: ` +
      'the two checkpoints do not fit together; start both parties afresh',
  );
}

function fault(s: ExchangerState, ctx: Ctx, detail: string, cause?: unknown, lost = false): void {
  s.finished = true;
  s.ownQueue = [];
  s.peerQueue = [];
  for (const j of s.hashQueue) j.replier?.fail(new PsiInterruptedError('the exchange is over'));
  s.hashQueue = [];
  ctx.tell(ctx.input.session, {
    type: 'exchange-fault',
    detail,
    ...(cause === undefined ? {} : { cause }),
    ...(lost ? { lost } : {}),
  });
}

function job(s: ExchangerState, kind: Job['kind'], index: number, message: MaskerMsg, count: number): Job {
  return { id: s.nextJob++, kind, index, message, count, attempts: 0, masker: -1, uids: undefined, replier: undefined };
}

/**
 * Ends the exchange: the reader's waiting asks (room for a batch, the points
 * of a hash job) fail with `error`, and so do its later ones. Deferred
 * replies are not failed by the runtime when an actor stops, so a stop does
 * this too: a reader must never be left waiting on an exchanger that is gone.
 */
function refuseReader(s: ExchangerState, error: PsiInterruptedError): void {
  s.finished = true;
  s.aborted = true;
  for (const w of s.waiting) w.fail(error);
  for (const j of s.hashQueue) j.replier?.fail(error);
  for (const j of s.inFlight.values()) j.replier?.fail(error);
  s.waiting = [];
  s.ownQueue = [];
  s.peerQueue = [];
  s.hashQueue = [];
  s.inFlight.clear();
}

/**
 * Keep every masker busy, with at most two jobs each: the peer's jobs first
 * (they unblock the peer), then our reader's hashing, then our own masking.
 */
function dispatch(s: ExchangerState, input: ExchangerInput, send: (m: MaskerMsg, j: Job) => void): void {
  const limit = 2 * s.maskers.length;
  while (s.inFlight.size < limit && (s.peerQueue.length > 0 || s.hashQueue.length > 0 || s.ownQueue.length > 0)) {
    const j = (
      s.peerQueue.length > 0 ? s.peerQueue.shift() : s.hashQueue.length > 0 ? s.hashQueue.shift() : s.ownQueue.shift()
    ) as Job;
    let best = 0;
    for (let i = 1; i < s.perMasker.length; i++)
      if ((s.perMasker[i] as number) < (s.perMasker[best] as number)) best = i;
    j.masker = best;
    j.attempts++;
    s.perMasker[best] = (s.perMasker[best] as number) + 1;
    s.inFlight.set(j.id, j);
    s.dispatched++;
    const crashAfter = input.config.killMaskerAfterBatches;
    if (crashAfter !== undefined && !s.crashed && s.dispatched > crashAfter) {
      s.crashed = true;
      (s.maskers[0] as ActorRef<MaskerMsg>).tell({ type: 'crash' });
    }
    send(j.message, j);
  }
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const all = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.byteLength;
  }
  return all;
}

/** The last COMPARE_BYTES of each 32-byte value. */
function lastBytes(values: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(n * COMPARE_BYTES);
  for (let i = 0; i < n; i++) {
    const end = (i + 1) * X25519_BYTES;
    out.set(values.subarray(end - COMPARE_BYTES, end), i * COMPARE_BYTES);
  }
  return out;
}
