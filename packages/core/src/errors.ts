/**
 * Every error Troupe raises on purpose, in one place.
 *
 * Each class has a stable `name`, keeps its `cause`, and is registered (see
 * {@link registerError}), so it survives a thread or network boundary as an
 * instance of the same class with its `code` and fields (structured clone
 * alone keeps `name`, `message`, `stack` and `cause` but drops the class and
 * custom fields such as `code`).
 */

/** Base class of every Troupe error. `code` is a stable machine-readable tag. */
export class TroupeError extends Error {
  /** Stable machine-readable identifier, e.g. `ERR_ASK_TIMEOUT`. */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
  }
}

/** An `ask` got no reply in time. */
export class AskTimeoutError extends TroupeError {
  constructor(
    readonly target: string,
    readonly timeoutMs: number,
    readonly messageType: string,
  ) {
    super(
      'ERR_ASK_TIMEOUT',
      `Ask timed out on [${target}] after [${timeoutMs} ms]. Message of type [${messageType}]. ` +
        `A typical reason is that the recipient actor didn't send a reply (ctx.reply) ` +
        `or is busy with a long-running message.`,
    );
  }
}

/** An `ask` was aborted through its `AbortSignal`. */
export class AskAbortedError extends TroupeError {
  constructor(
    readonly target: string,
    readonly messageType: string,
    reason?: unknown,
  ) {
    super('ERR_ASK_ABORTED', `Ask to [${target}] with message of type [${messageType}] was aborted.`, {
      cause: reason,
    });
  }
}

/** A bounded mailbox had no room and its policy rejects. */
export class MailboxFullError extends TroupeError {
  constructor(
    readonly target: string,
    readonly capacity: number,
    readonly messageType: string,
  ) {
    super(
      'ERR_MAILBOX_FULL',
      `Mailbox of [${target}] is full (capacity ${capacity}); message of type [${messageType}] was not enqueued. ` +
        `Slow the sender down (await ref.send(...)), raise mailbox.capacity, or add routees.`,
    );
  }
}

/** The target actor has stopped (or stopped before it could answer). */
export class ActorStoppedError extends TroupeError {
  constructor(
    readonly target: string,
    readonly messageType: string,
  ) {
    super('ERR_ACTOR_STOPPED', `Actor [${target}] is stopped; message of type [${messageType}] cannot be handled.`);
  }
}

/** No actor lives at the path that was looked up. */
export class ActorNotFoundError extends TroupeError {
  constructor(
    readonly path: string,
    readonly messageType: string,
  ) {
    super('ERR_ACTOR_NOT_FOUND', `No actor at [${path}]; message of type [${messageType}] was not delivered.`);
  }
}

/** Two children of one parent may not share a name. */
export class ActorNameTakenError extends TroupeError {
  constructor(readonly path: string) {
    super('ERR_ACTOR_NAME_TAKEN', `An actor named [${path}] already exists; sibling names must be unique.`);
  }
}

/** The system is shutting down and takes no new asks. */
export class ShuttingDownError extends TroupeError {
  constructor(
    readonly target: string,
    readonly messageType: string,
    /** What was refused: `ask`, `send`, `spawn`... */
    readonly operation = 'ask',
  ) {
    super(
      'ERR_SHUTTING_DOWN',
      `The actor system is shutting down; ${operation} to [${target}] with message of type [${messageType}] was refused. ` +
        'Inside an actor, send with ctx.tell / ctx.send / ctx.ask so the message counts as work in flight.',
    );
  }
}

/** An actor watched another one and did not handle its `Terminated` signal. */
export class DeathPactError extends TroupeError {
  constructor(
    readonly watcher: string,
    readonly terminated: string,
  ) {
    super(
      'ERR_DEATH_PACT',
      `Actor [${watcher}] watched [${terminated}], which terminated, and has no onTerminated handler. ` +
        `Define onTerminated in the actor definition or unwatch before the actor stops.`,
    );
  }
}

