/**
 * The {@link Transport} between this node's incarnation and one peer
 * incarnation, over NATS core (no JetStream on the data path).
 *
 * Out: `post` serialises the batch with `node:v8` (it throws at once, sending
 * nothing, when it cannot), cuts it into chunks under `max_payload`
 * ({@link chunk}), and publishes chunks while the peer's credit window
 * ({@link SendWindow}) allows; the rest waits in a FIFO queue, so order per
 * pair holds across chunked batches. In: the node's one subscription hands this
 * transport the frames whose header names its peer; chunks are reassembled
 * ({@link Reassembler}), batches deserialised and delivered in order to the one
 * receiver, or kept in a backlog while paused (and credit withheld, so the
 * backlog is bounded by the window).
 *
 * Up/down follows the node's NATS connection: while it is down `post` returns
 * false and counts the refusal; batches already accepted stay queued and go,
 * in order, after the reconnect (a SYNC then recovers credit for anything lost
 * in the outage). Batches can also be lost while both sides are up, when one
 * side's connection came back before the other's: the receiver sees the gap
 * (batch numbers, or a SYNC past what arrived) and sends LOST, and the sender
 * then reports a brief outage to its link (down, then up), which records its
 * unacknowledged tells as `disconnected` dead letters, settles its asks in
 * flight and registers its watches again, as after any disconnect; the
 * receiver's own link hears of it through `onLoss` (its proxies recount).
 * While this side alone is down, its link keeps the bookkeeping frames it
 * was refused and posts them after the reconnect. A pair closes once, for good: by either side's `close()`,
 * a peer's graceful leave (reason `closed`), or the failure detector (`peer-dead`).
 * A later incarnation of the peer is a new pair and a new transport.
 */
import type { Clock } from '@troupe/core';
import { BatchTooLargeError, type Chunk, chunk } from './Chunker.js';
import { ReceiveCredit, SendWindow } from './Credits.js';
import type { DropReason } from './DroppedFrame.js';
import { controlFrame, detailOf, type Header, headerTemplate, Kind } from './Envelope.js';
import { UnserializableBatchError } from './errors.js';
import { packAfter, unpack } from './Packer.js';
import type { Dropped } from './Reassembler.js';
import { Reassembler } from './Reassembler.js';
import type { Batch, Transport, TransportClosed } from './Transport.js';
import type { ResolvedTransportOptions } from './TransportOptions.js';

/** Counters of one transport (see {@link NatsTransport.stats}). */
export interface TransportStats {
  /** Batches accepted by `post`, and their serialised bytes. */
  postedBatches: number;
  postedBytes: number;
  /** `post` calls refused because the link was down or closed (the batch was not sent). */
  refusedDown: number;
  /** `post` calls refused because `maxQueuedBytes` was reached (the peer gives no credit). */
  refusedQueueFull: number;
  /** Chunks published, and chunks a publish failed for (connection closed under it). */
  chunksPublished: number;
  publishFailed: number;
  /** Batches accepted but dropped unsent because the pair closed. */
  unsentOnClose: number;
  /** Times the sender had to wait for credit, and SYNCs it sent. */
  creditWaits: number;
  syncsSent: number;
  /** Inbound: batches delivered to the receiver, bytes of payload received. */
  deliveredBatches: number;
  receivedBytes: number;
  /** Inbound batches known lost (sequence gaps, partial batches dropped). */
  lostBatches: number;
  /** Gaps this side saw and told the sender of (LOST sent). */
  lostReported: number;
  /** LOST frames from the peer: outages reported to the link. */
  lostToldByPeer: number;
  /** Inbound batches dropped because the pair closed before they were delivered. */
  undeliveredOnClose: number;
  /** Now: bytes queued unsent, bytes in flight (published, not credited), batches in the backlog. */
  queuedBytes: number;
  inFlightBytes: number;
  backlogBatches: number;
}

