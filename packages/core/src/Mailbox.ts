/**
 * An actor's queue of pending messages.
 *
 * Unbounded by default. With a `capacity`, the `overflow` policy decides what
 * happens to a message that finds no room:
 *
 * - `drop-newest`: the new message goes to dead letters (reason `mailbox-full`);
 *   an ask rejects with `MailboxFullError`.
 * - `drop-oldest`: the oldest queued message goes to dead letters to make room
 *   (an ask among them rejects with `MailboxFullError`).
 * - `reject`: `tell` throws `MailboxFullError` to the sender; an ask rejects with it.
 * - `backpressure`: `await ref.send(msg)` waits until there is room (asks wait too);
 *   at most `capacity` senders may wait, after that they are rejected, so memory
 *   stays bounded whatever the burst. A plain `tell` into a full backpressure
 *   mailbox throws `MailboxFullError`, pointing at `send`.
 */

export type OverflowPolicy = 'drop-newest' | 'drop-oldest' | 'reject' | 'backpressure';

export interface MailboxOptions {
  /** Maximum queued messages; `Infinity` (the default) means unbounded. */
  capacity?: number;
  /** What to do when full; default `drop-newest`. */
  overflow?: OverflowPolicy;
  /**
   * Messages handled per turn before the actor yields to the event loop
   * (timers, I/O, other actors). Default 1000.
   */
  throughput?: number;
}

/** Mailbox options after validation. */
export interface ResolvedMailboxOptions {
  capacity: number;
  overflow: OverflowPolicy;
  throughput: number;
}

const policies: readonly OverflowPolicy[] = ['drop-newest', 'drop-oldest', 'reject', 'backpressure'];

const DEFAULT_MAILBOX: ResolvedMailboxOptions = Object.freeze({
  capacity: Number.POSITIVE_INFINITY,
  overflow: 'drop-newest',
  throughput: 1000,
});

/** Validate mailbox options at the door, naming the bad field. */
export function resolveMailboxOptions(options: MailboxOptions | undefined, where: string): ResolvedMailboxOptions {
  if (options === undefined) return DEFAULT_MAILBOX;
  const capacity = options?.capacity ?? Number.POSITIVE_INFINITY;
  if (capacity !== Number.POSITIVE_INFINITY && (!Number.isInteger(capacity) || capacity < 1)) {
    throw new TypeError(`${where}: mailbox.capacity must be a positive integer or Infinity, got ${capacity}`);
  }
  const overflow = options?.overflow ?? 'drop-newest';
  if (!policies.includes(overflow)) {
    throw new TypeError(`${where}: mailbox.overflow must be one of ${policies.join(', ')}, got ${String(overflow)}`);
  }
  const throughput = options?.throughput ?? 1000;
  if (!Number.isInteger(throughput) || throughput < 1) {
    throw new TypeError(`${where}: mailbox.throughput must be a positive integer, got ${throughput}`);
  }
  return { capacity, overflow, throughput };
}

/**
 * A growable ring buffer of (message, envelope) pairs, stored interleaved in
 * one array so that a plain `tell` allocates nothing per message.
 * @internal
 */
export class Mailbox {
  private buf: unknown[];
  private mask: number;
  private head = 0;
  private len = 0;
  /** Deepest the queue has been. */
  highWater = 0;

  constructor(initialSlots = 4) {
    let n = 4;
    while (n < initialSlots) n <<= 1;
    this.buf = new Array(n * 2);
    this.mask = n - 1;
  }

  get size(): number {
    return this.len;
  }

  push(message: unknown, envelope: unknown): void {
    if (this.len > this.mask) this.grow();
    const i = ((this.head + this.len) & this.mask) << 1;
    this.buf[i] = message;
    this.buf[i + 1] = envelope;
    if (++this.len > this.highWater) this.highWater = this.len;
  }

  /** Put a pair back at the front (used by unstash). */
  unshift(message: unknown, envelope: unknown): void {
    if (this.len > this.mask) this.grow();
    this.head = (this.head - 1) & this.mask;
    const i = this.head << 1;
    this.buf[i] = message;
    this.buf[i + 1] = envelope;
    if (++this.len > this.highWater) this.highWater = this.len;
  }

  /** The message at the front; call only when `size > 0`. */
  peekMessage(): unknown {
    return this.buf[this.head << 1];
  }

  peekEnvelope(): unknown {
    return this.buf[(this.head << 1) + 1];
  }

  /** Drop the front pair (after reading it with the peeks). */
  shift(): void {
    const i = this.head << 1;
    this.buf[i] = undefined;
    this.buf[i + 1] = undefined;
    this.head = (this.head + 1) & this.mask;
    this.len--;
    // Give memory back after a burst.
    if (this.len === 0 && this.mask > 1023) this.reset();
  }

  /** Drop the last pair (the newest). */
  pop(): void {
    if (this.len === 0) return;
    const i = ((this.head + this.len - 1) & this.mask) << 1;
    this.buf[i] = undefined;
    this.buf[i + 1] = undefined;
    this.len--;
  }

  /** Drop the first pair that is (`message`, `envelope`) (identity); O(n), for rare paths. */
  remove(message: unknown, envelope: unknown): boolean {
    const all = this.drain();
    let found = false;
    for (let i = 0; i < all.length; i += 2) {
      if (!found && all[i] === message && all[i + 1] === envelope) {
        found = true;
        continue;
      }
      this.push(all[i], all[i + 1]);
    }
    return found;
  }

  /** Remove and return every pair, oldest first, as a flat [m0, e0, m1, e1, ...] array. */
  drain(): unknown[] {
    const out: unknown[] = new Array(this.len * 2);
    for (let k = 0; k < this.len; k++) {
      const i = ((this.head + k) & this.mask) << 1;
      out[k * 2] = this.buf[i];
      out[k * 2 + 1] = this.buf[i + 1];
    }
    this.reset();
    return out;
  }

  private reset(): void {
    this.buf = new Array(8);
    this.mask = 3;
    this.head = 0;
    this.len = 0;
  }

  private grow(): void {
    const n = this.mask + 1;
    const next = new Array(n * 4);
    for (let k = 0; k < this.len; k++) {
      const i = ((this.head + k) & this.mask) << 1;
      next[k * 2] = this.buf[i];
      next[k * 2 + 1] = this.buf[i + 1];
    }
    this.buf = next;
    this.mask = n * 2 - 1;
    this.head = 0;
  }
}