/** A child failed more often than its strategy's restart limit allows. */
export class RestartLimitExceededError extends TroupeError {
  constructor(
    readonly child: string,
    readonly restarts: number,
    readonly windowMs: number,
    cause: unknown,
  ) {
    super(
      'ERR_RESTART_LIMIT',
      `Actor [${child}] failed after ${restarts} restart(s) within ${windowMs} ms; giving up and escalating. ` +
        `Last error: ${describe(cause)}`,
      { cause },
    );
  }
}

/** A child escalated its failure to its parent, which failed in turn. */
export class EscalatedError extends TroupeError {
  constructor(
    readonly child: string,
    cause: unknown,
  ) {
    super('ERR_ESCALATED', `Failure escalated from [${child}]: ${describe(cause)}`, { cause });
  }
}

/** More messages were stashed than the stash capacity allows. */
export class StashOverflowError extends TroupeError {
  constructor(
    readonly actor: string,
    readonly capacity: number,
  ) {
    super('ERR_STASH_OVERFLOW', `Stash of [${actor}] is full (capacity ${capacity}); unstash before stashing more.`);
  }
}

/** `ActorSystem.start` was called off the main thread. */
export class NotMainThreadError extends TroupeError {
  constructor() {
    super(
      'ERR_NOT_MAIN_THREAD',
      'ActorSystem.start() must run on the main thread: Node delivers signals (SIGTERM, SIGINT) only to the ' +
        'main thread, so a system started in a worker could never shut down cleanly. Start the system once in ' +
        'the main thread and give worker code a reference to it instead: spawn the actor on a worker host, ' +
        'or pass ActorRefs to it by message.',
    );
  }
}

/** A second actor system was started while one is alive in this process. */
export class SystemAlreadyStartedError extends TroupeError {
  constructor(
    readonly existingName: string,
    readonly startedAt: string,
  ) {
    super(
      'ERR_SYSTEM_ALREADY_STARTED',
      `An actor system named [${existingName}] is already running in this process (started at ${startedAt}). ` +
        'Exactly one system per process: pass the existing system (or its refs) to the code that needs it, ' +
        'or await system.shutdown() before starting another.',
    );
  }
}

/** A system lifecycle transition that the statechart forbids. */
export class IllegalTransitionError extends TroupeError {
  constructor(
    readonly from: string,
    readonly event: string,
  ) {
    super('ERR_ILLEGAL_TRANSITION', `Illegal system lifecycle transition: event [${event}] in state [${from}].`);
  }
}

/** A message cannot cross a thread or network boundary. */
export class UnserializableMessageError extends TroupeError {
  constructor(
    readonly target: string,
    readonly messageType: string,
    cause: unknown,
  ) {
    // The clone hint only where cloning was what failed (not, say, a transport's size limit).
    const clone = cause instanceof Error && cause.name === 'DataCloneError';
    super(
      'ERR_UNSERIALIZABLE_MESSAGE',
      `Message of type [${messageType}] to [${target}] ${
        clone ? 'cannot be structured-cloned (functions and class instances do not cross threads)' : 'cannot be sent'
      }: ${describe(cause)}`,
      { cause },
    );
  }
}

/** A worker thread hosting the target actor exited (crash, uncaught error, out of memory, terminate). */
export class WorkerExitedError extends TroupeError {
  constructor(
    readonly target: string,
    readonly threadId: number,
    readonly exitCode: number | undefined,
    cause: unknown,
  ) {
    super(
      'ERR_WORKER_EXITED',
      `Worker thread ${threadId} hosting [${target}] exited` +
        (exitCode === undefined ? '' : ` with code ${exitCode}`) +
        (cause === undefined ? '' : `: ${describe(cause)}`) +
        '. Messages it had not handled are lost (at-most-once); the supervisor decides what happens next.',
      cause === undefined ? undefined : { cause },
    );
  }
}

/**
 * A message could not be sent to an actor on the far side of a link: the link
 * is closed (the peer, or its incarnation, is gone) or down. Nothing was sent.
 */
