/**
 * Flow control between one sender and one receiver, in bytes of payload.
 *
 * NATS core has no backpressure: a subscriber whose pending data in the server
 * passes `max_pending` (64 MiB by default) is cut off as a slow consumer. So a
 * sender keeps at most `windowBytes` of payload in flight to each peer, and
 * the receiver says how far it has consumed with CREDIT frames.
 *
 * Both sides count a stream offset: the bytes of payload the sender has
 * published to this peer so far. Each DATA chunk carries the offset at its end,
 * each CREDIT the offset the receiver is done with. Offsets (not increments)
 * make lost frames harmless: a later chunk or credit supersedes a lost one.
 * When the sender waits for credit longer than `stallMs`, its bytes in flight
 * get no credit for that long, or its connection comes back, it sends a SYNC
 * with its offset; the receiver, which sees NATS
 * deliver in publish order, knows anything before that offset it has not seen
 * is lost, and answers with a credit at once.
 */

/** The sender's side: how much it may still publish. */
export class SendWindow {
  /** Bytes of payload published. */
  sent = 0;
  /** Bytes the receiver has reported consumed. */
  acked = 0;

  constructor(readonly windowBytes: number) {}

  get inFlight(): number {
    return this.sent - this.acked;
  }

  /** May a chunk of `bytes` go now? (One chunk may always go when nothing is in flight.) */
  allows(bytes: number): boolean {
    const inFlight = this.sent - this.acked;
    return inFlight === 0 || inFlight + bytes <= this.windowBytes;
  }

  /** Record a published chunk ending at stream offset `end`. */
  published(end: number): void {
    this.sent = end;
  }

  /** Take a credit; returns whether it moved the window (stale or impossible credits are ignored). */
  credit(consumed: number): boolean {
    if (!(consumed > this.acked) || consumed > this.sent) return false;
    this.acked = consumed;
    return true;
  }
}

/** The receiver's side: what it has received, consumed and reported. */
export class ReceiveCredit {
  /** End offset of the last chunk received (or the sender's offset from a SYNC). */
  received = 0;
  /** Offset the receiver is done with (delivered, dropped, or held as part of a partial batch). */
  consumed = 0;
  /** Last offset sent in a CREDIT frame. */
  reported = 0;

  /** @param reportEvery send a credit when this many bytes were consumed since the last one */
  constructor(readonly reportEvery: number) {}

  /** A chunk ending at `end` arrived. Returns false for a replayed or stale one (end not past `received`). */
  arrived(end: number): boolean {
    if (!(end > this.received)) return false;
    this.received = end;
    return true;
  }

  /** Everything received is consumed (nothing waits in the backlog). */
  caughtUp(): void {
    this.consumed = this.received;
  }

  /** Should a credit go now? */
  get due(): boolean {
    return this.consumed - this.reported >= this.reportEvery;
  }

  /** Any unreported consumption at all (for the idle flush)? */
  get unreported(): boolean {
    return this.consumed > this.reported;
  }

  /** Mark `consumed` as reported and return it. */
  report(): number {
    this.reported = this.consumed;
    return this.consumed;
  }
}
