/**
 * The messages PSI actors exchange. Everything that goes to the peer party is
 * plain data (byte arrays and numbers), so the peer can live in another thread,
 * process or machine; messages inside one party may carry in-process values by
 * reference (the row table's spillable store, the party's stop signal).
 *
 * Inside a party the stages are: reader → exchanger (hashing, masking, the
 * exchange with the peer) → matcher → writer. The matcher and the writer only
 * need the messages typed here ({@link MatcherMsg}, {@link WriterMsg}), so a
 * different exchange (two processes, a network session) can feed them as the
 * in-process exchanger does. Every stage answers `{ type: 'abort' }` (an ask
 * from its party) once it has stopped its work and deleted its files.
 */
import type { ActorRef, WorkerActorSpec } from '@troupe/core';
import type { BatchSet } from './BatchSet.js';
import type { SpillBuckets } from './SpillBuckets.js';

/** Which side of the PSI a party is. */
export type Side = 'left' | 'right';

/** Bytes of a double-masked value that the parties compare (as SecretFlow does: the last 12). */
export const COMPARE_BYTES = 12;

/** What to do with rows whose key is empty (every key column empty). */
export type EmptyKeyPolicy = 'match' | 'skip' | 'refuse';

/** What one party needs. */
export interface PartyConfig {
  side: Side;
  file: string;
  keyColumns: readonly string[];
  delimiter: string;
  outFile: string;
  batchSize: number;
  threads: number;
  /** Size of `file` in bytes, when known (for progress). */
  fileBytes?: number;
  /** Rows with an empty key: matched like any key, skipped, or refused. */
  emptyKeys: EmptyKeyPolicy;
  /** Fault injection for tests: the masker on host 0 exits its thread after this many batches. */
  killMaskerAfterBatches?: number;
  /** Fault injection for tests: the writer's external sort fails (throws) or dies (SIGKILL) in its merge. */
  crashInSort?: 'throw' | 'kill';
  /** Fault injection for tests: the writer waits this many ms after each chunk of the file it cuts rows from. */
  slowWriteMs?: number;
  /** The masker worker actor; default the built-in one ({@link MaskerInput} carries the party's key). */
  masker?: WorkerActorSpec<MaskerMsg, MaskerInput>;
  /** Who learns the result (default both); the other side writes no rows and is not sent what would reveal them. */
  reveal?: 'both' | Side;
  /** PSI-CA: no rows are written, the revealed side(s) learn only the intersection size. */
  cardinalityOnly?: boolean;
  /** Memory bounds and bucket counts of the data path. */
  limits: PsiLimits;
  /** Seed of the reader's random order (32 bytes); default fresh randomness. A resumed run passes its checkpoint's. */
  orderSeed?: Uint8Array;
  /** The party's private scratch folder (spill files, sort runs), inside the output folder. */
  scratchDir: string;
}

/** What a side learns, from its config: its rows, only the intersection size, or nothing. */
export function sideLearns(
  config: Pick<PartyConfig, 'side' | 'reveal' | 'cardinalityOnly'>,
  side: Side = config.side,
): 'rows' | 'size' | 'nothing' {
  const reveal = config.reveal ?? 'both';
  if (reveal !== 'both' && reveal !== side) return 'nothing';
  return config.cardinalityOnly === true ? 'size' : 'rows';
}

/**
 * How much a party keeps in memory before it uses disk. Each store of the
 * data path (the key index, the shuffle, the row map, the matcher's two sets)
 * holds at most `memoryBytes / 4` before it spills; the writer sorts up to
 * `sortBytes` of matched rows in memory and merges runs from disk past that.
 * Small values force the out-of-core paths (tests do).
 */
export interface PsiLimits {
  memoryBytes: number;
  sortBytes: number;
  /** Buckets of each store (a power of two, 1 to 4096). */
  buckets: number;
}

/** Input of a masker: its party's key (the masker zeroes its copies when it stops). */
export interface MaskerInput {
  key: Uint8Array;
}