/** What a transport needs from its node. @internal */
export interface TransportDeps {
  cluster: string;
  localNode: string;
  localIncarnation: string;
  peerNode: string;
  peerIncarnation: string;
  /** The peer's subject. */
  subject: string;
  /** Publish one message; throws if the connection cannot take it. */
  publish: (subject: string, data: Uint8Array) => void;
  /** The largest message the server accepts now (its `max_payload`). */
  maxPayload: () => number;
  up: boolean;
  options: ResolvedTransportOptions;
  clock: Clock;
  /** Report a dropped frame or batch (counted and emitted by the node). */
  drop: (reason: DropReason, detail: string, bytes: number) => void;
  /** Log an error from the receiver callback. */
  warn: (message: string, fields: Record<string, unknown>) => void;
  /** Called once when the pair closes (the node forgets it). */
  closed: (t: NatsTransport) => void;
}

export class NatsTransport implements Transport {
  readonly label: string;
  /** The peer's node name and incarnation. */
  readonly peerNode: string;
  readonly peerIncarnation: string;

  private _up: boolean;
  private closedWith: TransportClosed | undefined;
  /** Set when the peer closed gracefully: close once the backlog is delivered. */
  private closing: TransportClosed | undefined;
  private closingSince = 0;
  private readonly template: Buffer;
  private readonly window: SendWindow;
  private readonly credit: ReceiveCredit;
  private readonly reassembler: Reassembler;
  private readonly opts: ResolvedTransportOptions;

  private nextSeq = 0;
  private streamOffset = 0;
  private readonly queue: Chunk[] = [];
  private queueHead = 0;
  private queuedBytes = 0;
  /** A post was refused for want of room: refuse the rest until the queue is down to half. */
  private queueFull = false;
  /** Waiting for credit (one wait counted in `creditWaits` until credit comes). */
  private waiting = false;
  /** When the bytes in flight last made progress (a credit came, or the first went out after none). */
  private progressAt = 0;
  private lastSyncAt = 0;

  private expectedSeq = 0;
  /** A partial batch dropped and counted as lost, until the gap it leaves is counted (-1: none). */
  private partialLost = -1;
  /** The first batch none of whose chunks has been published (what a SYNC names). */
  private publishedSeq = 0;
  private receiver: ((batch: Batch) => void) | undefined;
  private paused = false;
  private backlog: Batch[] = [];
  private backlogHead = 0;
  private delivering = false;

  private readonly statusListeners: ((up: boolean, detail: string) => void)[] = [];
  private readonly lossListeners: ((detail: string) => void)[] = [];
  private readonly closeListeners: ((closed: TransportClosed) => void)[] = [];
  private readonly counters = {
    postedBatches: 0,
    postedBytes: 0,
    refusedDown: 0,
    refusedQueueFull: 0,
    chunksPublished: 0,
    publishFailed: 0,
    unsentOnClose: 0,
    creditWaits: 0,
    syncsSent: 0,
    deliveredBatches: 0,
    receivedBytes: 0,
    lostBatches: 0,
    undeliveredOnClose: 0,
    lostReported: 0,
    lostToldByPeer: 0,
  };

  /** @internal Made by {@link Node}; one per (local incarnation, peer incarnation). */
  constructor(private readonly deps: TransportDeps) {
    this.peerNode = deps.peerNode;
    this.peerIncarnation = deps.peerIncarnation;
    this.label = `node ${deps.peerNode} (incarnation ${deps.peerIncarnation})`;
    this._up = deps.up;
    this.opts = deps.options;
    this.template = headerTemplate(deps.cluster, deps.localIncarnation, deps.peerIncarnation, deps.localNode);
    this.window = new SendWindow(this.opts.windowBytes);
    this.credit = new ReceiveCredit(Math.max(1, Math.floor(this.opts.windowBytes / 4)));
    this.reassembler = new Reassembler(this.opts.maxBatchBytes, this.opts.reassemblyTimeoutMs);
  }

  get up(): boolean {
    return this._up && this.closedWith === undefined;
  }

