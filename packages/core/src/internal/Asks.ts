import type { Clock } from '../Clock.js';
import { AskAbortedError, AskTimeoutError } from '../errors.js';

/**
 * One outstanding ask: the promise's settle functions plus what an error
 * message needs. It is also the "reply address" stored beside the message in
 * the receiver's mailbox.
 *
 * Timeouts do not use one Node timer per ask (setTimeout + clearTimeout would
 * cost more than the whole round trip). Asks with the same timeout are kept in a
 * FIFO, which is therefore ordered by deadline; one timer per timeout value
 * watches the head. Settled asks leave the FIFO from the head at once, and the
 * FIFO is compacted when settled entries pile up behind a slow one, so memory
 * stays proportional to the asks actually outstanding.
 *
 * Nor does an ask read the clock, when the clock can say when a turn ends
 * (`Clock.endOfTurn`; the system clock can): the asks made in one event-loop
 * turn are stamped together when it ends, with one clock read, so each one's
 * timeout counts from the end of the turn it was made in. Never early; late by
 * at most that turn's length (a timer cannot fire inside a turn anyway). An
 * unstamped ask's deadline is `Infinity`, which no timer finds due.
 */
/** The link whose table of asks awaiting a reply holds a record (see {@link AskRecord.linkedTo}). @internal */
export interface AskLink {
  /** The ask settled otherwise (timed out, aborted, rejected at shutdown): drop its entry. */
  forget(replyId: number): void;
}

export class AskRecord {
  settled = false;
  /** The asker's promise (set by the registry). */
  promise!: Promise<unknown>;
  /** When it times out; `Infinity` until the end of the turn it was made in stamps it. */
  deadline = Number.POSITIVE_INFINITY;
  /** The queue holding this record, for eager removal. */
  queue: TimeoutQueue | undefined = undefined;
  abortSignal: AbortSignal | undefined = undefined;
  onAbort: (() => void) | undefined = undefined;
  /** The link the ask went over, while its entry there waits for a reply; and the ask's reply id on it. */
  private link: AskLink | undefined = undefined;
  replyId = 0;

  constructor(
    readonly registry: AskRegistry,
    readonly target: string,
    readonly messageType: string,
    readonly timeoutMs: number,
    private readonly res: (value: unknown) => void,
    private readonly rej: (error: unknown) => void,
  ) {}

  /**
   * The record is its own entry in a link's table of asks waiting for a reply
   * (see `Link`): the reply address, and the target and message type its
   * errors name. One object per ask instead of two.
   */
  get replyTo(): this {
    return this;
  }

  get path(): string {
    return this.target;
  }

  get type(): string {
    return this.messageType;
  }

  /**
   * The ask went over `link` as `replyId`: when it settles by anything but
   * that link's answer, the link drops its entry (or an ask that is never
   * answered, after its timeout, would be held there for good).
   */
  linkedTo(link: AskLink, replyId: number): void {
    this.link = link;
    this.replyId = replyId;
  }

  /** The link settles it (an answer, or the link's own failure): it has dropped the entry already. */
  unlink(): void {
    this.link = undefined;
  }

  /** Resolve; false if already settled (a late reply). */
  resolve(value: unknown): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.cleanup();
    this.res(value);
    return true;
  }

  reject(error: unknown): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.cleanup();
    this.rej(error);
    return true;
  }

  private cleanup(): void {
    this.registry.outstanding--;
    const link = this.link;
    if (link !== undefined) {
      this.link = undefined;
      link.forget(this.replyId);
    }
    if (this.onAbort !== undefined) this.abortSignal?.removeEventListener('abort', this.onAbort);
    this.queue?.settledOne();
  }
}

/** How long an emptied queue's timer stays ref'd at least (and, while asks come and go, at most twice this). */
const UNREF_CHECK_MS = 20;

/** Asks that share one timeout value, in deadline order. */
export class TimeoutQueue {
  private items: AskRecord[] = [];
  private head = 0;
  private settledCount = 0;
  private timer: unknown = undefined;
  /** The timer is kept while the queue is empty (re-arming one per ask would cost more than the ask). */
  private idle = false;
  /**
   * ...and unref'd once the queue has stayed empty for a check period, so an
   * idle system does not hold the process open (for longer than that). Not
   * at each emptying, nor at the end of each turn: an ask loop empties and
   * refills the queue once per ask, and to a worker thread each ask spans an
   * event-loop turn, so a check at the end of the turn was a `setImmediate`
   * per ask, and an extra event-loop pass (about 10% of a ping-pong round
   * trip, measured). One unref'd check timer per period instead, which
   * unrefs only if no ask came since it was set.
   */
  private unrefd = false;
  private unrefCheck: NodeJS.Timeout | undefined = undefined;
  /** Times the queue went from empty to busy (what the check compares). */
  private wakeups = 0;
  private wakeupsAtCheck = 0;
  private readonly unrefBound = () => this.unrefIfIdle();
  /** Cancels the stamp of this turn's asks, while one is scheduled (`Clock.endOfTurn`). */
  private stampPending: (() => void) | undefined = undefined;
  private readonly stampBound = () => this.stamp();

