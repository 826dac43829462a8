import type { TerminationReason } from './ActorRef.js';
import type { DeadLetter } from './DeadLetters.js';
import type { OverflowPolicy } from './Mailbox.js';
import type { Directive } from './SupervisionStrategy.js';

/**
 * Everything the system announces on `system.events` (an eventemitter3 bus).
 *
 * @example
 * system.events.on('failed', (e) => log.warn(`${e.path} failed: ${e.error}`));
 */
export interface SystemEventMap {
  spawned: [event: { path: string; id: string }];
  started: [event: { path: string; id: string }];
  restarted: [event: { path: string; id: string; error: unknown; restarts: number; delayMs: number }];
  stopped: [event: { path: string; id: string; reason: TerminationReason }];
  failed: [event: { path: string; id: string; error: unknown; directive: Directive }];
  deadLetter: [letter: DeadLetter];
  mailboxOverflow: [event: { path: string; capacity: number; policy: OverflowPolicy; messageType: string }];
  /** The system's lifecycle state changed (see `ActorSystem.state`). */
  lifecycle: [event: { state: string }];
  /** A hosted xstate machine emitted a snapshot. */
  snapshot: [event: { path: string; snapshot: unknown }];
}

/** Names of system events. */
export type SystemEventName = keyof SystemEventMap;