  /** Closed for good (and why), or undefined while open. */
  get closed(): TransportClosed | undefined {
    return this.closedWith;
  }

  post(batch: Batch, _transfer?: readonly ArrayBuffer[]): boolean {
    // Transfer lists mean nothing across a network: v8 serialisation copies ArrayBuffers.
    if (!this.up || this.closing !== undefined) {
      this.counters.refusedDown++;
      return false;
    }
    // Full until the queue is down to half: refused before serialising (the link posts what it kept
    // again every 50 ms meanwhile, and would otherwise pay for packing it each time).
    if (this.queueFull) {
      if (this.queuedBytes > this.opts.maxQueuedBytes / 2) {
        this.counters.refusedQueueFull++;
        return false;
      }
      this.queueFull = false;
    }
    let buf: Buffer;
    try {
      buf = packAfter(this.template, batch);
    } catch (e) {
      throw new UnserializableBatchError(this.label, e);
    }
    const bytes = buf.length - this.template.length;
    if (bytes > this.opts.maxBatchBytes) throw new BatchTooLargeError(this.label, bytes, this.opts.maxBatchBytes);
    if (this.queuedBytes + bytes > this.opts.maxQueuedBytes) {
      this.counters.refusedQueueFull++;
      this.queueFull = true;
      return false;
    }
    const chunks = chunk(buf, this.template, this.nextSeq, this.streamOffset, this.maxMessage());
    this.nextSeq = (this.nextSeq + 1) >>> 0;
    this.streamOffset += bytes;
    this.counters.postedBatches++;
    this.counters.postedBytes += bytes;
    if (this.queueHead === this.queue.length && chunks.length === 1) {
      const c = chunks[0] as Chunk;
      if (this.window.allows(c.payloadBytes)) {
        this.publishChunk(c);
        return true;
      }
    }
    for (const c of chunks) {
      this.queue.push(c);
      this.queuedBytes += c.payloadBytes;
    }
    this.pump();
    return true;
  }

  onBatch(receive: (batch: Batch) => void): void {
    this.receiver = receive;
    // Deliver what arrived before anyone listened, but not inside the caller's setup.
    if (this.backlogHead < this.backlog.length) queueMicrotask(() => this.deliver());
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.deliver();
  }

  onStatus(listener: (up: boolean, detail: string) => void): void {
    this.statusListeners.push(listener);
  }

  onLoss(listener: (detail: string) => void): void {
    this.lossListeners.push(listener);
  }

  onClose(listener: (closed: TransportClosed) => void): void {
    const closed = this.closedWith;
    if (closed !== undefined) queueMicrotask(() => listener(closed));
    else this.closeListeners.push(listener);
  }

  /** Close this pair for good, telling the peer (reason `closed` on both sides). Unsent batches are dropped. */
  close(detail = 'closed by this side'): void {
    if (this.closedWith !== undefined) return;
    if (this._up) this.tryPublish(controlFrame(this.template, Kind.Close, {}, detail));
    this.finish({ reason: 'closed', detail: `${this.label}: ${detail}` });
  }

  /** Counters and current queue sizes. */
  stats(): TransportStats {
    return {
      ...this.counters,
      queuedBytes: this.queuedBytes,
      inFlightBytes: this.window.inFlight,
      backlogBatches: this.backlog.length - this.backlogHead,
    };
  }

  // ---- called by the node ------------------------------------------------

  /** @internal A DATA chunk from the peer. */
  /** @internal A frame of this pair from the peer (data, credit, sync, close or lost), by its kind. */
  receive(h: Header, data: Uint8Array): void {
    switch (h.kind) {
      case Kind.Data:
        this.receiveData(h, data);
        break;
      case Kind.Credit:
        this.receiveCredit(h);
        break;
      case Kind.Sync:
        this.receiveSync(h);
        break;
      case Kind.Close:
        this.peerClosed(detailOf(data, h) || 'closed by the peer');
        break;
      case Kind.Lost:
        this.receiveLost(detailOf(data, h) || 'the peer saw a gap');
        break;
    }
  }

