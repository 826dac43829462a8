import { EventEmitter } from 'eventemitter3';
import { type Clock, systemClock } from '../Clock.js';
import { DeadLetters, typeOf } from '../DeadLetters.js';
import { type Logger, silentLogger } from '../Logger.js';
import { defaultStrategy } from '../SupervisionStrategy.js';
import type { SystemEventMap } from '../SystemEvents.js';
import type { Transport } from '../Transport.js';
import { AskRegistry } from './Asks.js';
import { Host } from './Host.js';
import { Link, nodeLinkPolicy } from './Link.js';
import { RefProvider } from './RefProvider.js';
import type { SystemInternals } from './SystemInternals.js';
import { type NodeAddress, Op } from './wire.js';

/** Options of {@link startHostRuntime}. @internal */
export interface HostRuntimeOptions {
  /** The node this runtime counts as (a worker thread: its main thread's node). */
  address: NodeAddress;
  /** Where its log lines go; default: over the link, to the far side's logger. */
  logger?: Logger;
  clock?: Clock;
  /** Default ask timeout of its actors (the far side's `askTimeoutMs`). */
  askTimeoutMs?: number;
}

/** A runtime that only hosts actors for the far side of one link. @internal */
export interface HostRuntime {
  readonly internals: SystemInternals;
  readonly link: Link;
  readonly host: Host;
}

/**
 * Start a bare runtime on `transport` that hosts actors for the proxies on
 * its far side: what a worker thread runs. There is no ActorSystem here (no
 * signals, no shutdown, no tree root): the hosted actors' supervisors are
 * their proxies, every ref that is not one of this runtime's goes up the one
 * link (the far side routes it), dead letters are recorded on the far side
 * too, and so are its log lines (through the far side's logger, so a silent
 * logger there silences the thread as well).
 *
 * Stops here have no budget of their own: the proxy's side bounds every stop
 * of a hosted actor by its `stopTimeoutMs` and reports what it abandons, so
 * a stop is decided in one place, never by two timers racing.
 * @internal
 */
export function startHostRuntime(transport: Transport, options: HostRuntimeOptions): HostRuntime {
  const events = new EventEmitter<SystemEventMap>();
  let link: Link | undefined;
  const forward =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (message: string, fields?: Record<string, unknown>): void => {
      link?.control(Op.Log, level, String(message), fields === undefined ? null : fieldsJson(fields));
    };
  const logger: Logger = options.logger ?? {
    debug: forward('debug'),
    info: forward('info'),
    warn: forward('warn'),
    error: forward('error'),
  };
  const clock = options.clock ?? systemClock;
  const provider = new RefProvider(options.address);
  const internals: SystemInternals = {
    facade: undefined,
    clock,
    logger,
    random: Math.random,
    events,
    // Dead letters are logged where they are recorded again, on the far side.
    deadLetters: new DeadLetters(events, silentLogger, () => clock.now()),
    asks: new AskRegistry(clock),
    provider,
    askTimeoutMs: options.askTimeoutMs ?? 5_000,
    stopTimeoutMs: Number.POSITIVE_INFINITY,
    defaultStrategy,
    intakeOpen: true,
    currentCell: undefined,
    refusedDuringShutdown: 0,
    retiredProcessed: 0,
    rootFailed(cell, error) {
      // Hosted actors report failures to their proxies; nothing else is a root here.
      logger.error(`${transport.label}: ${cell.path} failed with no supervisor: ${String(error)}`);
    },
    stopTimedOut(cell, what) {
      logger.warn(`${cell.path} did not finish ${what} within ${internals.stopTimeoutMs} ms; abandoning it`);
    },
  };
  provider.bind(internals);
  const up = new Link(transport, internals, nodeLinkPolicy, undefined);
  link = up;
  provider.upstream = up;
  const host = new Host(up, internals);
  events.on('deadLetter', (d) => up.control(Op.DeadLetter, d.recipient, typeOf(d.message), d.reason));
  return { internals, link: up, host };
}

function fieldsJson(fields: Record<string, unknown>): string | null {
  try {
    return JSON.stringify(fields, (_k, v) => (v instanceof Error ? `${v.name}: ${v.message}` : v)) ?? null;
  } catch {
    return null;
  }
}
