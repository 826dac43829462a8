/**
 * What happens to input from the network that cannot be used: it is dropped,
 * counted by reason, and reported as an event ({@link DroppedFrame}); it never
 * throws into NATS's callback, never waits for more, and holds no memory
 * beyond the documented bounds.
 */
import type { EnvelopeFault } from './Envelope.js';
import type { ReassemblyFault } from './Reassembler.js';

/** Every reason a frame or a batch is dropped. */
export type DropReason =
  | EnvelopeFault
  | ReassemblyFault
  /** The cluster tag is not this cluster's (a misrouted or foreign publisher). */
  | 'foreign-cluster'
  /** Addressed to another incarnation of this node (a late frame for its previous run). */
  | 'stale-target'
  /** A heartbeat from another process using this node's name (names must be unique). */
  | 'duplicate-node'
  /** From an incarnation this node has never had a heartbeat from. */
  | 'unknown-sender'
  /** From an incarnation declared dead, left or replaced. */
  | 'dead-sender'
  /** The batch's bytes are not a v8-serialised array. */
  | 'undecodable'
  /** For a pair that is already closed. */
  | 'closed-pair'
  /** A chunk whose stream offset is not past the last one (replayed or duplicated). */
  | 'replayed'
  /** The receiver of batches threw (the batch counts as delivered; the error is logged). */
  | 'receiver-error'
  /** A bug: an exception while handling a frame; logged with its stack. */
  | 'internal';

/** One dropped frame or batch, as reported in the `dropped` event. */
export interface DroppedFrame {
  reason: DropReason;
  /** Human-readable: what was wrong, and where. */
  detail: string;
  /** The subject it arrived on. */
  subject: string;
  /** Bytes dropped. */
  bytes: number;
  /** The sender as its header names it (`node/incarnation`), when the header could be read. */
  from?: string;
}

/** Counters per reason (only reasons seen so far appear). */
export class DropCounters {
  private readonly counts = new Map<DropReason, number>();
  total = 0;

  add(reason: DropReason, n = 1): void {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + n);
    this.total += n;
  }

  get(reason: DropReason): number {
    return this.counts.get(reason) ?? 0;
  }

  snapshot(): Partial<Record<DropReason, number>> {
    return Object.fromEntries(this.counts) as Partial<Record<DropReason, number>>;
  }
}
