import { describe } from './errors.js';
import type { MailboxOptions } from './Mailbox.js';
import { SupervisionStrategy } from './SupervisionStrategy.js';
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

const spawnKeys = ['name', 'input', 'mailbox', 'supervision'];
const workerKeys = [...spawnKeys, 'host'];

/**
 * Check spawn options at the door, naming the option and the fix: an unknown
 * key (a typo would otherwise be ignored), a `supervision` that is not a
 * strategy (`'restart'` would fail only at the first failure, and take the
 * system down with it), a `mailbox` that is not an object. Names, mailbox
 * fields and the host index are checked where they are used.
 * @internal
 */
export function validateSpawnOptions(options: unknown, where: string, worker: boolean): void {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`${where}: options must be an object, got ${shown(options)}`);
  }
  const known = worker ? workerKeys : spawnKeys;
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      const hint = key === 'host' ? ' (host is an option of spawnWorker)' : '';
      throw new TypeError(`${where}: unknown option '${key}'${hint}; the options are ${known.join(', ')}`);
    }
  }
  const { supervision, mailbox } = options as SpawnOptions<unknown>;
  if (supervision !== undefined && !(supervision instanceof SupervisionStrategy)) {
    throw new TypeError(
      `${where}: supervision must be a SupervisionStrategy, built with restart(), resume(), stop(), escalate() or decide(fn) ` +
        `(e.g. supervision: restart().withLimit(3, 5_000)), got ${shown(supervision)}`,
    );
  }
  if (mailbox !== undefined && (mailbox === null || typeof mailbox !== 'object')) {
    throw new TypeError(
      `${where}: mailbox must be an object such as { capacity: 100, overflow: 'backpressure' }, got ${shown(mailbox)}`,
    );
  }
}

/** A value as it would be written in code: strings quoted. */
function shown(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : describe(value);
}
