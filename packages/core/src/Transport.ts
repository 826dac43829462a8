/**
 * The extension point for transports: how a Troupe link moves batches of
 * frames between two runtimes. Troupe ships one implementation, worker threads
 * (the main side over a `Worker`, the thread side over `parentPort`);
 * `@troupe/remote` adds NATS. Everything above it (batching, salvage of
 * unclonable frames, pending replies, acknowledgements, credits, watch, ref
 * swapping) is the link's job, the same over every transport.
 *
 * A transport moves opaque batches in order and reports its state; it never
 * looks inside a batch.
 */

/** A batch: a flat array of frames, each an opcode followed by that op's fixed fields. Plain structured-cloneable data only (refs are already encoded as plain markers). */
export type Batch = unknown[];

/** Why a transport closed for good. */
export interface TransportClosed {
  reason: 'exited' | 'error' | 'peer-dead' | 'closed';
  detail: string;
  cause?: unknown;
}

/**
 * A bidirectional, ordered channel of batches to one peer.
 *
 * The transfer list handed to `post` is the sender's own (`TellOptions.transfer`):
 * a thread transport moves those buffers; a network transport serialises them
 * with the batch like any other bytes.
 */
export interface Transport {
  /** Names the other end in errors and logs, e.g. "worker 0" or "node b (incarnation 3f9a)". */
  readonly label: string;
  /** False while the channel is down (e.g. NATS disconnected); posts then return false and send nothing. */
  readonly up: boolean;
  /**
   * Send one batch, in order. Returns false (nothing sent) when down, closed,
   * or too full to take it: the link then loses the user messages in the batch
   * (dead letters, asks rejected) and posts its bookkeeping frames again, after
   * the next up (or shortly, when still up). Throws synchronously (nothing
   * sent) when the batch cannot be serialised.
   */
  post(batch: Batch, transfer?: readonly ArrayBuffer[]): boolean;
  /** The one receiver of inbound batches, delivered in the order the peer posted them. */
  onBatch(receive: (batch: Batch) => void): void;
  /** Stop delivering inbound batches until resume(); the backlog waits inside the transport. */
  pause(): void;
  resume(): void;
  /** Up/down changes (down: in-flight asks over this link must settle as "disconnected"). */
  onStatus(listener: (up: boolean, detail: string) => void): void;
  /**
   * Optional, for a transport that can lose batches in transit and find out
   * (a gap in the peer's batch numbers): called when it does. The link then
   * asks again what it may have missed (its hosted actors' counts, its
   * watches), since the lost batches may have carried credit or Terminated.
   */
  onLoss?(listener: (detail: string) => void): void;
  /** Called once when the channel is closed for good (peer incarnation dead, closed by either side). */
  onClose(listener: (closed: TransportClosed) => void): void;
  close(detail?: string): void;
}