  constructor(
    private readonly clock: Clock,
    private readonly timeoutMs: number,
    private readonly onEmpty: (q: TimeoutQueue) => void,
  ) {}

  push(record: AskRecord): void {
    record.queue = this;
    this.items.push(record);
    if (this.clock.endOfTurn !== undefined) {
      this.stampPending ??= this.clock.endOfTurn(this.stampBound);
    } else {
      record.deadline = this.clock.now() + this.timeoutMs;
      if (this.timer === undefined) this.arm(record.deadline);
    }
    if (this.timer !== undefined && this.idle) {
      this.idle = false;
      this.wakeups++;
      if (this.unrefd) {
        this.unrefd = false;
        this.clock.ref?.(this.timer);
      }
    }
  }

  /** Called by a record when it settles. */
  settledOne(): void {
    this.settledCount++;
    const items = this.items;
    while (this.head < items.length && (items[this.head] as AskRecord).settled) {
      items[this.head++] = undefined as unknown as AskRecord;
      this.settledCount--;
    }
    if (this.head === items.length) {
      // Keep appending behind the cleared slots; a fresh array now and then is
      // far cheaper than `items.length = 0` per emptying (measured: ~3% of an ask).
      if (this.head >= 1024) {
        this.items = [];
        this.head = 0;
      }
      this.settledCount = 0;
      // Re-arming a Node timer per ask would cost more than the round trip
      // itself, so an emptied queue keeps its timer (unref'd once it stays
      // idle for a check period); it fires once, finds nothing due and is dropped
      // (or re-armed for a newer head).
      if (this.clock.unref !== undefined && this.timer !== undefined) {
        this.idle = true;
        if (this.unrefCheck === undefined && !this.unrefd) this.scheduleUnrefCheck();
      } else if (this.stampPending === undefined) {
        // (With a stamp pending the queue stays: the next ask of this turn
        // reuses it, and the stamp disposes of it if it is still empty.)
        this.dispose();
      }
    } else if (this.settledCount > 256 && this.settledCount * 2 > items.length - this.head) {
      this.items = items.slice(this.head).filter((r) => !r.settled);
      this.head = 0;
      this.settledCount = 0;
    } else if (this.head > 4096 && this.head * 2 > items.length) {
      this.items = items.slice(this.head);
      this.head = 0;
    }
  }

  /**
   * The end of a turn in which asks were made: one clock read gives every ask
   * still unstamped (the tail of the FIFO) its deadline, and arms the timer if
   * none is.
   */
  private stamp(): void {
    this.stampPending = undefined;
    const items = this.items;
    if (this.head === items.length) {
      // Every ask of the turn settled within it (the common case): nothing to time.
      if (this.timer === undefined) this.dispose();
      return;
    }
    const deadline = this.clock.now() + this.timeoutMs;
    for (let i = items.length - 1; i >= this.head; i--) {
      const r = items[i] as AskRecord;
      if (r.deadline !== Number.POSITIVE_INFINITY) break;
      r.deadline = deadline;
    }
    if (this.timer === undefined) this.arm((items[this.head] as AskRecord).deadline);
  }

  private scheduleUnrefCheck(): void {
    this.wakeupsAtCheck = this.wakeups;
    this.unrefCheck = setTimeout(this.unrefBound, UNREF_CHECK_MS);
    this.unrefCheck.unref();
  }

  private unrefIfIdle(): void {
    this.unrefCheck = undefined;
    if (!this.idle || this.unrefd || this.timer === undefined) return;
    // Asks came and went since the check was set: still in use, look again later.
    if (this.wakeups !== this.wakeupsAtCheck) {
      this.scheduleUnrefCheck();
      return;
    }
    this.unrefd = true;
    this.clock.unref?.(this.timer);
  }

  /** Reject every unsettled ask with `makeError`. */
  rejectAll(makeError: (r: AskRecord) => unknown): void {
    const pending = this.items.slice(this.head).filter((r) => !r.settled);
    for (const r of pending) r.reject(makeError(r));
  }

