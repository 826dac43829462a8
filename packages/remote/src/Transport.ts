/**
 * The channel a link talks through: batches of frames out, batches in.
 *
 * This mirrors the `Transport` interface of `@troupe/core`'s wire layer (issue 10,
 * part 1), copied verbatim until core exports it; then this file becomes a
 * re-export (`export type { Batch, Transport, TransportClosed } from '@troupe/core'`)
 * and nothing else here changes. {@link NatsTransport} is its NATS implementation.
 */

/** A batch: a flat array of frames, each an opcode followed by that op's fixed fields. Plain structured-cloneable data only (refs are already encoded as plain markers). */
export type Batch = unknown[];
export interface TransportClosed {
  reason: 'exited' | 'error' | 'peer-dead' | 'closed';
  detail: string;
  cause?: unknown;
}
export interface Transport {
  /** Names the other end in errors and logs, e.g. "worker 0" or "node b (incarnation 3f9a)". */
  readonly label: string;
  /** False while the channel is down (e.g. NATS disconnected); posts then return false and send nothing. */
  readonly up: boolean;
  /** Send one batch, in order. Returns false (nothing sent) when down or closed. Throws synchronously (nothing sent) when the batch cannot be serialised. */
  post(batch: Batch, transfer?: readonly ArrayBuffer[]): boolean;
  /** The one receiver of inbound batches, delivered in the order the peer posted them. */
  onBatch(receive: (batch: Batch) => void): void;
  /** Stop delivering inbound batches until resume(); the backlog waits inside the transport. */
  pause(): void;
  resume(): void;
  /** Up/down changes (down: in-flight asks over this link must settle as "disconnected"). */
  onStatus(listener: (up: boolean, detail: string) => void): void;
  /** Called once when the channel is closed for good (peer incarnation dead, closed by either side). */
  onClose(listener: (closed: TransportClosed) => void): void;
  close(detail?: string): void;
}