export class NotDeliveredError extends TroupeError {
  constructor(
    readonly target: string,
    readonly messageType: string,
    /** Why: the link's state, e.g. `closed: peer-dead`. */
    readonly detail: string,
  ) {
    super(
      'ERR_NOT_DELIVERED',
      `Message of type [${messageType}] to [${target}] was not delivered: ${detail}. ` +
        'The actor may not exist any more; watch it to learn when it ends.',
    );
  }
}

/**
 * The link to the node hosting the target went down while an ask was in
 * flight: the ask may or may not have been handled (outcome unknown).
 */
export class DisconnectedError extends TroupeError {
  constructor(
    readonly target: string,
    readonly messageType: string,
    readonly detail: string,
  ) {
    super(
      'ERR_DISCONNECTED',
      `Ask to [${target}] with message of type [${messageType}] failed: the link went down (${detail}) before a reply came. ` +
        'It may or may not have been handled; retry only if the message is idempotent.',
    );
  }
}

/** A worker-hosted actor's module or export could not be loaded. */
export class WorkerActorLoadError extends TroupeError {
  constructor(
    readonly module: string,
    readonly exportName: string,
    detail: string,
    cause?: unknown,
  ) {
    super(
      'ERR_WORKER_ACTOR_LOAD',
      `Cannot load worker actor [${exportName}] from ${module}: ${detail}`,
      cause === undefined ? undefined : { cause },
    );
  }
}

/** Plain-data shape of an error, safe to `postMessage` or `JSON.stringify`. */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
  cause?: SerializedError;
  /** The registered class the error was an instance of (see {@link registerError}). */
  type?: string;
  /** Other own enumerable fields that were plain data. */
  fields?: Record<string, unknown>;
}

// biome-ignore lint/suspicious/noExplicitAny: any error constructor signature
type ErrorClass = abstract new (...args: any[]) => Error;
const classesByName = new Map<string, ErrorClass>();
const namesByClass = new Map<ErrorClass, string>();
const troupeNames = new Set<string>();

/**
 * Register an error class so that its instances keep their class across a
 * thread or network boundary: they come out of an ask, a supervision
 * decision or a `Terminated` reason as instances of the same class, with
 * `name`, `code`, `cause` and their own plain-data fields (`instanceof`
 * works, and a strategy built with `decide` can match on the class). Every
 * Troupe error is registered. Register your own in a module that both sides
 * load (the main thread and the worker actor's module); the constructor is
 * not called when an error is rebuilt, so it may take any arguments.
 *
 * @param name The name it travels under; default the class's `name`. It must
 *   be the same on both sides.
 * @example
 * export class QuotaExceededError extends Error { constructor(readonly tenant: string) { super(`quota of ${tenant}`); this.name = 'QuotaExceededError'; } }
 * registerError(QuotaExceededError);
 */
export function registerError(errorClass: ErrorClass, name: string = errorClass?.name): void {
  if (typeof errorClass !== 'function' || !(errorClass.prototype instanceof Error || errorClass === Error)) {
    throw new TypeError(`registerError: expected an Error subclass, got ${describe(errorClass)}`);
  }
  if (typeof name !== 'string' || name.length === 0) {
    throw new TypeError(`registerError(${errorClass.name}): name must be a non-empty string, got ${describe(name)}`);
  }
  const existing = classesByName.get(name);
  if (existing !== undefined && existing !== errorClass && troupeNames.has(name)) {
    throw new TypeError(
      `registerError: ${name} is the name of a Troupe error; register ${errorClass.name} under another name`,
    );
  }
  // A second module instance of the same class (one per loader) replaces the first.
  if (existing !== undefined) namesByClass.delete(existing);
  classesByName.set(name, errorClass);
  namesByClass.set(errorClass, name);
}

/** The registered name of the nearest registered class of `error`. */
function registeredType(error: Error): string | undefined {
  for (let proto = Object.getPrototypeOf(error); proto !== null; proto = Object.getPrototypeOf(proto)) {
    const name = namesByClass.get(proto.constructor as ErrorClass);
    if (name !== undefined) return name;
    if (proto === Error.prototype) return undefined;
  }
  return undefined;
}