  /** Drop the timer (the queue is empty or the system is ending). */
  dispose(): void {
    if (this.timer !== undefined) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.idle = false;
    this.unrefd = false;
    if (this.unrefCheck !== undefined) {
      clearTimeout(this.unrefCheck);
      this.unrefCheck = undefined;
    }
    if (this.stampPending !== undefined) {
      this.stampPending();
      this.stampPending = undefined;
    }
    if (this.head === this.items.length) this.onEmpty(this);
  }

  private arm(deadline: number): void {
    this.idle = false;
    this.unrefd = false;
    this.timer = this.clock.setTimeout(() => this.fire(), Math.max(0, deadline - this.clock.now()));
  }

  private fire(): void {
    this.timer = undefined;
    this.idle = false;
    this.unrefd = false;
    const now = this.clock.now();
    // Expire everything due; each reject() pops settled heads via settledOne().
    while (this.head < this.items.length) {
      const r = this.items[this.head] as AskRecord;
      if (r.settled) {
        this.head++;
        this.settledCount--;
        continue;
      }
      if (r.deadline > now) break;
      r.reject(new AskTimeoutError(r.target, r.timeoutMs, r.messageType));
    }
    if (this.head < this.items.length) {
      const next = (this.items[this.head] as AskRecord).deadline;
      // An unstamped head is timed by the stamp at the end of its turn.
      if (this.timer === undefined && next !== Number.POSITIVE_INFINITY) this.arm(next);
    } else if (this.stampPending === undefined) {
      this.dispose();
    }
  }
}

/** All outstanding asks of a system. @internal */
export class AskRegistry {
  outstanding = 0;
  private readonly queues = new Map<number, TimeoutQueue>();
  /** The queue of the last timeout used: nearly every ask of a system uses the same one. */
  private lastTimeout = -1;
  private lastQueue: TimeoutQueue | undefined = undefined;

  private nextResolve: ((value: unknown) => void) | undefined = undefined;
  private nextReject: ((error: unknown) => void) | undefined = undefined;
  private readonly executor = (resolve: (value: unknown) => void, reject: (error: unknown) => void): void => {
    this.nextResolve = resolve;
    this.nextReject = reject;
  };

  constructor(private readonly clock: Clock) {}

  /**
   * Create an ask. Returns its record (the asker's promise is `record.promise`),
   * or only a rejected promise when `signal` was already aborted (nothing must
   * then be sent). No wrapper object: this runs once per ask.
   */
  create(
    target: string,
    messageType: string,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): AskRecord | Promise<never> {
    if (signal?.aborted) {
      return Promise.reject(new AskAbortedError(target, messageType, signal.reason));
    }
    // One executor for every ask (no closure and context per ask): it leaves
    // the settle functions here, and the record takes them at once.
    const promise = new Promise<unknown>(this.executor);
    const record = new AskRecord(
      this,
      target,
      messageType,
      timeoutMs,
      this.nextResolve as (value: unknown) => void,
      this.nextReject as (error: unknown) => void,
    );
    this.nextResolve = undefined;
    this.nextReject = undefined;
    record.promise = promise;
    this.outstanding++;
    let q = this.lastTimeout === timeoutMs ? this.lastQueue : this.queues.get(timeoutMs);
    if (q === undefined) {
      q = new TimeoutQueue(this.clock, timeoutMs, (empty) => {
        if (this.queues.get(timeoutMs) === empty) this.queues.delete(timeoutMs);
        if (this.lastQueue === empty) {
          this.lastQueue = undefined;
          this.lastTimeout = -1;
        }
      });
      this.queues.set(timeoutMs, q);
    }
    this.lastTimeout = timeoutMs;
    this.lastQueue = q;
    q.push(record);
    if (signal !== undefined) {
      record.abortSignal = signal;
      record.onAbort = () => record.reject(new AskAbortedError(target, messageType, signal.reason));
      signal.addEventListener('abort', record.onAbort, { once: true });
    }
    return record;
  }

  /** Reject every outstanding ask (at the end of shutdown: none may hang). */
  rejectAll(makeError: (r: AskRecord) => unknown): number {
    const before = this.outstanding;
    for (const q of [...this.queues.values()]) q.rejectAll(makeError);
    return before - this.outstanding;
  }

  /** Clear every timer (after shutdown, so no handle is left behind). */
  dispose(): void {
    for (const q of [...this.queues.values()]) q.dispose();
    this.queues.clear();
    this.lastQueue = undefined;
    this.lastTimeout = -1;
  }
}
