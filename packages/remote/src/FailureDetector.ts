/**
 * The heartbeat failure detector: which peer incarnations have gone quiet for too long.
 *
 * Every node publishes a heartbeat every `heartbeatIntervalMs`; the detector
 * records when each incarnation was last heard, and `check(now)` (run every
 * `checkIntervalMs`) returns those silent for more than `deadAfterMs`. A peer
 * that dies at time t sent its last heartbeat no later than t, so it is
 * declared dead by
 *
 *     t + deadAfterMs + checkIntervalMs   (+ the heartbeat's transit time)
 *
 * which is the documented detection bound (3 000 + 250 ms by default).
 *
 * Two things must not read as a dead peer:
 *
 * - **Our own connection is down** (the NATS server restarts): nobody's
 *   heartbeats can arrive. {@link FailureDetector.suspend} stops the verdicts;
 *   {@link FailureDetector.resume} restarts every peer's silence from zero.
 * - **Our own event loop stalled** (a long GC or a blocking call): the check
 *   timer then fires late, before the heartbeats waiting in the socket are
 *   read. A check that comes more than `2 x checkIntervalMs` after the previous
 *   one gives everyone a fresh start instead of a verdict.
 *
 * Time comes from an injected clock, so tests drive it by hand.
 */

export class FailureDetector {
  private readonly lastSeen = new Map<string, number>();
  private suspended = false;
  private lastCheck: number | undefined;

  constructor(
    readonly deadAfterMs: number,
    readonly checkIntervalMs: number,
  ) {}

  /** The detection bound: at most this long after a peer dies it is declared dead. */
  get boundMs(): number {
    return this.deadAfterMs + this.checkIntervalMs;
  }

  /** A heartbeat (or any sign of life) from `incarnation` at `now`. */
  heard(incarnation: string, now: number): void {
    this.lastSeen.set(incarnation, now);
  }

  /** Stop tracking (the peer left or was declared dead). */
  forget(incarnation: string): void {
    this.lastSeen.delete(incarnation);
  }

  /** When `incarnation` was last heard (clock time), or undefined when it is not tracked. */
  lastHeard(incarnation: string): number | undefined {
    return this.lastSeen.get(incarnation);
  }

  /** Is `incarnation` tracked? */
  has(incarnation: string): boolean {
    return this.lastSeen.has(incarnation);
  }

  /**
   * Checks start at `now`. Without this the first check would have no
   * previous one to measure a stall against (a process frozen right after
   * joining would declare everyone dead when it wakes).
   */
  start(now: number): void {
    this.lastCheck = now;
  }

  /** Our connection is down: no verdicts until {@link resume}. */
  suspend(): void {
    this.suspended = true;
  }

  /** Our connection is back: every peer's silence starts again at `now`. */
  resume(now: number): void {
    this.suspended = false;
    this.freshStart(now);
  }

  /** The incarnations silent for more than `deadAfterMs` at `now` (they stay tracked until {@link forget}). */
  check(now: number): string[] {
    const previous = this.lastCheck;
    this.lastCheck = now;
    if (this.suspended) return [];
    if (previous !== undefined && now - previous > 2 * this.checkIntervalMs) {
      // This process did not run for a while: the heartbeats may be waiting unread.
      this.freshStart(now);
      return [];
    }
    const dead: string[] = [];
    for (const [inc, seen] of this.lastSeen) if (now - seen > this.deadAfterMs) dead.push(inc);
    return dead;
  }

  private freshStart(now: number): void {
    for (const inc of this.lastSeen.keys()) this.lastSeen.set(inc, now);
  }
}