  receiveData(h: Header, data: Uint8Array): void {
    const payload = data.subarray(h.payloadStart);
    if (this.closedWith !== undefined || this.closing !== undefined) {
      this.deps.drop('closed-pair', `${this.label}: chunk of batch ${h.seq} after the pair closed`, payload.length);
      return;
    }
    if (!this.credit.arrived(h.offset)) {
      this.deps.drop(
        'replayed',
        `${this.label}: chunk ending at offset ${h.offset}, already past ${this.credit.received}`,
        payload.length,
      );
      return;
    }
    this.counters.receivedBytes += payload.length;
    const got = this.reassembler.accept(h, payload, this.deps.clock.now());
    if (got.dropped !== undefined) this.dropped(got.dropped);
    if (got.complete !== undefined) {
      let batch: unknown;
      try {
        batch = unpack(got.complete);
      } catch (e) {
        batch = e;
      }
      if (!Array.isArray(batch)) {
        const why = batch instanceof Error ? batch.message : `a ${typeof batch}, not an array`;
        this.deps.drop('undecodable', `${this.label}: batch ${h.seq} is not a serialised batch (${why})`, h.total);
        this.counters.lostBatches++;
      } else {
        const gap = this.gapBefore(h.seq);
        if (gap > 0) {
          this.counters.lostBatches += this.uncounted(gap);
          // Before this batch is delivered (and acknowledged), so the sender hears of the loss first.
          this.reportLost(h.seq, `${gap} batch(es) before batch ${h.seq} did not arrive`);
        }
        this.backlog.push(batch);
      }
      // Never backwards: a batch behind the expected number (named past by a SYNC) is late, not a gap.
      if (this.gapBefore(h.seq) >= 0) this.expectedSeq = (h.seq + 1) >>> 0;
    }
    this.deliver();
  }

  /** @internal A CREDIT from the peer. */
  receiveCredit(h: Header): void {
    if (this.window.credit(h.offset)) {
      this.waiting = false;
      this.progressAt = this.deps.clock.now();
    }
    this.pump();
  }

  /** @internal A SYNC from the peer: anything before its offset that has not arrived is lost. */
  receiveSync(h: Header): void {
    if (h.offset > this.credit.received) {
      this.dropped(this.reassembler.dropPartial('incomplete', `lost in transit (peer sent up to ${h.offset})`));
      this.reportLost(
        this.expectedSeq,
        `bytes ${this.credit.received}..${h.offset} did not arrive (batch ${this.expectedSeq} onwards)`,
      );
      this.credit.received = h.offset;
      // The SYNC names the first batch the peer has not begun to publish: the gap is reported once,
      // here, not again when that batch arrives (a second LOST would make the sender's link fail
      // the asks and dead-letter the tells it sent after the loss, which did arrive).
      const gap = this.gapBefore(h.seq);
      if (gap > 0) {
        this.counters.lostBatches += this.uncounted(gap);
        this.expectedSeq = h.seq;
      }
    }
    this.settleCredit(true);
  }

  /**
   * @internal A LOST from the peer: some of what this side sent never arrived.
   * The link hears of it as a brief outage (down, then up). Ignored while
   * down: going down already did the same.
   */
  receiveLost(detail: string): void {
    if (!this._up || this.closedWith !== undefined) return;
    this.counters.lostToldByPeer++;
    const why = `${this.label}: lost in transit (${detail})`;
    for (const l of this.statusListeners) l(false, why);
    for (const l of this.statusListeners) l(true, why);
  }

  /**
   * Batches missing before batch `seq`: 0 when it is the one expected, -1 when it is behind
   * (u32 numbers that wrap: "behind" is within half the range).
   */
  private gapBefore(seq: number): number {
    const ahead = (seq - this.expectedSeq) >>> 0;
    return ahead < 2 ** 31 ? ahead : -1;
  }

