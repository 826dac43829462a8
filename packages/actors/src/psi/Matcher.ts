/**
 * The matcher: collects the peer's double-masked items and ours (with the
 * unique key index of each), both split into B buckets by their first byte,
 * in memory up to a limit and on disk past it ({@link SpillBuckets}). When the
 * exchange is complete it matches bucket by bucket (a hash set of the peer's
 * bucket, probed with ours), so memory holds one bucket's set at a time, and
 * marks which of our unique keys are in the intersection.
 *
 * While everything fits in `memoryBytes / 2`, the batches are kept as they
 * came and matched with one hash set at the end (the common case, and the
 * fastest); past that they are filed into buckets and spilled.
 *
 * Its interface, for whoever feeds it (the exchanger here; a two-process
 * session's exchanger the same way): `own-doubles` (our unique key indices
 * and their double-masked values, COMPARE_BYTES each, in the same order) and
 * `peer-doubles` (the peer's, any order), in any number of batches; `keys`
 * (how many unique keys we have, from the reader) and `exchange-done` (every
 * batch is in, from the exchanger). Once it has both of those it matches and
 * tells the writer `write` with one byte per unique key (1: in the
 * intersection). It checks that every unique key got exactly one value.
 * `abort` (an ask) drops its stores and confirms; the final match checks the
 * party's stop signal between buckets, so an abort does not wait for it.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { type ActorRef, defineActor } from '@troupe/core';
import { DoubleSet, words } from './DoubleSet.js';
import { PsiInterruptedError } from './errors.js';
import { COMPARE_BYTES, type MatcherMsg, type PartyConfig, type PartyEvent, type WriterMsg } from './protocol.js';
import { SpillBuckets } from './SpillBuckets.js';

export interface MatcherInput {
  config: PartyConfig;
  writer: ActorRef<WriterMsg>;
  party: ActorRef<PartyEvent>;
  /** The party's stop signal: once aborted, the final match ends at its next step. */
  signal?: AbortSignal;
}

interface MatcherState {
  /**
   * While everything fits in memory (`held` within the limit), the batches are
   * kept as they came and matched with one hash set at the end; past the limit
   * they are filed into buckets (and spilled), and matched bucket by bucket.
   */
  peerBatches: Uint32Array[];
  ownBatches: { doubles: Uint32Array; uids: Uint32Array }[];
  held: number;
  bucketed: boolean;
  /** The peer's items: 3 words each. */
  peer: SpillBuckets;
  /** Ours: 3 words and the uid. */
  own: SpillBuckets;
  uniqueKeys: number | undefined;
  exchangeDone: boolean;
  done: boolean;
  aborted: boolean;
}

const W = COMPARE_BYTES / 4;

export const Matcher = defineActor<MatcherMsg, MatcherState, MatcherInput>({
  name: 'psi-matcher',
  init: (ctx) => {
    const { scratchDir, limits } = ctx.input.config;
    const store = (name: string, recordWords: number) =>
      SpillBuckets.create({
        dir: scratchDir,
        name,
        buckets: limits.buckets,
        recordWords,
        memoryLimit: limits.memoryBytes / 4,
      });
    return {
      peerBatches: [],
      ownBatches: [],
      held: 0,
      bucketed: false,
      peer: store('peer-doubles', W),
      own: store('own-doubles', W + 1),
      uniqueKeys: undefined,
      exchangeDone: false,
      done: false,
      aborted: false,
    };
  },
  receive: async (s, msg, ctx) => {
    if (msg.type === 'abort') {
      s.aborted = true;
      await release(s);
      if (ctx.expectsReply) ctx.reply(true);
      return;
    }
    if (s.aborted || ctx.input.signal?.aborted) return;
    try {
      await step(s, msg, ctx);
    } catch (error) {
      // Stopped by the party's signal: `abort` (next in the mailbox) cleans up.
      if (error instanceof PsiInterruptedError && ctx.input.signal?.aborted) return;
      throw error;
    }
  },
  afterStop: (s) => release(s),
});

type MatcherContext = Parameters<(typeof Matcher)['receive']>[2];

/** Batches matched between two checks of the stop signal (with a turn of the event loop). */
const YIELD_EVERY = 256;

