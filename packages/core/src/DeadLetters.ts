import type { EventEmitter } from 'eventemitter3';
import type { Logger } from './Logger.js';
import type { SystemEventMap } from './SystemEvents.js';

/** Why a message was not delivered. */
export type DeadLetterReason =
  | 'actor-stopped'
  | 'unknown-actor'
  | 'mailbox-full'
  | 'shutting-down'
  | 'late-reply'
  | 'no-reply-address'
  | 'unserializable'
  /** The worker thread hosting the recipient died before its actor took the message. */
  | 'worker-exited'
  /** The link to the recipient's node was down: nothing was sent, or the message may not have arrived. */
  | 'disconnected'
  /** The link to the recipient's node closed for good before the message was acknowledged. */
  | 'link-closed';

/** A message that could not be delivered, and why. */
export interface DeadLetter {
  /** Path of the intended recipient. */
  readonly recipient: string;
  readonly message: unknown;
  readonly reason: DeadLetterReason;
  /** Milliseconds on the system clock. */
  readonly at: number;
}

/**
 * The record of every undelivered message: counts by reason, the most recent
 * letters, a `deadLetter` event for each, and a rate-limited log line (the first
 * ten, then one line per thousand) so a flood cannot drown the log.
 */
export class DeadLetters {
  private readonly recentLetters: DeadLetter[] = [];
  private readonly counts = new Map<DeadLetterReason, number>();
  private totalCount = 0;

  /** @internal */
  constructor(
    private readonly events: EventEmitter<SystemEventMap>,
    private readonly logger: Logger,
    private readonly now: () => number,
    /** How many recent letters to keep. */
    readonly keep = 1000,
  ) {}

  /** Record an undelivered message (actors that route or buffer use this too: nothing may vanish silently). */
  record(recipient: string, message: unknown, reason: DeadLetterReason): void {
    const letter: DeadLetter = { recipient, message, reason, at: this.now() };
    this.totalCount++;
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
    if (this.recentLetters.length >= this.keep) this.recentLetters.shift();
    this.recentLetters.push(letter);
    if (this.totalCount <= 10 || this.totalCount % 1000 === 0) {
      this.logger.debug(`dead letter #${this.totalCount} to ${recipient} (${reason})`, {
        messageType: typeOf(message),
      });
    }
    this.events.emit('deadLetter', letter);
  }

  /** Total number of dead letters since start. */
  get total(): number {
    return this.totalCount;
  }

  /** Number of dead letters with `reason`. */
  count(reason?: DeadLetterReason): number {
    return reason === undefined ? this.totalCount : (this.counts.get(reason) ?? 0);
  }

  /** Counts by reason. */
  byReason(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }

  /** The most recent letters, oldest first. */
  recent(): readonly DeadLetter[] {
    return [...this.recentLetters];
  }
}

/** The `type` of a message, or a description for non-messages. */
export function typeOf(message: unknown): string {
  if (message !== null && typeof message === 'object' && typeof (message as { type?: unknown }).type === 'string') {
    return (message as { type: string }).type;
  }
  return message === null ? 'null' : typeof message;
}
