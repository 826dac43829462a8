/**
 * The matcher: collects the peer's double-masked items and ours (with the
 * unique key index of each), both split into B buckets by their first byte,
 * in memory up to a limit and on disk past it ({@link SpillBuckets}). When the
 * exchange is complete it matches bucket by bucket (a hash set of the peer's
 * bucket, probed with ours), so memory holds one bucket's set at a time, and
 * marks which of our unique keys are in the intersection.
 */
import { type ActorRef, defineActor } from '@troupe/core';
import { DoubleSet, words } from './DoubleSet.js';
import { COMPARE_BYTES, type MatcherMsg, type PartyConfig, type PartyEvent, type WriterMsg } from './protocol.js';
import { SpillBuckets } from './SpillBuckets.js';

export interface MatcherInput {
  config: PartyConfig;
  writer: ActorRef<WriterMsg>;
  party: ActorRef<PartyEvent>;
}

interface MatcherState {
  /** The peer's items: 3 words each. */
  peer: SpillBuckets;
  /** Ours: 3 words and the uid. */
  own: SpillBuckets;
  uniqueKeys: number | undefined;
  exchangeDone: boolean;
  done: boolean;
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
      peer: store('peer-doubles', W),
      own: store('own-doubles', W + 1),
      uniqueKeys: undefined,
      exchangeDone: false,
      done: false,
    };
  },
  receive: async (s, msg, ctx) => {
    const mask = s.peer.buckets - 1;
    switch (msg.type) {
      case 'peer-doubles': {
        const w = words(msg.doubles);
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
        break;
      }
      case 'own-doubles': {
        const w = words(msg.doubles);
        const n = msg.uids.length;
        if (w.length !== n * W) {
          throw new Error(`psi ${ctx.input.config.side}: ${w.length / W} double-masked values for ${n} keys`);
        }
        for (let i = 0; i < n; i++) {
          const o = i * W;
          const at = s.own.reserve((w[o] as number) & mask);
          const buf = s.own.cur;
          buf[at] = w[o] as number;
          buf[at + 1] = w[o + 1] as number;
          buf[at + 2] = w[o + 2] as number;
          buf[at + 3] = msg.uids[i] as number;
        }
        if (s.own.full) await s.own.spill();
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
    for (let b = 0; b < s.peer.buckets; b++) {
      const peer = await s.peer.take(b);
      const set = new DoubleSet(peer.length / W);
      for (let i = 0; i < peer.length; i += W) set.add(peer[i] as number, peer[i + 1] as number, peer[i + 2] as number);
      const own = await s.own.take(b);
      for (let i = 0; i < own.length; i += W + 1) {
        covered++;
        if (set.has(own[i] as number, own[i + 1] as number, own[i + 2] as number)) matched[own[i + 3] as number] = 1;
      }
    }
    if (covered !== s.uniqueKeys) {
      throw new Error(`psi ${ctx.input.config.side}: ${covered} double-masked values for ${s.uniqueKeys} unique keys`);
    }
    const spilledBytes = s.peer.spilledBytes + s.own.spilledBytes;
    await release(s);
    ctx.tell(ctx.input.writer, { type: 'write', matched, spilledBytes });
  },
  afterStop: (s) => release(s),
});

async function release(s: MatcherState): Promise<void> {
  await s.peer.dispose();
  await s.own.dispose();
}
