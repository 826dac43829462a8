import type { MailboxOptions } from './Mailbox.js';
import type { SupervisionStrategy } from './SupervisionStrategy.js';
import type { Placement } from './WorkerActor.js';

/** Options of `spawn`. */
export interface SpawnOptions<I = unknown> {
  /** Unique among siblings; default an anonymous `$n`. */
  name?: string;
  /** Handed to `init` as `ctx.input`. */
  input?: I;
  /** Overrides the definition's mailbox. */
  mailbox?: MailboxOptions;
  /** How the parent supervises this child; default the parent's `childSupervision`, else {@link defaultStrategy}. */
  supervision?: SupervisionStrategy;
}

/** Options of `spawnWorker`: those of `spawn`, plus the host thread. */
export interface WorkerSpawnOptions<I = unknown> extends SpawnOptions<I> {
  /** A host index, or `'least-loaded'` (default). */
  host?: Placement;
}
