import { setTimeout as sleep } from 'node:timers/promises';
import { defineActor } from '@troupe/core';
import { foldChecksum, formatChecksum } from './digest.js';
import type { AggregateMsg, FlushResult, SiteStats } from './protocol.js';

/** Spawn input of the aggregator. */
export interface AggregatorInput {
  /** Persist a checkpoint every this many readings (0: never). */
  readonly checkpointEvery: number;
  /** Simulated time of one checkpoint write, ms. */
  readonly checkpointMs: number;
}

interface Acc {
  count: number;
  sum: number;
  min: number;
  max: number;
}

interface AggregatorState {
  readonly aggregated: number;
  readonly sites: Map<string, Acc>;
  readonly checkpoints: number;
  /** Readings that came with a digest, and their checksum (see `digest.ts`). */
  readonly hashed: number;
  readonly checksum: number;
}

/**
 * The last stage: per-site count, mean, min and max (and, after the hash
 * stage, a checksum of the digests). Every `checkpointEvery` readings it
 * persists a checkpoint (a simulated write that takes `checkpointMs`): while
 * it waits, its mailbox fills, the previous stage's `send` waits, and so on
 * back to the source. That is the pipeline's backpressure at work. Answers
 * `flush` with its aggregates; the stages before it add their own counts on
 * the way back.
 */
export const Aggregator = defineActor<AggregateMsg, AggregatorState, AggregatorInput>({
  name: 'aggregate',
  init: () => ({ aggregated: 0, sites: new Map(), checkpoints: 0, hashed: 0, checksum: 0 }),
  receive: (state, msg, ctx) => {
    if (msg.type === 'flush') {
      const sites: SiteStats[] = [...state.sites.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([site, a]) => ({ site, count: a.count, mean: a.sum / a.count, min: a.min, max: a.max }));
      const result: FlushResult = {
        parsed: 0,
        malformed: 0,
        enriched: 0,
        unknownSensor: 0,
        aggregated: state.aggregated,
        checkpoints: state.checkpoints,
        sites,
        hashed: state.hashed,
        checksum: formatChecksum(state.checksum),
        hashers: [],
      };
      ctx.reply(result);
      return;
    }
    // The map is private to this actor: updating it in place is safe and saves an allocation per reading.
    let acc = state.sites.get(msg.site);
    if (acc === undefined) state.sites.set(msg.site, (acc = { count: 0, sum: 0, min: Infinity, max: -Infinity }));
    acc.count++;
    acc.sum += msg.celsius;
    if (msg.celsius < acc.min) acc.min = msg.celsius;
    if (msg.celsius > acc.max) acc.max = msg.celsius;
    const aggregated = state.aggregated + 1;
    const hashed = msg.digest === undefined ? state.hashed : state.hashed + 1;
    const checksum = msg.digest === undefined ? state.checksum : foldChecksum(state.checksum, msg.digest);
    const { checkpointEvery, checkpointMs } = ctx.input;
    if (checkpointEvery > 0 && aggregated % checkpointEvery === 0) {
      // The only async path: most readings are handled synchronously, without a promise.
      const checkpoints = state.checkpoints + 1;
      return sleep(checkpointMs).then(() => ({ aggregated, sites: state.sites, checkpoints, hashed, checksum }));
    }
    return { aggregated, sites: state.sites, checkpoints: state.checkpoints, hashed, checksum };
  },
});
