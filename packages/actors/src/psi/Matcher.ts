/**
 * The matcher: holds the peer's double-masked items as a set and ours in key
 * order, and when the exchange is complete marks which of our unique keys are
 * in the intersection.
 */
import { type ActorRef, defineActor } from '@troupe/core';
import { DoubleSet, words } from './DoubleSet.js';
import { COMPARE_BYTES, type MatcherMsg, type PartyConfig, type PartyEvent, type WriterMsg } from './protocol.js';

export interface MatcherInput {
  config: PartyConfig;
  writer: ActorRef<WriterMsg>;
  party: ActorRef<PartyEvent>;
}

interface MatcherState {
  peer: DoubleSet;
  own: { firstUnique: number; doubles: Uint8Array }[];
  uniqueKeys: number | undefined;
  exchangeDone: boolean;
}

export const Matcher = defineActor<MatcherMsg, MatcherState, MatcherInput>({
  name: 'psi-matcher',
  init: () => ({ peer: new DoubleSet(), own: [], uniqueKeys: undefined, exchangeDone: false }),
  receive: (s, msg, ctx) => {
    switch (msg.type) {
      case 'peer-doubles':
        s.peer.addAll(msg.doubles);
        break;
      case 'own-doubles':
        s.own.push({ firstUnique: msg.firstUnique, doubles: msg.doubles });
        break;
      case 'keys':
        s.uniqueKeys = msg.uniqueKeys;
        break;
      case 'exchange-done':
        s.exchangeDone = true;
        break;
    }
    if (!s.exchangeDone || s.uniqueKeys === undefined) return;
    const matched = new Uint8Array(s.uniqueKeys);
    let covered = 0;
    for (const { firstUnique, doubles } of s.own) {
      const w = words(doubles);
      const n = doubles.byteLength / COMPARE_BYTES;
      covered += n;
      for (let i = 0; i < n; i++) {
        if (s.peer.has(w[i * 3] as number, w[i * 3 + 1] as number, w[i * 3 + 2] as number))
          matched[firstUnique + i] = 1;
      }
    }
    if (covered !== s.uniqueKeys) {
      throw new Error(`psi ${ctx.input.config.side}: ${covered} double-masked values for ${s.uniqueKeys} unique keys`);
    }
    // Free the big tables before writing.
    s.peer = new DoubleSet();
    s.own = [];
    ctx.tell(ctx.input.writer, { type: 'write', matched });
  },
});