/** Plain data that survives a clone as it is (primitives, arrays and plain objects of them). */
function plainData(value: unknown, depth: number): boolean {
  if (value === null) return true;
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'bigint':
    case 'undefined':
      return true;
    case 'object':
      break;
    default:
      return false;
  }
  if (depth > 8) return false;
  if (Array.isArray(value)) return value.every((v) => plainData(v, depth + 1));
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  return Object.values(value as object).every((v) => plainData(v, depth + 1));
}

/** Turn any thrown value into a {@link SerializedError}, keeping class, `code`, `cause` and plain-data fields. */
export function serializeError(error: unknown, depth = 0): SerializedError {
  if (!(error instanceof Error)) {
    return { name: 'NonError', message: describe(error) };
  }
  const out: SerializedError = { name: error.name, message: error.message };
  if (error.stack !== undefined) out.stack = error.stack;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') out.code = code;
  const type = registeredType(error);
  if (type !== undefined) out.type = type;
  if (error.cause !== undefined && depth < 8) out.cause = serializeError(error.cause, depth + 1);
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(error)) {
    if (k === 'code' || k === 'cause') continue;
    if (plainData(v, 0)) fields[k] = v;
  }
  if (Object.keys(fields).length > 0) out.fields = fields;
  return out;
}

/**
 * Rebuild an error from a {@link SerializedError}: an instance of its
 * registered class when there is one (else an `Error`), with `name`,
 * `message`, `stack`, `code`, `cause` and fields restored.
 */
export function deserializeError(data: SerializedError): Error {
  const cause = data.cause ? deserializeError(data.cause) : undefined;
  const errorClass = data.type === undefined ? undefined : classesByName.get(data.type);
  let err: Error;
  if (errorClass === undefined) {
    err = new Error(data.message, cause === undefined ? undefined : { cause });
  } else {
    err = Object.create(errorClass.prototype) as Error;
    Object.defineProperty(err, 'message', { value: data.message, writable: true, configurable: true });
    if (cause !== undefined) Object.defineProperty(err, 'cause', { value: cause, writable: true, configurable: true });
  }
  if (data.stack !== undefined) {
    Object.defineProperty(err, 'stack', { value: data.stack, writable: true, configurable: true });
  }
  if (data.fields) Object.assign(err, data.fields);
  if (err.name !== data.name) {
    Object.defineProperty(err, 'name', { value: data.name, writable: true, configurable: true, enumerable: false });
  }
  if (data.code !== undefined) (err as { code?: string }).code = data.code;
  return err;
}

/**
 * A short, single-line description of any thrown value. Never throws itself:
 * a value whose getters throw, or that has no way to become a string (an
 * object without a prototype, say), is described by its kind.
 */
export function describe(value: unknown): string {
  try {
    if (value instanceof Error) return `${value.name}: ${value.message}`;
    return typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    try {
      return String(value);
    } catch {
      try {
        return Object.prototype.toString.call(value);
      } catch {
        return `a ${typeof value} that cannot be described`;
      }
    }
  }
}

// The standard classes keep theirs too (a TypeError thrown in a worker is a TypeError here).
for (const builtin of [Error, TypeError, RangeError, ReferenceError, SyntaxError, EvalError, URIError]) {
  registerError(builtin);
}
for (const errorClass of [
  TroupeError,
  AskTimeoutError,
  AskAbortedError,
  MailboxFullError,
  ActorStoppedError,
  ActorNotFoundError,
  ActorNameTakenError,
  ShuttingDownError,
  DeathPactError,
  RestartLimitExceededError,
  EscalatedError,
  StashOverflowError,
  NotMainThreadError,
  SystemAlreadyStartedError,
  IllegalTransitionError,
  UnserializableMessageError,
  WorkerExitedError,
  NotDeliveredError,
  DisconnectedError,
  WorkerActorLoadError,
]) {
  registerError(errorClass);
  troupeNames.add(errorClass.name);
}
