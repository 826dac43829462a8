import { EventEmitter } from 'eventemitter3';
import { describe } from '../errors.js';
import type { Logger } from '../Logger.js';

/*
 * A logger, an event listener or a lifecycle subscriber is someone else's
 * code that the runtime calls in the middle of its own work (a supervision
 * decision, a dead letter, a shutdown phase). If it throws, the runtime must
 * go on exactly as if it had not: the failure is contained here, and reported
 * once per collaborator (a logger that fails on every call must not flood).
 */

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/**
 * Wrap `logger` so that a method that throws never reaches the runtime. The
 * first failure is reported once through Node's process warnings (the
 * logger itself cannot be trusted with it); later ones are dropped.
 * @internal
 */
export function containLogger(logger: Logger): Logger {
  let reported = false;
  const contained = {} as Logger;
  for (const level of LEVELS) {
    contained[level] = (message, fields) => {
      try {
        logger[level](message, fields);
      } catch (error) {
        if (reported) return;
        reported = true;
        process.emitWarning(
          `Troupe: the logger's ${level}() threw (${describe(error)}); the runtime ignored it, and ignores its ` +
            'further failures. The line it was given: ' +
            message,
          { code: 'TROUPE_LOGGER_FAILED' },
        );
      }
    };
  }
  return Object.freeze(contained);
}

/**
 * Call a collaborator, containing what it throws; `report` is told once per
 * collaborator function.
 * @internal
 */
export function callContained<A extends unknown[]>(
  fn: (...args: A) => unknown,
  args: A,
  what: string,
  report: (line: string) => void,
): void {
  try {
    fn(...args);
  } catch (error) {
    if (reportedOnce.has(fn)) return;
    reportedOnce.add(fn);
    report(`${what} threw: ${describe(error)}; the runtime ignored it (reported once per listener)`);
  }
}
const reportedOnce = new WeakSet<Function>();

/** One listener record of eventemitter3 (its internal shape, stable across v4 and v5). */
interface ListenerRecord {
  fn: (...args: unknown[]) => unknown;
  context: unknown;
  once: boolean;
}

/**
 * The system's event bus: an eventemitter3 emitter whose listeners each run
 * contained, so one that throws neither breaks the runtime code that emitted
 * nor keeps the other listeners from hearing the event.
 * @internal
 */
export class ContainedEmitter<T extends EventEmitter.ValidEventTypes> extends EventEmitter<T> {
  /** Where a failing listener is reported (set once the logger exists). */
  report: (line: string) => void = () => {};

  override emit<E extends EventEmitter.EventNames<T>>(event: E, ...args: EventEmitter.EventArgs<T, E>): boolean {
    const all = (this as unknown as { _events: Record<string | symbol, ListenerRecord | ListenerRecord[]> })._events;
    const found = all?.[event as string | symbol];
    if (found === undefined) return false;
    // A snapshot: listeners added or removed by a listener take effect from the next emit.
    const records = Array.isArray(found) ? found.slice() : [found];
    for (const r of records) {
      if (r.once) this.removeListener(event, r.fn as never, undefined, true);
      try {
        r.fn.apply(r.context, args as unknown[]);
      } catch (error) {
        if (reportedOnce.has(r.fn)) continue;
        reportedOnce.add(r.fn);
        this.report(
          `a listener of the '${String(event)}' event threw: ${describe(error)}; the runtime ignored it (reported once per listener)`,
        );
      }
    }
    return true;
  }
}