/** Progress counters, per side. */
export interface SideProgress {
  rows: number;
  uniqueKeys: number;
  /** Own keys hashed and masked. */
  ownMasked: number;
  /** Peer items raised to our key. */
  peerMasked: number;
  /** Own items whose double-masked value came back. */
  returned: number;
  matchedRows: number;
  writtenRows: number;
  /** Masker threads this party has started (they start as the work needs them, up to `threads`). */
  maskers: number;
  /** Bytes of the file read so far, and its size (for an ETA while reading). */
  bytesRead: number;
  bytesTotal: number;
  /** Rows whose key is empty (all key columns empty), and the line of the first. */
  emptyKeyRows: number;
  firstEmptyKeyLine: number;
  readDone: boolean;
  /** The writer has the intersection and is writing the output. */
  writing: boolean;
  done: boolean;
}

/** A stage reports progress to its party, which forwards to the job. */
export interface ProgressMsg {
  type: 'progress';
  side: Side;
  delta: Partial<Omit<SideProgress, 'readDone' | 'writing' | 'done'>>;
  readDone?: boolean;
  writing?: boolean;
  done?: boolean;
}

// ---------------------------------------------------------------- masker (worker thread)

export type MaskerMsg =
  /** SHA-256 of each key (UTF-8 bytes `keys[offsets[i]..offsets[i+1]]`): its point. Replies n*32 bytes. */
  | { type: 'hash'; keys: Uint8Array; offsets: Uint32Array }
  /** Hash each key (as `hash`) to a point and mask it. Replies n*32 bytes. */
  | { type: 'hash-mask'; keys: Uint8Array; offsets: Uint32Array }
  /** Mask each 32-byte point. Replies n*32 bytes. */
  | { type: 'mask'; points: Uint8Array }
  /** Fault injection (tests): exit the host thread. */
  | { type: 'crash' };

// ---------------------------------------------------------------- exchanger

/** What a party's exchanger accepts, from its own party and from the peer's exchanger. */
export type ExchangerMsg =
  /** From the reader (an ask): hash these keys on the maskers; the reply is their points (n*32 bytes). */
  | { type: 'hash'; keys: Uint8Array; offsets: Uint32Array }
  /**
   * From the reader (an ask: the reply is the backpressure signal): unique
   * points to mask, in the party's random order, and the unique key index of each.
   */
  | { type: 'own-batch'; index: number; points: Uint8Array; uids: Uint32Array }
  | { type: 'own-end'; batches: number; uniqueKeys: number }
  /** From the peer (through the session): its masked items, shuffled. */
  | { type: 'peer-batch'; index: number; points: Uint8Array }
  | { type: 'peer-end'; batches: number }
  /** From the peer: our batch `index` raised to its key (COMPARE_BYTES each), in the order we sent. */
  | { type: 'returned'; index: number; doubles: Uint8Array }
  /** From the peer, cardinality mode: our items raised to its key, shuffled across the whole set. */
  | { type: 'peer-shuffled'; doubles: Uint8Array }
  | { type: 'peer-shuffled-end'; items: number }
  /** From the session: the peer says it is prepared, so everything it owed us must be here. */
  | { type: 'peer-prepared' }
  /** From the party: another masker, started because the exchanger asked for one (`want-masker`). */
  | { type: 'masker-ready'; masker: ActorRef<MaskerMsg> }
  /** Internal: a masking job finished or failed. */
  | { type: 'job-done'; job: number; result: Uint8Array }
  | { type: 'job-failed'; job: number; error: unknown }
  | { type: 'abort' };

/**
 * From the exchanger to its session: what to send the peer (the session puts
 * it on the wire), and the exchange's milestones.
 */
