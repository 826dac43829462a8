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

/** Pairs in a mailbox's first segment; a new one holds as many pairs as are queued (a power of two), up to `MAX_PAIRS`. */
const FIRST_PAIRS = 4;
/**
 * Pairs per segment once a queue is long. Kept small enough that a segment is
 * an ordinary fast array: V8 turns one huge `new Array(n)` into a dictionary,
 * which made a 1M-message backlog pay more for its ring than for its messages.
 */
const MAX_PAIRS = 1024;
/** An emptied queue keeps its segment if it is this small, else starts again with a small one. */
const KEEP_PAIRS = 64;

/** One array of (message, envelope) pairs, read from `r`, written at `w`; `pairs === 0` only for `EMPTY`. */
class Segment {
  readonly buf: unknown[];
  readonly pairs: number;
  r = 0;
  w = 0;
  next: Segment | undefined = undefined;
  prev: Segment | undefined = undefined;
  constructor(pairs: number) {
    this.pairs = pairs;
    this.buf = new Array(pairs * 2);
  }
}

/** Every empty queue's segment (an idle actor allocates none); never written to. */
const EMPTY = new Segment(0);

/** The size of a new segment when `len` pairs are queued: the queue's capacity about doubles. */
function pairsFor(len: number): number {
  if (len <= FIRST_PAIRS) return FIRST_PAIRS;
  return len >= MAX_PAIRS ? MAX_PAIRS : 1 << (32 - Math.clz32(len - 1));
}

/**
 * A queue of (message, envelope) pairs, stored interleaved in a chain of
 * segments (the shape of Node's own `FixedQueue`), so that a plain `tell`
 * allocates nothing per message, growing never copies what is queued, and a
 * drained burst gives its segments back to the collector.
 * @internal
 */
export class Mailbox {
  private head: Segment = EMPTY;
  private tail: Segment = EMPTY;
  /** The last segment read to its end, kept for the next append (a queue that never empties allocates nothing). */
  private spare: Segment | undefined = undefined;
  private len = 0;
  /** Deepest the queue has been. */
  highWater = 0;

  get size(): number {
    return this.len;
  }

  push(message: unknown, envelope: unknown): void {
    let t = this.tail;
    if (t.w === t.pairs) t = this.append();
    const i = t.w++ << 1;
    t.buf[i] = message;
    t.buf[i + 1] = envelope;
    if (++this.len > this.highWater) this.highWater = this.len;
  }

  /** Put a pair back at the front (used by unstash). */
  unshift(message: unknown, envelope: unknown): void {
    let h = this.head;
    if (h.r === 0) {
      if (h === EMPTY) {
        h = this.head = this.tail = new Segment(FIRST_PAIRS);
        h.r = h.w = h.pairs;
      } else if (this.len === 0) {
        h.r = h.w = h.pairs;
      } else {
        const seg = new Segment(pairsFor(this.len));
        seg.r = seg.w = seg.pairs;
        seg.next = h;
        h.prev = seg;
        this.head = h = seg;
      }
    }
    const i = --h.r << 1;
    h.buf[i] = message;
    h.buf[i + 1] = envelope;
    if (++this.len > this.highWater) this.highWater = this.len;
  }

  /** The message at the front; call only when `size > 0`. */
  peekMessage(): unknown {
    const h = this.head;
    return h.buf[h.r << 1];
  }

  peekEnvelope(): unknown {
    const h = this.head;
    return h.buf[(h.r << 1) + 1];
  }

  /** Drop the front pair (after reading it with the peeks). */
  shift(): void {
    if (this.len === 0) return;
    const h = this.head;
    const i = h.r++ << 1;
    h.buf[i] = undefined;
    h.buf[i + 1] = undefined;
    this.len--;
    if (h.r === h.w) {
      const next = h.next;
      if (next !== undefined) {
        next.prev = undefined;
        h.next = undefined;
        h.r = h.w = 0;
        this.spare = h;
        this.head = next;
      } else if (h.pairs > KEEP_PAIRS) {
        this.reset();
      } else {
        h.r = h.w = 0;
        if (this.spare !== undefined && this.spare.pairs > KEEP_PAIRS) this.spare = undefined;
      }
    }
  }

  /** Drop the last pair (the newest). */
  pop(): void {
    if (this.len === 0) return;
    const t = this.tail;
    const i = --t.w << 1;
    t.buf[i] = undefined;
    t.buf[i + 1] = undefined;
    this.len--;
    if (t.w === t.r) {
      const prev = t.prev;
      if (prev !== undefined) {
        prev.next = undefined;
        this.tail = prev;
      } else if (t.pairs > KEEP_PAIRS) {
        this.reset();
      } else {
        t.r = t.w = 0;
      }
    }
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
    const out: unknown[] = [];
    for (let s: Segment | undefined = this.head; s !== undefined; s = s.next) {
      for (let k = s.r; k < s.w; k++) out.push(s.buf[k << 1], s.buf[(k << 1) + 1]);
    }
    this.reset();
    return out;
  }

  private reset(): void {
    this.head = this.tail = EMPTY;
    this.spare = undefined;
    this.len = 0;
  }

  /** A new tail segment: the spare if it is big enough, else one sized by {@link pairsFor}. */
  private append(): Segment {
    const t = this.tail;
    if (t === EMPTY) return (this.head = this.tail = new Segment(FIRST_PAIRS));
    const want = pairsFor(this.len);
    let seg = this.spare;
    if (seg !== undefined && seg.pairs >= want) this.spare = undefined;
    else seg = new Segment(want);
    seg.prev = t;
    t.next = seg;
    this.tail = seg;
    return seg;
  }
}