async function step(s: MatcherState, msg: Exclude<MatcherMsg, { type: 'abort' }>, ctx: MatcherContext): Promise<void> {
  const signal = ctx.input.signal;
  // A long match gives the event loop a turn now and then, so that an abort can be seen.
  const live = async () => {
    await nextTurn();
    signal?.throwIfAborted();
  };
  switch (msg.type) {
    case 'peer-doubles': {
      const w = words(msg.doubles);
      if (!s.bucketed) {
        s.peerBatches.push(w);
        s.held += w.byteLength;
        await maybeBucket(s, ctx.input.config.limits.memoryBytes / 2);
      } else await filePeer(s, w);
      break;
    }
    case 'own-doubles': {
      const w = words(msg.doubles);
      if (w.length !== msg.uids.length * W) {
        throw new Error(
          `psi ${ctx.input.config.side}: ${w.length / W} double-masked values for ${msg.uids.length} keys`,
        );
      }
      if (!s.bucketed) {
        s.ownBatches.push({ doubles: w, uids: msg.uids });
        s.held += w.byteLength + msg.uids.byteLength;
        await maybeBucket(s, ctx.input.config.limits.memoryBytes / 2);
      } else await fileOwn(s, w, msg.uids);
      break;
    }
    case 'keys':
      s.uniqueKeys = msg.uniqueKeys;
      break;
    case 'exchange-done':
      s.exchangeDone = true;
      break;
  }
  if (!s.exchangeDone || s.uniqueKeys === undefined || s.done) return;
  s.done = true;
  const matched = new Uint8Array(s.uniqueKeys);
  let covered = 0;
  if (!s.bucketed) {
    let n = 0;
    for (const w of s.peerBatches) n += w.length / W;
    const set = new DoubleSet(n);
    let batches = 0;
    for (const w of s.peerBatches) {
      if (++batches % YIELD_EVERY === 0) await live();
      for (let i = 0; i < w.length; i += W) set.add(w[i] as number, w[i + 1] as number, w[i + 2] as number);
    }
    for (const { doubles: w, uids } of s.ownBatches) {
      if (++batches % YIELD_EVERY === 0) await live();
      for (let i = 0, k = 0; i < w.length; i += W, k++) {
        covered++;
        if (set.has(w[i] as number, w[i + 1] as number, w[i + 2] as number)) matched[uids[k] as number] = 1;
      }
    }
    s.peerBatches = [];
    s.ownBatches = [];
  } else {
    for (let b = 0; b < s.peer.buckets; b++) {
      await live();
      const peer = await s.peer.take(b);
      const set = new DoubleSet(peer.length / W);
      for (let i = 0; i < peer.length; i += W) set.add(peer[i] as number, peer[i + 1] as number, peer[i + 2] as number);
      const own = await s.own.take(b);
      for (let i = 0; i < own.length; i += W + 1) {
        covered++;
        if (set.has(own[i] as number, own[i + 1] as number, own[i + 2] as number)) matched[own[i + 3] as number] = 1;
      }
    }
  }
  if (covered !== s.uniqueKeys) {
    throw new Error(`psi ${ctx.input.config.side}: ${covered} double-masked values for ${s.uniqueKeys} unique keys`);
  }
  const spilledBytes = s.peer.spilledBytes + s.own.spilledBytes;
  await release(s);
  ctx.tell(ctx.input.writer, { type: 'write', matched, spilledBytes });
}

/** Past `limit` bytes held as batches: file them all into the buckets, and file from now on. */
async function maybeBucket(s: MatcherState, limit: number): Promise<void> {
  if (s.held <= limit) return;
  s.bucketed = true;
  const peer = s.peerBatches;
  const own = s.ownBatches;
  s.peerBatches = [];
  s.ownBatches = [];
  s.held = 0;
  for (const w of peer) await filePeer(s, w);
  for (const { doubles, uids } of own) await fileOwn(s, doubles, uids);
}

async function filePeer(s: MatcherState, w: Uint32Array): Promise<void> {
  const mask = s.peer.buckets - 1;
  const n = w.length / W;
  for (let i = 0; i < n; i++) {
    const o = i * W;
    const at = s.peer.reserve((w[o] as number) & mask);
    const buf = s.peer.cur;
    buf[at] = w[o] as number;
    buf[at + 1] = w[o + 1] as number;
    buf[at + 2] = w[o + 2] as number;
  }
  if (s.peer.full) await s.peer.spill();
}

async function fileOwn(s: MatcherState, w: Uint32Array, uids: Uint32Array): Promise<void> {
  const mask = s.own.buckets - 1;
  const n = uids.length;
  for (let i = 0; i < n; i++) {
    const o = i * W;
    const at = s.own.reserve((w[o] as number) & mask);
    const buf = s.own.cur;
    buf[at] = w[o] as number;
    buf[at + 1] = w[o + 1] as number;
    buf[at + 2] = w[o + 2] as number;
    buf[at + 3] = uids[i] as number;
  }
  if (s.own.full) await s.own.spill();
}

async function release(s: MatcherState): Promise<void> {
  s.peerBatches = [];
  s.ownBatches = [];
  await s.peer.dispose();
  await s.own.dispose();
}