export type ExchangeOutMsg =
  | { type: 'out-batch'; index: number; points: Uint8Array }
  | { type: 'out-end'; batches: number; items: number }
  | { type: 'out-returned'; index: number; doubles: Uint8Array }
  | { type: 'out-shuffled'; part: number; doubles: Uint8Array }
  | { type: 'out-shuffled-end'; parts: number; items: number }
  /**
   * The peer broke the protocol in a way only the exchanger can see (a bad return, a low-order point),
   * or (`lost`) what it owed never came: lost on the way, which a resume can mend.
   */
  | { type: 'exchange-fault'; detail: string; cause?: unknown; lost?: boolean }
  /** Every value this side needs has arrived, and the peer has been sent all it needs. */
  | { type: 'exchange-complete' };

/**
 * What a resumed party already has (from its checkpoint and the peer's
 * hello), so the exchanger skips the work that was done.
 */
export interface ExchangePlan {
  /** Own batches whose returns are held, in own order. */
  ownReturned: ReadonlyMap<number, Uint8Array>;
  /** The permutation each own batch was sent in before. */
  perms: ReadonlyMap<number, Uint32Array>;
  /** Own batches the peer already holds: not sent again (their returns come, again if need be). */
  peerHolds: BatchSet;
  /** Peer batches raised to our key already, in the peer's order. */
  peerDoubles: ReadonlyMap<number, Uint8Array>;
  /** Peer batches whose returns the peer holds already. */
  peerHasReturned: BatchSet;
  /** The output was committed before: the key is gone, so nothing may need masking. */
  committed: boolean;
}

// ---------------------------------------------------------------- matcher and writer

export type MatcherMsg =
  /** Own unique keys `uids[i]`, double-masked (COMPARE_BYTES each, in the same order). */
  | { type: 'own-doubles'; uids: Uint32Array; doubles: Uint8Array }
  /** Peer items, double-masked (COMPARE_BYTES each), any order. */
  | { type: 'peer-doubles'; doubles: Uint8Array }
  /** From the reader: how many unique keys there are. */
  | { type: 'keys'; uniqueKeys: number }
  /** From the exchanger: every own and peer batch is in. */
  | { type: 'exchange-done' }
  /** From the party (an ask): drop the stores, confirm. */
  | { type: 'abort' };

/**
 * What the reader learned of its file, for the writer (in-process, by
 * reference): how many rows and unique keys, and for every row the index of
 * its unique key (a store of `(row, uid)` pairs, bucket by bucket), so the
 * writer can find the matched rows and cut them from the file in one
 * sequential pass.
 */
export interface RowTable {
  /** Records of the file (row numbers run from 0 to rows - 1). */
  rows: number;
  /** Of those, rows left out of the PSI (empty keys under `emptyKeys: 'skip'`): they have no uid. */
  skippedRows: number;
  uniqueKeys: number;
  /** `(row, uid)` records, 2 words each; the writer takes and disposes it. */
  rowKeys: SpillBuckets;
  headerRaw: string;
  /** The file as it was read: the writer refuses to cut rows from a file that changed since. */
  size: number;
  mtimeMs: number;
  /** Bytes the reader's stores wrote to disk. */
  spilledBytes: number;
}

export type WriterMsg =
  /** From the reader: which row has which unique key (the writer takes over the store). */
  | { type: 'rows'; table: RowTable }
  /** From the matcher: `matched[k]` is 1 when unique key k is in the intersection. */
  | { type: 'write'; matched: Uint8Array; spilledBytes: number }
  /** From the party, once both parties have written: rename the temporary output into place. */
  | { type: 'commit' }
  /** From the party (an ask): stop writing, delete the temporary output and the sort runs, confirm. */
  | { type: 'abort' };

/** What a party reports to the job. */
export type PartyEvent =
  | ProgressMsg
  /** From the exchanger to its party: work is queued beyond what the maskers it has can take; start one more. */
  | { type: 'want-masker'; side: Side }
  | {
      type: 'party-written';
      side: Side;
      rows: number;
      uniqueKeys: number;
      matchedRows: number;
      matchedKeys: number;
      spilledBytes: number;
      sortRuns: number;
    }
  | { type: 'party-committed'; side: Side }
  | { type: 'party-failed'; side: Side; error: unknown };
