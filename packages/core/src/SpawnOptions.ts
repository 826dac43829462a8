import type { MailboxOptions } from './Mailbox.js';
import type { SupervisionStrategy } from './SupervisionStrategy.js';

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