  /** Of `gap` batches lost before the next one, those not already counted as a dropped partial batch. */
  private uncounted(gap: number): number {
    const counted = this.partialLost !== -1 && (this.partialLost - this.expectedSeq) >>> 0 < gap ? 1 : 0;
    this.partialLost = -1;
    return gap - counted;
  }

  /** Tell the sender (its link recounts what it sent) and this side's link (it asks for what it missed). */
  private reportLost(seq: number, detail: string): void {
    this.counters.lostReported++;
    this.tryPublish(controlFrame(this.template, Kind.Lost, { seq }, detail));
    for (const l of this.lossListeners) l(`${this.label}: ${detail}`);
  }

  /**
   * @internal The peer closed the pair (or left): deliver what arrived, then close. A backlog
   * nobody takes (no receiver, or paused) is waited for at most `reassemblyTimeoutMs`.
   */
  peerClosed(detail: string): void {
    if (this.closedWith !== undefined) return;
    this.closing = { reason: 'closed', detail: `${this.label} closed the link: ${detail}` };
    this.closingSince = this.deps.clock.now();
    this.deliver();
  }

  /** @internal Close without telling the peer (it is dead, or the connection is gone). */
  terminate(closed: TransportClosed): void {
    this.finish(closed);
  }

  /** @internal The node's connection went down or came back. */
  setUp(up: boolean, detail: string): void {
    if (this.closedWith !== undefined || up === this._up) return;
    this._up = up;
    if (up) {
      this.waiting = false;
      if (this.window.inFlight > 0) this.sendSync();
      this.settleCredit(true);
      this.pump();
    }
    for (const l of this.statusListeners) l(up, `${this.label}: ${detail}`);
  }

  /** @internal Periodic upkeep: reassembly timeout, stall SYNC, idle credit flush. */
  tick(now: number): void {
    if (this.closedWith !== undefined) return;
    if (this.closing !== undefined && now - this.closingSince >= this.opts.reassemblyTimeoutMs) {
      this.finish(this.closing);
      return;
    }
    this.dropped(this.reassembler.expire(now));
    if (!this._up) return;
    // Bytes in flight with no credit for a while (waiting for it, or the last batch lost with nothing
    // after it to show the gap): a SYNC lets the receiver find out. (Waiting implies no credit since.)
    const stalled = this.window.inFlight > 0 && now - this.progressAt >= this.opts.stallMs;
    if (stalled && now - this.lastSyncAt >= this.opts.stallMs) this.sendSync();
    this.settleCredit(false);
    if (this.credit.unreported) this.settleCredit(true);
  }

  /** @internal Resolves true once everything posted is published and credited, false at the deadline. */
  async drained(timeoutMs: number): Promise<boolean> {
    const until = this.deps.clock.now() + timeoutMs;
    while (this.closedWith === undefined && (this.queueHead < this.queue.length || this.window.inFlight > 0)) {
      if (this.deps.clock.now() >= until) return false;
      if (this._up && this.window.inFlight > 0 && this.deps.clock.now() - this.lastSyncAt >= 200) this.sendSync();
      await new Promise<void>((r) => this.deps.clock.setTimeout(r, 10));
    }
    return this.closedWith === undefined;
  }

  // ---- internals ---------------------------------------------------------

  private maxMessage(): number {
    const server = this.deps.maxPayload();
    const own = this.opts.maxMessageBytes;
    return own === undefined ? server : Math.min(own, server);
  }

  private pump(): void {
    while (this._up && this.closedWith === undefined && this.queueHead < this.queue.length) {
      const c = this.queue[this.queueHead] as Chunk;
      if (!this.window.allows(c.payloadBytes)) {
        if (!this.waiting) {
          this.waiting = true;
          this.counters.creditWaits++;
        }
        return;
      }
      this.queue[this.queueHead++] = undefined as never;
      this.queuedBytes -= c.payloadBytes;
      this.publishChunk(c);
    }
    if (this.queueHead === this.queue.length && this.queueHead > 0) {
      this.queue.length = 0;
      this.queueHead = 0;
    } else if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
  }

