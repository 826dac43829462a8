import type { Batch, Transport, TransportClosed } from '@troupe/core';
import { arityOf } from '../../src/internal/wire.js';

/**
 * One end of an in-memory transport pair: batches are structured-cloned at
 * the post (so an unclonable batch throws there, as a real transport's
 * serialiser would) and delivered to the other end in order, one macrotask
 * later. Tests drive it up, down and closed, lose chosen batches in transit
 * (`lose`), and hold what arrives (`hold` / `release`).
 */
export class MemoryTransport implements Transport {
  peer!: MemoryTransport;
  up = true;
  closed: TransportClosed | undefined;
  posted = 0;
  /** While set, a posted batch it returns true for is accepted (post returns true) and never arrives, as a network loses one. */
  lose: ((batch: Batch) => boolean) | undefined;
  /** The batches lost so far, in the order they were posted. */
  readonly lost: Batch[] = [];
  private receiver: ((batch: Batch) => void) | undefined;
  private paused = false;
  private held = false;
  private readonly backlog: Batch[] = [];
  private readonly statusListeners: ((up: boolean, detail: string) => void)[] = [];
  private readonly closeListeners: ((closed: TransportClosed) => void)[] = [];

  constructor(readonly label: string) {}

  post(batch: Batch, transfer?: readonly ArrayBuffer[]): boolean {
    if (!this.up || this.closed !== undefined) return false;
    const copy = structuredClone(batch, transfer === undefined ? undefined : { transfer: [...transfer] });
    this.posted++;
    if (this.lose?.(copy) === true) {
      this.lost.push(copy);
      return true;
    }
    const peer = this.peer;
    setImmediate(() => peer.arrive(copy));
    return true;
  }

  private arrive(batch: Batch): void {
    if (this.closed !== undefined) return;
    if (this.paused || this.held || this.backlog.length > 0) this.backlog.push(batch);
    else this.receiver?.(batch);
  }

  onBatch(receive: (batch: Batch) => void): void {
    this.receiver = receive;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.deliverBacklog();
  }

  /** Keep what arrives at this end until release() (apart from the link's own pause). */
  hold(): void {
    this.held = true;
  }

  /** Batches that arrived and wait (held or paused). */
  get waiting(): number {
    return this.backlog.length;
  }

  release(): void {
    this.held = false;
    this.deliverBacklog();
  }

  private deliverBacklog(): void {
    while (!this.paused && !this.held && this.backlog.length > 0) this.receiver?.(this.backlog.shift() as Batch);
  }

  onStatus(listener: (up: boolean, detail: string) => void): void {
    this.statusListeners.push(listener);
  }

  onClose(listener: (closed: TransportClosed) => void): void {
    this.closeListeners.push(listener);
  }

  /** Both ends go down (or up), as a network partition would. */
  setUp(up: boolean, detail = up ? 'reconnected' : 'connection lost'): void {
    for (const end of [this, this.peer]) {
      end.up = up;
      for (const l of end.statusListeners) l(up, detail);
    }
  }

  close(detail = 'closed by this side'): void {
    this.end({ reason: 'closed', detail });
  }

  /** The other end's process died: this end learns it as peer-dead. */
  peerDied(detail = 'the peer incarnation is dead'): void {
    this.end({ reason: 'peer-dead', detail });
  }

  private end(closed: TransportClosed): void {
    for (const end of [this, this.peer]) {
      if (end.closed !== undefined) continue;
      end.closed = closed;
      for (const l of end.closeListeners.splice(0)) l(closed);
    }
  }
}

/** Two connected ends. */
export function memoryPair(a = 'node a', b = 'node b'): [MemoryTransport, MemoryTransport] {
  const left = new MemoryTransport(b);
  const right = new MemoryTransport(a);
  left.peer = right;
  right.peer = left;
  return [left, right];
}

/** The frames of a batch, each `[op, ...fields]` (by the wire's arity table). */
export function framesOf(batch: Batch): unknown[][] {
  const frames: unknown[][] = [];
  for (let i = 0; i < batch.length; ) {
    const arity = arityOf(batch[i]);
    if (arity === undefined) throw new Error(`not a frame at ${i}: ${String(batch[i])}`);
    frames.push(batch.slice(i, i + 1 + arity));
    i += 1 + arity;
  }
  return frames;
}
