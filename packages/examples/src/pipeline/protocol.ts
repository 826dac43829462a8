import type { ActorRef } from '@troupe/core';

/**
 * The messages of the three stages. Each stage knows only the next one (given
 * at spawn as `input.next`) and awaits `next.send(...)`, so a slow stage slows
 * the one before it, all the way back to the source: backpressure end to end.
 */

/** Sent (asked) down the pipeline after the last line; each stage adds its counts to the answer. */
export type Flush = { readonly type: 'flush' };

/** A raw line from the source: `timestamp,sensor,value,unit`, e.g. `1700000000123,s-17,21.5,C`. */
export type ParseMsg = { readonly type: 'line'; readonly text: string } | Flush;

/** A syntactically valid reading. */
export type EnrichMsg =
  | {
      readonly type: 'reading';
      readonly ts: number;
      readonly sensor: string;
      readonly value: number;
      readonly unit: 'C' | 'F';
    }
  | Flush;

/** A reading placed at its site, in °C. */
export type EnrichedReading = {
  readonly type: 'enriched';
  readonly ts: number;
  readonly site: string;
  readonly celsius: number;
};

/** What the aggregator takes: an enriched reading, with its digest when the hash stage ran. */
export type AggregateMsg = (EnrichedReading & { readonly digest?: string }) | Flush;

/** The hash stage's input (main thread): the enricher's output. */
export type HashStageMsg = EnrichedReading | Flush;

/**
 * The protocol of a hasher on a worker thread. Only plain data crosses the
 * thread: the canonical texts of a chunk of readings go out, their hex
 * digests come back (answered with `string[]`, in the same order).
 */
export type HashMsg =
  | { readonly type: 'hash'; readonly texts: readonly string[] }
  /** Answered with {@link HasherStats}. */
  | { readonly type: 'stats' };

/** What one hasher did, measured inside its thread. */
export interface HasherStats {
  /** The hasher's actor name, e.g. `hash-0`. */
  readonly name: string;
  /** `worker_threads.threadId` of the thread it ran on (the main thread is 0). */
  readonly threadId: number;
  readonly hashed: number;
  /** Time spent hashing, ms (excludes waiting for messages). */
  readonly busyMs: number;
}

/** Per-site aggregate. */
export interface SiteStats {
  readonly site: string;
  readonly count: number;
  readonly mean: number;
  readonly min: number;
  readonly max: number;
}

/** The answer to `flush`: what each stage saw. `parsed + malformed = lines`, `enriched + unknownSensor = parsed`. */
export interface FlushResult {
  readonly parsed: number;
  readonly malformed: number;
  readonly enriched: number;
  readonly unknownSensor: number;
  readonly aggregated: number;
  /** Checkpoints the aggregator wrote (each one made the whole pipeline wait). */
  readonly checkpoints: number;
  readonly sites: readonly SiteStats[];
  /** Readings that carried a digest (0 without `--worker-stage`). */
  readonly hashed: number;
  /** XOR of the first 32 bits of every digest, as 8 hex digits: order-independent, checkable. */
  readonly checksum: string;
  /** One entry per hasher thread (empty without `--worker-stage`). */
  readonly hashers: readonly HasherStats[];
}

/** The spawn input of a stage: where its output goes. */
export interface StageInput<Next extends { type: string }> {
  readonly next: ActorRef<Next>;
  /** Timeout of the `flush` ask forwarded downstream. */
  readonly flushTimeoutMs: number;
}
