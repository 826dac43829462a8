/**
 * The exchanger: runs one party's side of the ECDH-PSI exchange.
 *
 * - Own batches (from the reader) are hashed and masked by the maskers, then
 *   shuffled within the batch and sent to the peer's exchanger; the permutation
 *   stays here.
 * - The peer's batches are raised to our key by the maskers; the last
 *   {@link COMPARE_BYTES} of each go to our matcher (the peer's items, as a set)
 *   and back to the peer (its items, in the order it sent them).
 * - The peer's answers for our batches are un-shuffled and go to our matcher.
 *
 * It talks to the peer only through the ref it was given and plain byte
 * arrays, so the peer could as well be in another process. Masking jobs run
 * on the worker-thread maskers with a bounded number in flight; a job whose
 * masker's thread died is redone (the masker itself is restarted by its
 * supervisor), so a crash mid-run still gives the right answer.
 */
import { randomFillSync } from 'node:crypto';
import { type ActorRef, defineActor, type Replier } from '@troupe/core';
import { PsiInterruptedError } from './errors.js';
import {
  COMPARE_BYTES,
  type ExchangerMsg,
  type MaskerMsg,
  type MatcherMsg,
  type PartyConfig,
  type PartyEvent,
} from './protocol.js';
import { X25519_BYTES } from './x25519.js';

export interface ExchangerInput {
  config: PartyConfig;
  maskers: ActorRef<MaskerMsg>[];
  matcher: ActorRef<MatcherMsg>;
  party: ActorRef<PartyEvent>;
}

interface Job {
  id: number;
  kind: 'own' | 'peer';
  index: number;
  message: MaskerMsg;
  count: number;
  attempts: number;
  masker: number;
  firstUnique: number;
}

interface OwnBatch {
  firstUnique: number;
  perm: Uint32Array;
}

