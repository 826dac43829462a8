/**
 * The messages PSI actors exchange. Everything that goes to the peer party is
 * plain data (byte arrays and numbers), so the peer can live in another thread,
 * process or machine; messages inside one party may carry in-process values by
 * reference (the unique key list, a Set of matched keys).
 */
import type { ActorRef, WorkerActorSpec } from '@troupe/core';

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
  /** The masker worker actor; default the built-in one ({@link MaskerInput} carries the party's key). */
  masker?: WorkerActorSpec<MaskerMsg, MaskerInput>;
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
  /** Hash each key (UTF-8 bytes `keys[offsets[i]..offsets[i+1]]`) to a point and mask it. Replies n*32 bytes. */
  | { type: 'hash-mask'; keys: Uint8Array; offsets: Uint32Array }
  /** Mask each 32-byte point. Replies n*32 bytes. */
  | { type: 'mask'; points: Uint8Array }
  /** Fault injection (tests): exit the host thread. */
  | { type: 'crash' };

// ---------------------------------------------------------------- exchanger

/** What a party's exchanger accepts, from its own party and from the peer's exchanger. */
export type ExchangerMsg =
  /** From the reader (an ask: the reply is the backpressure signal). */
  | { type: 'own-batch'; index: number; firstUnique: number; keys: Uint8Array; offsets: Uint32Array }
  | { type: 'own-end'; batches: number; uniqueKeys: number }
  /** From the party: where the peer's exchanger is. */
  | { type: 'peer'; peer: ActorRef<ExchangerMsg> }
  /** From the peer: its masked items, shuffled within the batch. */
  | { type: 'peer-batch'; index: number; points: Uint8Array }
  | { type: 'peer-end'; batches: number }
  /** From the peer: our batch `index` raised to its key (COMPARE_BYTES each), in the order we sent. */
  | { type: 'returned'; index: number; doubles: Uint8Array }
  /** From the party: another masker, started because the exchanger asked for one (`want-masker`). */
  | { type: 'masker-ready'; masker: ActorRef<MaskerMsg> }
  /** Internal: a masking job finished or failed. */
  | { type: 'job-done'; job: number; result: Uint8Array }
  | { type: 'job-failed'; job: number; error: unknown }
  | { type: 'abort' };

// ---------------------------------------------------------------- matcher and writer

export type MatcherMsg =
  /** Own unique keys `firstUnique..` in order, double-masked (COMPARE_BYTES each). */
  | { type: 'own-doubles'; firstUnique: number; doubles: Uint8Array }
  /** Peer items, double-masked (COMPARE_BYTES each), any order. */
  | { type: 'peer-doubles'; doubles: Uint8Array }
  /** From the reader: how many unique keys there are. */
  | { type: 'keys'; uniqueKeys: number }
  /** From the exchanger: every own and peer batch is in. */
  | { type: 'exchange-done' };

/**
 * What the reader learned of its file, for the writer (in-process, by
 * reference): the unique keys, and for every row its key and byte range, so
 * the output is cut from the file without parsing it again.
 */
export interface RowTable {
  keys: readonly string[];
  index: ReadonlyMap<string, number>;
  rows: number;
  rowKey: Uint32Array;
  rowOffset: Float64Array;
  rowLength: Uint32Array;
  headerRaw: string;
}

export type WriterMsg =
  | { type: 'rows'; table: RowTable }
  /** From the matcher: `matched[k]` is 1 when unique key k is in the intersection. */
  | { type: 'write'; matched: Uint8Array }
  | { type: 'commit' }
  | { type: 'abort' };

/** What a party reports to the job. */
export type PartyEvent =
  | ProgressMsg
  /** From the exchanger to its party: work is queued beyond what the maskers it has can take; start one more. */
  | { type: 'want-masker'; side: Side }
  | { type: 'party-written'; side: Side; rows: number; uniqueKeys: number; matchedRows: number; matchedKeys: number }
  | { type: 'party-committed'; side: Side }
  | { type: 'party-failed'; side: Side; error: unknown };
