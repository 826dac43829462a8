import type { MessagePort, TransferListItem } from 'node:worker_threads';
import type { Batch, Transport, TransportClosed } from '../Transport.js';

/**
 * The thread end of the worker-thread transport, over `parentPort`.
 *
 * Pausing stops reading the port (`port.off('message')`): Node hands a
 * port's whole queue to JS in one go, so while the link is paused the
 * backlog waits in the port's queue, serialised and off the heap, and
 * reading resumes in order. The channel is never down, and it closes only
 * with the thread itself.
 * @internal
 */
export class PortTransport implements Transport {
  readonly up = true;
  private receiver: ((batch: Batch) => void) | undefined;
  private readonly onMessage = (batch: Batch) => this.receiver?.(batch);
  private reading = false;

  constructor(
    private readonly port: MessagePort,
    readonly label: string,
  ) {}

  post(batch: Batch, transfer?: readonly ArrayBuffer[]): boolean {
    this.port.postMessage(batch, transfer as readonly TransferListItem[] | undefined);
    return true;
  }

  onBatch(receive: (batch: Batch) => void): void {
    this.receiver = receive;
    this.resume();
  }

  pause(): void {
    if (!this.reading) return;
    this.reading = false;
    this.port.off('message', this.onMessage);
  }

  resume(): void {
    if (this.reading) return;
    this.reading = true;
    this.port.on('message', this.onMessage);
  }

  onStatus(_listener: (up: boolean, detail: string) => void): void {}

  onClose(_listener: (closed: TransportClosed) => void): void {}

  close(): void {
    this.port.close();
  }
}
