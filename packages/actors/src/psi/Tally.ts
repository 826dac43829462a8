/**
 * The tally: stands in for the writer (and, on a side that learns nothing,
 * for the matcher too) when a party writes no rows. It takes what the reader
 * and the matcher send, keeps nothing of the rows, and reports the party
 * "written" with what it learned: the intersection size (cardinality mode)
 * or nothing at all (the side that must not learn the result). There is no
 * file, so `commit` and `abort` have nothing to do.
 */
import { type ActorRef, defineActor } from '@troupe/core';
import type { MatcherMsg, PartyConfig, PartyEvent, WriterMsg } from './protocol.js';

export interface TallyInput {
  config: PartyConfig;
  party: ActorRef<PartyEvent>;
  /** True when a real matcher runs and sends `write` (the size is learned); false when this also stands in for it. */
  matching: boolean;
}

interface TallyState {
  spilledBytes: number;
  rows: number | undefined;
  uniqueKeys: number | undefined;
  matchedKeys: number | undefined;
  reported: boolean;
}

export const Tally = defineActor<MatcherMsg | WriterMsg, TallyState, TallyInput>({
  name: 'psi-tally',
  init: () => ({ spilledBytes: 0, rows: undefined, uniqueKeys: undefined, matchedKeys: undefined, reported: false }),
  receive: async (s, msg, ctx) => {
    const { config, party, matching } = ctx.input;
    switch (msg.type) {
      case 'rows':
        // The row table is not needed: only its size is kept, and its store (spill files) is dropped.
        s.rows = msg.table.rows;
        s.uniqueKeys = msg.table.uniqueKeys;
        s.spilledBytes += msg.table.spilledBytes;
        await msg.table.rowKeys.dispose();
        break;
      case 'write': {
        let n = 0;
        for (let k = 0; k < msg.matched.length; k++) n += msg.matched[k] as number;
        s.matchedKeys = n;
        s.spilledBytes += msg.spilledBytes;
        break;
      }
      case 'exchange-done':
        if (!matching) s.matchedKeys = 0;
        break;
      case 'commit':
        ctx.tell(party, { type: 'party-committed', side: config.side });
        return;
      case 'abort':
        if (ctx.expectsReply) ctx.reply(true); // nothing to drop: there is no file
        return;
      case 'keys':
      case 'own-doubles':
      case 'peer-doubles':
        return;
    }
    if (s.reported || s.rows === undefined || s.uniqueKeys === undefined || s.matchedKeys === undefined) return;
    s.reported = true;
    ctx.tell(party, {
      type: 'party-written',
      side: config.side,
      rows: s.rows,
      uniqueKeys: s.uniqueKeys,
      matchedRows: 0,
      matchedKeys: s.matchedKeys,
      spilledBytes: s.spilledBytes,
      sortRuns: 0,
    });
  },
});
