/**
 * A transport that is closed from the start: the route `@troupe/core` is
 * given for a ref to a node incarnation this node cannot reach (declared
 * dead, left, restarted, never heard of, in another cluster, or this node
 * has left). Over the link it makes, tells become `link-closed` dead letters,
 * asks reject at once with `NotDeliveredError` naming why, and watches end at
 * once with `address-terminated`: the same as for a link that closed.
 */
import type { Batch, Transport, TransportClosed } from './Transport.js';

export class ClosedTransport implements Transport {
  readonly up = false;

  constructor(
    readonly label: string,
    private readonly closed: TransportClosed,
  ) {}

  post(_batch: Batch): boolean {
    return false;
  }

  onBatch(_receive: (batch: Batch) => void): void {}

  pause(): void {}

  resume(): void {}

  onStatus(_listener: (up: boolean, detail: string) => void): void {}

  /** Called at once: the link learns it is closed while it is being built, before anything is sent over it. */
  onClose(listener: (closed: TransportClosed) => void): void {
    listener(this.closed);
  }

  close(): void {}
}