  private publishChunk(c: Chunk): void {
    if (this.window.inFlight === 0) this.progressAt = this.deps.clock.now();
    // Counted as sent either way: a chunk the client refused is lost, and the SYNC recovers its credit.
    this.window.published(c.end);
    this.publishedSeq = (c.seq + 1) >>> 0;
    if (this.tryPublish(c.data)) this.counters.chunksPublished++;
    else this.counters.publishFailed++;
  }

  private tryPublish(data: Uint8Array): boolean {
    try {
      this.deps.publish(this.deps.subject, data);
      return true;
    } catch {
      return false;
    }
  }

  private sendSync(): void {
    this.lastSyncAt = this.deps.clock.now();
    this.counters.syncsSent++;
    this.tryPublish(controlFrame(this.template, Kind.Sync, { seq: this.publishedSeq, offset: this.window.sent }));
  }

  /** Move `consumed` up when nothing waits, and send a credit when due (or always, with `force`). */
  private settleCredit(force: boolean): void {
    if (!this.paused && this.backlogHead === this.backlog.length) this.credit.caughtUp();
    if (!this._up || this.closedWith !== undefined) return;
    if (force || this.credit.due)
      this.tryPublish(controlFrame(this.template, Kind.Credit, { offset: this.credit.report() }));
  }

  private deliver(): void {
    if (this.delivering) return;
    this.delivering = true;
    try {
      while (!this.paused && this.receiver !== undefined && this.backlogHead < this.backlog.length) {
        if (this.closedWith !== undefined) return;
        const batch = this.backlog[this.backlogHead] as Batch;
        this.backlog[this.backlogHead++] = undefined as never;
        this.counters.deliveredBatches++;
        try {
          this.receiver(batch);
        } catch (e) {
          this.deps.drop('receiver-error', `${this.label}: the receiver threw: ${String(e)}`, 0);
          this.deps.warn('remote: batch receiver threw', { peer: this.label, error: e });
        }
      }
      if (this.backlogHead === this.backlog.length && this.backlogHead > 0) {
        this.backlog = [];
        this.backlogHead = 0;
      }
    } finally {
      this.delivering = false;
    }
    if (this.closing !== undefined && this.backlogHead === this.backlog.length) {
      this.finish(this.closing);
      return;
    }
    this.settleCredit(false);
  }

  private dropped(list: readonly Dropped[]): void {
    for (const d of list) {
      if (d.seq !== undefined) {
        // A partial batch given up on: lost once, whatever later shows the gap again.
        if (this.partialLost !== d.seq) this.counters.lostBatches++;
        this.partialLost = d.seq;
      } else if (d.reason !== 'oversize' && d.reason !== 'malformed' && d.reason !== 'out-of-order') {
        this.counters.lostBatches++;
      }
      this.deps.drop(d.reason, `${this.label}: ${d.detail}`, d.bytes);
    }
  }

  private finish(closed: TransportClosed): void {
    if (this.closedWith !== undefined) return;
    this.closedWith = closed;
    this.closing = undefined;
    // Count what dies with the pair: unsent chunks (by batch) and undelivered batches.
    let unsent = 0;
    for (let i = this.queueHead; i < this.queue.length; i++) {
      if ((this.queue[i] as Chunk).last) unsent++;
    }
    if (unsent > 0) this.counters.unsentOnClose += unsent;
    this.queue.length = 0;
    this.queueHead = 0;
    this.queuedBytes = 0;
    this.counters.undeliveredOnClose += this.backlog.length - this.backlogHead;
    this.backlog = [];
    this.backlogHead = 0;
    this.reassembler.dropPartial('incomplete', 'the pair closed');
    this.deps.closed(this);
    const listeners = this.closeListeners.splice(0);
    for (const l of listeners) {
      try {
        l(closed);
      } catch (e) {
        this.deps.warn('remote: a close listener threw', { peer: this.label, error: e });
      }
    }
  }
}
