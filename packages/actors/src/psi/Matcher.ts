/**
 * The matcher: holds the peer's double-masked items as a set and ours in key
 * order, and when the exchange is complete decides which of our unique keys
 * are in the intersection.
 */
import { type ActorRef, defineActor } from '@troupe/core';
import { COMPARE_BYTES, type MatcherMsg, type PartyConfig, type PartyEvent, type WriterMsg } from './protocol.js';

export interface MatcherInput {
  config: PartyConfig;
  writer: ActorRef<WriterMsg>;
  party: ActorRef<PartyEvent>;
}

interface MatcherState {
  /** Peer values as 12-character latin1 strings: compact keys for a Set. */
  peer: Set<string>;
  own: { firstUnique: number; doubles: Uint8Array }[];
  keys: readonly string[] | undefined;
  exchangeDone: boolean;
}

export const Matcher = defineActor<MatcherMsg, MatcherState, MatcherInput>({
  name: 'psi-matcher',
  init: () => ({ peer: new Set(), own: [], keys: undefined, exchangeDone: false }),
  receive: (s, msg, ctx) => {
    switch (msg.type) {
      case 'peer-doubles': {
        const b = Buffer.from(msg.doubles.buffer, msg.doubles.byteOffset, msg.doubles.byteLength);
        for (let off = 0; off < b.length; off += COMPARE_BYTES)
          s.peer.add(b.toString('latin1', off, off + COMPARE_BYTES));
        break;
      }
      case 'own-doubles':
        s.own.push({ firstUnique: msg.firstUnique, doubles: msg.doubles });
        break;
      case 'keys':
        s.keys = msg.keys;
        break;
      case 'exchange-done':
        s.exchangeDone = true;
        break;
    }
    if (!s.exchangeDone || s.keys === undefined) return;
    const keys = s.keys;
    const matched = new Set<string>();
    let covered = 0;
    for (const { firstUnique, doubles } of s.own) {
      const b = Buffer.from(doubles.buffer, doubles.byteOffset, doubles.byteLength);
      const n = b.length / COMPARE_BYTES;
      covered += n;
      for (let i = 0; i < n; i++) {
        if (s.peer.has(b.toString('latin1', i * COMPARE_BYTES, (i + 1) * COMPARE_BYTES))) {
          matched.add(keys[firstUnique + i] as string);
        }
      }
    }
    if (covered !== keys.length) {
      throw new Error(`psi ${ctx.input.config.side}: ${covered} double-masked values for ${keys.length} unique keys`);
    }
    // Free the big sets before writing.
    s.peer = new Set();
    s.own = [];
    ctx.tell(ctx.input.writer, { type: 'write', matched });
  },
});