interface ExchangerState {
  /** The maskers started so far (the party starts more on `want-masker`, up to `threads`). */
  maskers: ActorRef<MaskerMsg>[];
  /** A `want-masker` is out and not yet answered. */
  wanting: boolean;
  peer: ActorRef<ExchangerMsg> | undefined;
  /** Peer messages that arrived before we knew where to answer (cannot happen in order, but cheap to allow). */
  early: ExchangerMsg[];
  ownQueue: Job[];
  peerQueue: Job[];
  inFlight: Map<number, Job>;
  perMasker: number[];
  nextJob: number;
  own: Map<number, OwnBatch>;
  ownTotal: number | undefined;
  ownReturned: number;
  peerTotal: number | undefined;
  peerDone: number;
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

export const Exchanger = defineActor<ExchangerMsg, ExchangerState, ExchangerInput>({
  name: 'psi-exchanger',
  init: (ctx) => ({
    maskers: [...ctx.input.maskers],
    wanting: false,
    peer: undefined,
    early: [],
    ownQueue: [],
    peerQueue: [],
    inFlight: new Map(),
    perMasker: ctx.input.maskers.map(() => 0),
    nextJob: 1,
    own: new Map(),
    ownTotal: undefined,
    ownReturned: 0,
    peerTotal: undefined,
    peerDone: 0,
    waiting: [],
    dispatched: 0,
    crashed: false,
    finished: false,
    aborted: false,
  }),
  receive: (s, msg, ctx) => {
    const { config, matcher, party } = ctx.input;
    const side = config.side;
    if (s.peer === undefined && msg.type !== 'peer' && msg.type !== 'abort' && isFromPeer(msg)) {
      s.early.push(msg);
      return;
    }
    if (s.aborted) {
      if (msg.type === 'own-batch') ctx.replyError(new PsiInterruptedError('aborted'));
      else if (ctx.expectsReply) ctx.reply(true);
      return;
    }
    switch (msg.type) {
      case 'peer': {
        s.peer = msg.peer;
        const early = s.early;
        s.early = [];
        for (const m of early) ctx.self.tell(m);
        break;
      }
      case 'own-batch': {
        const count = msg.offsets.length - 1;
        s.ownQueue.push(
          job(s, 'own', msg.index, { type: 'hash-mask', keys: msg.keys, offsets: msg.offsets }, count, msg.firstUnique),
        );
        if (s.ownQueue.length < OWN_QUEUE_LIMIT) ctx.reply(true);
        else s.waiting.push(ctx.deferReply<boolean>());
        break;
      }
      case 'own-end':
        s.ownTotal = msg.batches;
        ctx.tell(s.peer as ActorRef<ExchangerMsg>, { type: 'peer-end', batches: msg.batches });
        break;
      case 'peer-batch': {
        const count = msg.points.byteLength / X25519_BYTES;
        s.peerQueue.push(job(s, 'peer', msg.index, { type: 'mask', points: msg.points }, count, 0));
        break;
      }
      case 'peer-end':
        s.peerTotal = msg.batches;
        break;
      case 'masker-ready':
        s.maskers.push(msg.masker);
        s.perMasker.push(0);
        s.wanting = false;
        break;
      case 'returned': {
        const batch = s.own.get(msg.index);
        if (batch === undefined) throw new Error(`psi ${side}: peer returned unknown batch ${msg.index}`);
        s.own.delete(msg.index);
        const n = batch.perm.length;
        if (msg.doubles.byteLength !== n * COMPARE_BYTES) {
          throw new Error(
            `psi ${side}: peer returned ${msg.doubles.byteLength} bytes for batch ${msg.index} of ${n} items`,
          );
        }
        // Slot i of what we sent held our item perm[i]: put each answer back in place.
        const ordered = new Uint8Array(n * COMPARE_BYTES);
        for (let i = 0; i < n; i++) {
          const j = batch.perm[i] as number;
          ordered.set(msg.doubles.subarray(i * COMPARE_BYTES, (i + 1) * COMPARE_BYTES), j * COMPARE_BYTES);
        }
        ctx.tell(matcher, { type: 'own-doubles', firstUnique: batch.firstUnique, doubles: ordered });
        s.ownReturned++;
        ctx.tell(party, { type: 'progress', side, delta: { returned: n } });
        break;
      }
      case 'job-done': {
        const done = s.inFlight.get(msg.job);
        if (done === undefined) break;
        s.inFlight.delete(msg.job);
        s.perMasker[done.masker] = (s.perMasker[done.masker] as number) - 1;
        const peer = s.peer as ActorRef<ExchangerMsg>;
        if (done.kind === 'own') {
          const perm = shuffle(done.count);
          const shuffled = new Uint8Array(done.count * X25519_BYTES);
          for (let i = 0; i < done.count; i++) {
            const j = perm[i] as number;
            shuffled.set(msg.result.subarray(j * X25519_BYTES, (j + 1) * X25519_BYTES), i * X25519_BYTES);
          }
          s.own.set(done.index, { firstUnique: done.firstUnique, perm });
          ctx.tell(peer, { type: 'peer-batch', index: done.index, points: shuffled }, { transfer: [shuffled.buffer] });
          ctx.tell(party, { type: 'progress', side, delta: { ownMasked: done.count } });
          // Room for the reader again?
          while (s.waiting.length > 0 && s.ownQueue.length < OWN_QUEUE_LIMIT) s.waiting.shift()?.reply(true);
        } else {
          const tail = lastBytes(msg.result, done.count);
          ctx.tell(matcher, { type: 'peer-doubles', doubles: tail });
          const back = tail.slice();
          ctx.tell(peer, { type: 'returned', index: done.index, doubles: back }, { transfer: [back.buffer] });
          s.peerDone++;
          ctx.tell(party, { type: 'progress', side, delta: { peerMasked: done.count } });
        }
        break;
      }
      case 'job-failed': {
        const failed = s.inFlight.get(msg.job);
        if (failed === undefined) break;
        s.inFlight.delete(msg.job);
        s.perMasker[failed.masker] = (s.perMasker[failed.masker] as number) - 1;
        const name = (msg.error as { name?: string } | undefined)?.name;
        const retriable = name === 'WorkerExitedError' || name === 'ActorStoppedError' || name === 'AskTimeoutError';
        if (!retriable || failed.attempts >= MAX_ATTEMPTS) throw msg.error;
        ctx.log.warn(`psi ${side}: masking batch ${failed.index} (${failed.kind}) failed (${name}); redoing it`);
        (failed.kind === 'peer' ? s.peerQueue : s.ownQueue).unshift(failed);
        break;
      }
      case 'abort':
        s.finished = true;
        s.aborted = true;
        for (const w of s.waiting) w.fail(new PsiInterruptedError('aborted'));
        s.waiting = [];
        s.ownQueue = [];
        s.peerQueue = [];
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
    if (!s.wanting && s.maskers.length < config.threads && s.peerQueue.length + s.ownQueue.length > 0) {
      s.wanting = true;
      ctx.tell(party, { type: 'want-masker', side });
    }
    if (
      s.ownTotal !== undefined &&
      s.peerTotal !== undefined &&
      s.ownReturned === s.ownTotal &&
      s.peerDone === s.peerTotal &&
      s.inFlight.size === 0
    ) {
      s.finished = true;
      ctx.tell(matcher, { type: 'exchange-done' });
    }
  },
});

function isFromPeer(m: ExchangerMsg): boolean {
  return m.type === 'peer-batch' || m.type === 'peer-end' || m.type === 'returned';
}

function job(
  s: ExchangerState,
  kind: Job['kind'],
  index: number,
  message: MaskerMsg,
  count: number,
  firstUnique: number,
): Job {
  return { id: s.nextJob++, kind, index, message, count, attempts: 0, masker: -1, firstUnique };
}

/** Keep every masker busy, with at most two jobs each; the peer's jobs first (they unblock the peer). */
function dispatch(s: ExchangerState, input: ExchangerInput, send: (m: MaskerMsg, j: Job) => void): void {
  const limit = 2 * s.maskers.length;
  while (s.inFlight.size < limit && (s.peerQueue.length > 0 || s.ownQueue.length > 0)) {
    const j = (s.peerQueue.length > 0 ? s.peerQueue.shift() : s.ownQueue.shift()) as Job;
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

/** A uniformly random permutation of 0..n-1 (Fisher–Yates on crypto randomness). */
function shuffle(n: number): Uint32Array {
  const perm = new Uint32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  const r = randomFillSync(new Uint32Array(n));
  for (let i = n - 1; i > 0; i--) {
    // 32 random bits mod (i+1): the bias is below 2^-19 for batches under 8192.
    const j = (r[i] as number) % (i + 1);
    const t = perm[i] as number;
    perm[i] = perm[j] as number;
    perm[j] = t;
  }
  return perm;
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
