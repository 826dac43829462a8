import { defineActor } from '@troupe/core';
import type { EnrichMsg, FlushResult, ParseMsg, StageInput } from './protocol.js';

interface ParserState {
  readonly parsed: number;
  readonly malformed: number;
}

type Reading = Extract<EnrichMsg, { type: 'reading' }>;

/** `timestamp,sensor,value,unit` → a reading, or undefined for a malformed line. */
export function parseLine(text: string): Reading | undefined {
  const fields = text.split(',');
  if (fields.length !== 4) return undefined;
  const [tsText, sensor, valueText, unit] = fields as [string, string, string, string];
  const ts = Number(tsText);
  const value = Number(valueText);
  if (!Number.isInteger(ts) || sensor === '' || valueText === '' || !Number.isFinite(value)) return undefined;
  if (unit !== 'C' && unit !== 'F') return undefined;
  return { type: 'reading', ts, sensor, value, unit };
}

/**
 * Stage 1: parse raw lines. A malformed line is counted and skipped (bad input
 * is data, not a crash). A good one is sent on, and the stage awaits room in
 * the enricher's mailbox before taking its next line.
 */
export const Parser = defineActor<ParseMsg, ParserState, StageInput<EnrichMsg>>({
  name: 'parse',
  init: () => ({ parsed: 0, malformed: 0 }),
  receive: async (state, msg, ctx) => {
    if (msg.type === 'flush') {
      const downstream = await ctx.input.next.ask<FlushResult>(msg, { timeoutMs: ctx.input.flushTimeoutMs });
      ctx.reply({ ...downstream, parsed: state.parsed, malformed: state.malformed });
      return;
    }
    const reading = parseLine(msg.text);
    if (reading === undefined) return { parsed: state.parsed, malformed: state.malformed + 1 };
    await ctx.input.next.send(reading);
    return { parsed: state.parsed + 1, malformed: state.malformed };
  },
});
