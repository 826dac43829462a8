/**
 * `@troupe/core`: the Troupe actor runtime.
 *
 * @example
 * import { ActorSystem, defineActor } from '@troupe/core';
 *
 * type Msg = { type: 'inc' } | { type: 'get' };
 * const Counter = defineActor<Msg, number>({
 *   init: () => 0,
 *   receive: (n, msg, ctx) => (msg.type === 'inc' ? n + 1 : ctx.reply(n)),
 * });
 * const system = await ActorSystem.start({ name: 'app' });
 * const counter = system.spawn(Counter, { name: 'counter' });
 * counter.tell({ type: 'inc' });
 * console.log(await counter.ask({ type: 'get' })); // 1
 * await system.shutdown();
 */
export type { ActorContext, Receive, Replier, Timers } from './ActorContext.js';
export { type ActorDefinition, defineActor } from './ActorDefinition.js';
export type { ActorRef, AskOptions, Message, TellOptions, Terminated, TerminationReason } from './ActorRef.js';
export {
  ActorSystem,
  type ActorSystemOptions,
  type ConnectOptions,
  type Remoting,
  type ShutdownOptions,
} from './ActorSystem.js';
export { type Clock, systemClock } from './Clock.js';
export { type DeadLetter, type DeadLetterReason, DeadLetters } from './DeadLetters.js';
export {
  ActorNameTakenError,
  ActorNotFoundError,
  ActorStoppedError,
  AskAbortedError,
  AskTimeoutError,
  DeathPactError,
  DisconnectedError,
  deserializeError,
  EscalatedError,
  IllegalTransitionError,
  MailboxFullError,
  NotDeliveredError,
  NotMainThreadError,
  RestartLimitExceededError,
  registerError,
  type SerializedError,
  ShuttingDownError,
  StashOverflowError,
  SystemAlreadyStartedError,
  serializeError,
  TroupeError,
  UnserializableMessageError,
  WorkerActorLoadError,
  WorkerExitedError,
} from './errors.js';
export { type FromMachineOptions, fromMachine, type GetSnapshot, type MachineMessage } from './fromMachine.js';
/** @internal */
export type { DefinitionLoader } from './internal/Host.js';
/** @internal The pieces a transport package builds on (see `ActorSystem.remoting`). */
export type { Link, LinkPolicy } from './internal/Link.js';
/** @internal */
export type { HostSite } from './internal/RemoteProxy.js';
/** @internal */
export type { NodeAddress, WireRef } from './internal/wire.js';
export { consoleLogger, type Logger, type LogLevel, silentLogger } from './Logger.js';
export type { MailboxOptions, OverflowPolicy } from './Mailbox.js';
export type { ActorMetrics } from './Metrics.js';
export {
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_PHASE_TIMEOUT,
  formatShutdownReport,
  type PhaseReport,
  type ShutdownCause,
  type ShutdownPhase,
  type ShutdownReport,
  shutdownPhases,
} from './ShutdownReport.js';
export type { SpawnOptions, WorkerSpawnOptions } from './SpawnOptions.js';
export {
  type BackoffOptions,
  type Directive,
  decide,
  defaultStrategy,
  escalate,
  type RestartLimit,
  restart,
  resume,
  type SupervisionScope,
  SupervisionStrategy,
  stop,
} from './SupervisionStrategy.js';
export type { SystemEventMap, SystemEventName } from './SystemEvents.js';
export { type LifecycleEvent, SystemLifecycle, systemLifecycleMachine } from './SystemLifecycle.js';
/** The extension point for transports: implement {@link Transport} to carry Troupe links over something new. */
export type { Batch, Transport, TransportClosed } from './Transport.js';
export { type Placement, type WorkerActorSpec, type WorkerPoolOptions, workerActor } from './WorkerActor.js';
