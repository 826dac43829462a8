import { EventEmitter } from 'eventemitter3';
import { type Clock, systemClock } from '../Clock.js';
import { DeadLetters, typeOf } from '../DeadLetters.js';
import { consoleLogger, type Logger } from '../Logger.js';
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
  logger?: Logger;
  clock?: Clock;
  askTimeoutMs?: number;
  stopTimeoutMs?: number;
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
 * link (the far side routes it), and dead letters are recorded on the far
 * side too.
 * @internal
 */
export function startHostRuntime(transport: Transport, options: HostRuntimeOptions): HostRuntime {
  const events = new EventEmitter<SystemEventMap>();
  const logger = options.logger ?? consoleLogger('warn');
  const clock = options.clock ?? systemClock;
  const provider = new RefProvider(options.address);
  const internals: SystemInternals = {
    facade: undefined,
    clock,
    logger,
    random: Math.random,
    events,
    deadLetters: new DeadLetters(events, logger, () => clock.now()),
    asks: new AskRegistry(clock),
    provider,
    askTimeoutMs: options.askTimeoutMs ?? 5_000,
    stopTimeoutMs: options.stopTimeoutMs ?? 5_000,
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
  const link = new Link(transport, internals, nodeLinkPolicy, undefined);
  provider.upstream = link;
  const host = new Host(link, internals);
  events.on('deadLetter', (d) => link.control(Op.DeadLetter, d.recipient, typeOf(d.message), d.reason));
  return { internals, link, host };
}
