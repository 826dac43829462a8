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
    const failed = (error: unknown, how: string, line: string) => {
      if (reported) return;
      reported = true;
      process.emitWarning(
        `Troupe: the logger's ${level}() ${how} (${describe(error)}); the runtime ignored it, and ignores its ` +
          'further failures. The line it was given: ' +
          line,
        { code: 'TROUPE_LOGGER_FAILED' },
      );
    };
    contained[level] = (line, fields) => {
      try {
        // An async logger's rejection is its failure too (else an unhandled rejection ends the process).
        const result: unknown = logger[level](line, fields);
        if (isThenable(result)) result.then(undefined, (error: unknown) => failed(error, 'rejected', line));
      } catch (error) {
        failed(error, 'threw', line);
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
  const failed = (error: unknown, how: string) => {
    if (reportedOnce.has(fn)) return;
    reportedOnce.add(fn);
    report(`${what} ${how}: ${describe(error)}; the runtime ignored it (reported once per listener)`);
  };
  try {
    const result = fn(...args);
    if (isThenable(result)) result.then(undefined, (error: unknown) => failed(error, 'rejected'));
  } catch (error) {
    failed(error, 'threw');
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  try {
    return (
      value !== null &&
      (typeof value === 'object' || typeof value === 'function') &&
      typeof (value as { then?: unknown }).then === 'function'
    );
  } catch {
    return false;
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
