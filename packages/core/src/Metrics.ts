/** A snapshot of one actor's counters. */
export interface ActorMetrics {
  path: string;
  id: string;
  /** Messages handled successfully. */
  processed: number;
  /** Messages whose handling threw (plus failed inits). */
  failed: number;
  restarts: number;
  mailboxDepth: number;
  /** Deepest the mailbox has been. */
  mailboxHighWater: number;
  /**
   * Handling time in milliseconds, from a sample of messages (one in
   * `sampleEvery`, the last 512 samples): timing every message would cost more
   * than a fast actor's handling itself.
   */
  handlingMs: { mean: number; p50: number; p99: number; samples: number };
}
