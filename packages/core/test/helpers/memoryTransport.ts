import type { Batch, Transport, TransportClosed } from '@troupe/core';
import { arityOf } from '../../src/internal/wire.js';

/**
 * One end of an in-memory transport pair: batches are structured-cloned at
 * the post (so an unclonable batch throws there, as a real transport's
 * serialiser would) and delivered to the other end in order, one macrotask
 * later. Tests drive it up, down and closed, lose chosen batches in transit
 * (`lose`), and hold what arrives (`hold` / `release`).
 *
 * One end can also go down alone (`setUpHere`), as one client's connection
 * to a NATS server does: it refuses posts, and what arrives at it meanwhile is
 * lost. When it comes back it reports the gap, as the NATS transport's
 * receiver does: the other end's link sees a brief outage (down, then up: the
 * LOST frame), and this end's link hears of the loss (`onLoss`).
 */
export class MemoryTransport implements Transport {
  peer!: MemoryTransport;
  up = true;
  closed: TransportClosed | undefined;
  posted = 0;
  /** While set, a posted batch it returns true for is accepted (post returns true) and never arrives, as a network loses one. */
  lose: ((batch: Batch) => boolean) | undefined;
  /** While set, post refuses every batch with this end up, as a transport whose send queue is full does. */
  full = false;
  /** The batches lost so far, in the order they were posted. */
  readonly lost: Batch[] = [];
  private receiver: ((batch: Batch) => void) | undefined;
  private paused = false;
  private held = false;
  private readonly backlog: Batch[] = [];
  private readonly statusListeners: ((up: boolean, detail: string) => void)[] = [];
  private readonly lossListeners: ((detail: string) => void)[] = [];
  private readonly closeListeners: ((closed: TransportClosed) => void)[] = [];

  constructor(readonly label: string) {}

  post(batch: Batch, transfer?: readonly ArrayBuffer[]): boolean {
    if (!this.up || this.full || this.closed !== undefined) return false;
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

  /** Batches that arrived while this end was down (lost), not yet told to the other end. */
  missed = 0;

  private arrive(batch: Batch): void {
    if (this.closed !== undefined) return;
    if (!this.up) {
      this.missed++;
      return;
    }
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

  onLoss(listener: (detail: string) => void): void {
    this.lossListeners.push(listener);
  }

  /** This end finds out that batches from the other end were lost (as a gap shows it): its link asks again. */
  reportLoss(detail = 'a gap'): void {
    for (const l of this.lossListeners) l(detail);
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

  /** This end alone goes down (or comes back); coming back, it reports what it missed to the other end. */
  setUpHere(up: boolean, detail = up ? 'reconnected' : 'connection lost'): void {
    this.up = up;
    for (const l of this.statusListeners) l(up, detail);
    if (!up || this.missed === 0 || !this.peer.up) return;
    // The gap is seen: the sender hears LOST (a brief outage for its link), and this end's link asks again.
    this.missed = 0;
    for (const l of this.peer.statusListeners) l(false, 'lost in transit');
    for (const l of this.peer.statusListeners) l(true, 'lost in transit');
    this.reportLoss('lost while down');
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
