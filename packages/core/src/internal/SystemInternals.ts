import type { EventEmitter } from 'eventemitter3';
import type { ActorSystem } from '../ActorSystem.js';
import type { Clock } from '../Clock.js';
import type { DeadLetters } from '../DeadLetters.js';
import type { Logger } from '../Logger.js';
import type { WorkerSpawnOptions } from '../SpawnOptions.js';
import type { SupervisionStrategy } from '../SupervisionStrategy.js';
import type { SystemEventMap } from '../SystemEvents.js';
import type { WorkerActorSpec } from '../WorkerActor.js';
import type { ActorCell } from './ActorCell.js';
import type { AskRegistry } from './Asks.js';
import type { RefProvider } from './RefProvider.js';

/**
 * The runtime internals every cell of one runtime shares: the main thread's
 * system, or the bare runtime inside a worker thread (no facade, no tree root).
 * @internal
 */
export interface SystemInternals {
  /** The system facade; absent inside a worker thread, where there is no system. */
  readonly facade: ActorSystem | undefined;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly random: () => number;
  readonly events: EventEmitter<SystemEventMap>;
  readonly deadLetters: DeadLetters;
  readonly asks: AskRegistry;
  /** What every ref of this runtime asks about any other ref: local cells, remote actors, links. */
  readonly provider: RefProvider;
  readonly askTimeoutMs: number;
  readonly stopTimeoutMs: number;
  readonly defaultStrategy: SupervisionStrategy;
  /** False once shutdown has closed intake. */
  intakeOpen: boolean;
  /** The cell whose code is running synchronously right now (its sends are internal). */
  currentCell: ActorCell | undefined;
  /** Counts messages refused because intake was closed. */
  refusedDuringShutdown: number;
  /** Messages processed by actors that have since stopped. */
  retiredProcessed: number;
  /** A failure escalated past the top guardian. */
  rootFailed(cell: ActorCell, error: unknown): void;
  /** An actor's stop did not finish within `stopTimeoutMs`. */
  stopTimedOut(cell: ActorCell, what: string): void;
  /** Spawn a worker-thread actor under `parent` (main thread only). */
  spawnWorker?(parent: ActorCell, spec: WorkerActorSpec, options: WorkerSpawnOptions<unknown> | undefined): ActorCell;
}

/** Anything that can settle a reply: an ask, or a reply that goes back over a link. @internal */
export interface ReplyTarget {
  readonly settled: boolean;
  resolve(value: unknown): boolean;
  reject(error: unknown): boolean;
}

/**
 * Hooks by which a cell that stands for an actor living elsewhere (a proxy)
 * learns of supervision decisions its definition cannot see.
 * @internal
 */
export interface RemoteAdapter {
  /** The parent resumed the proxy after a failure: resume the real actor too. */
  resumed(): void;
  /** The proxy is stopping: stop the real actor (its hooks run where it lives), even if it never finished starting. */
  stop(): Promise<void>;
  /** An ancestor of the proxy was suspended (true) or runs again (false): hold or release the real actor too. */
  held(on: boolean): void;
  /** Messages sent to the real actor that it has not taken yet (plus one while it is busy): drain waits for them. */
  readonly outstanding: number;
  /** The proxy is being stopped: give up any wait (a message waiting for credit is dead-lettered). */
  interrupt(): void;
}

/**
 * Hooks of a cell hosted for a supervisor on the far side of a link: it has
 * no parent here, so its start and its failures are reported over the link.
 * @internal
 */
export interface HostedHooks {
  /** The actor entered Running (at start and after each restart). */
  running(): void;
  /** The actor failed; it is suspended until its remote supervisor decides. */
  failed(error: unknown): void;
  /** The actor ended a turn (it took messages from its mailbox): time to report what it consumed. */
  progress(): void;
}
