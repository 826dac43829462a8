/**
 * The code that runs inside a worker host thread (all of it is in this
 * folder). It hosts any number of actors, each a real ActorCell with its own
 * mailbox, children, timers and supervision of its children; the hosted
 * actors' own supervisor is their proxy on the main thread, reached through
 * the frames of `internal/wire.ts`.
 *
 * There is no ActorSystem here: signals, shutdown and the tree's root belong
 * to the main thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { EventEmitter } from 'eventemitter3';
import type { ActorDefinition } from '../ActorDefinition.js';
import type { ActorRef, AskOptions, Message } from '../ActorRef.js';
import { systemClock } from '../Clock.js';
import { DeadLetters, typeOf } from '../DeadLetters.js';
import {
  deserializeError,
  type SerializedError,
  serializeError,
  UnserializableMessageError,
  WorkerActorLoadError,
} from '../errors.js';
import { ActorCell, cellOf, type ReplyTarget, Status, type SystemInternals } from '../internal/ActorCell.js';
import { AskRegistry } from '../internal/Asks.js';
import { DataCloneError, decode, encode, REF_BRAND } from '../internal/codec.js';
import { FrameReply } from '../internal/FrameReply.js';
import { type Frame, type HostWorkerData, Op, type SpawnFrame, type WireRef } from '../internal/wire.js';
import { consoleLogger } from '../Logger.js';
import { resolveMailboxOptions } from '../Mailbox.js';
import { defaultStrategy } from '../SupervisionStrategy.js';
import type { SystemEventMap } from '../SystemEvents.js';

if (parentPort === null) throw new Error('@troupe/core worker entry must run in a worker thread');
const port = parentPort;
const { hostIndex } = workerData as HostWorkerData;

// ---------------------------------------------------------------- outbound batching

let out: Frame = [];
let flushScheduled = false;
const flush = () => {
  flushScheduled = false;
  if (out.length === 0) return;
  const batch = out;
  out = [];
  try {
    port.postMessage(batch);
  } catch {
    // The codec checks everything first; if a batch still fails, send frame by frame.
    for (let i = 0; i < batch.length; ) {
      const n = (arity[batch[i] as number] ?? 1) + 1;
      const frame = batch.slice(i, i + n);
      i += n;
      try {
        port.postMessage(frame);
      } catch (e) {
        logger.error(`worker ${hostIndex}: could not post a frame (${String(e)}); it is dropped`);
      }
    }
  }
};
function post(...fields: unknown[]): void {
  for (const f of fields) out.push(f);
  if (out.length >= 4096) flush();
  else if (!flushScheduled) {
    flushScheduled = true;
    queueMicrotask(flush);
  }
}
const arity: Record<number, number> = {
  [Op.Reply]: 2,
  [Op.ReplyError]: 2,
  [Op.Started]: 1,
  [Op.Failed]: 2,
  [Op.Stopped]: 1,
  [Op.TellMain]: 2,
  [Op.AskMain]: 3,
  [Op.DeadLetter]: 3,
};

// ---------------------------------------------------------------- the runtime

const events = new EventEmitter<SystemEventMap>();
const logger = consoleLogger('warn');
const clock = systemClock;
/** Hosted and exported actors by handle; main assigns positive handles, this thread negative ones. */
const handles = new Map<number, ActorCell>();
const handleOf = new Map<ActorCell, number>();
/** Hosted (top-level) actors' main-side ids, so their refs route back through their proxies. */
const mainIdOf = new Map<ActorCell, string>();
/** Messages that arrived while their actor's module was still loading. */
const early = new Map<number, unknown[]>();
let nextLocalHandle = -1;

const runtime: SystemInternals = {
  facade: undefined,
  clock,
  logger,
  random: Math.random,
  events,
  deadLetters: new DeadLetters(events, logger, () => clock.now()),
  asks: new AskRegistry(clock),
  askTimeoutMs: 5_000,
  stopTimeoutMs: 5_000,
  defaultStrategy,
  intakeOpen: true,
  currentCell: undefined,
  refusedDuringShutdown: 0,
  retiredProcessed: 0,
  rootFailed(cell, error) {
    // A hosted actor failed: it is suspended here; its proxy's supervisor decides.
    const handle = handleOf.get(cell);
    if (handle !== undefined) post(Op.Failed, handle, serializeError(error));
  },
  stopTimedOut(cell, what) {
    logger.warn(`${cell.path} did not finish ${what} within ${runtime.stopTimeoutMs} ms; abandoning it`);
  },
};
// Dead letters here are counted on the main thread too.
events.on('deadLetter', (d) => post(Op.DeadLetter, d.recipient, typeOf(d.message), d.reason));

// ---------------------------------------------------------------- refs across the boundary

function toWire(ref: ActorRef<Message>): WireRef {
  if (ref instanceof MainRef) return ref.wire;
  const cell = cellOf(ref);
  if (cell === undefined) return { $troupeRef: { path: ref.path } };
  const mainId = mainIdOf.get(cell);
  if (mainId !== undefined) return { $troupeRef: { path: cell.path, mainId } };
  let handle = handleOf.get(cell);
  if (handle === undefined) {
    handle = nextLocalHandle--;
    handles.set(handle, cell);
    handleOf.set(cell, handle);
    cell.onTerminated(() => {
      handles.delete(handle as number);
      handleOf.delete(cell);
    });
  }
  return { $troupeRef: { path: cell.path, host: hostIndex, handle } };
}

function fromWire(w: WireRef): ActorRef<Message> {
  const { host, handle, mainId } = w.$troupeRef;
  if (host === hostIndex && handle !== undefined) {
    const cell = handles.get(handle);
    if (cell !== undefined) return cell.ref;
  }
  if (mainId !== undefined) {
    for (const [cell, id] of mainIdOf) if (id === mainId && cell.status < 4) return cell.ref;
  }
  return new MainRef(w);
}

function encodeOrThrow(message: unknown, target: string): unknown {
  try {
    return encode(message, toWire);
  } catch (error) {
    if (error instanceof DataCloneError) throw new UnserializableMessageError(target, typeOf(message), error);
    throw error;
  }
}

/** A ref whose actor lives elsewhere: messages go through the main thread. */
class MainRef implements ActorRef<Message> {
  declare readonly [REF_BRAND]: true;
  constructor(readonly wire: WireRef) {}
  get path(): string {
    return this.wire.$troupeRef.path;
  }
  get id(): string {
    return this.wire.$troupeRef.mainId ?? `${this.wire.$troupeRef.host}:${this.wire.$troupeRef.handle}`;
  }
  get name(): string {
    return this.path.split('/').pop() ?? '';
  }
  get isAlive(): boolean {
    return true;
  }
  tell(message: Message): void {
    post(Op.TellMain, this.wire, encodeOrThrow(message, this.path));
  }
  send(message: Message): Promise<void> {
    try {
      this.tell(message);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }
  ask<R>(message: Message, options?: AskOptions): Promise<R> {
    let encoded: unknown;
    try {
      encoded = encodeOrThrow(message, this.path);
    } catch (e) {
      return Promise.reject(e);
    }
    const { promise, record } = runtime.asks.create<R>(
      this.path,
      typeOf(message),
      options?.timeoutMs ?? runtime.askTimeoutMs,
      options?.signal,
    );
    if (record !== undefined) {
      const replyId = nextReplyId++;
      waitingReplies.set(replyId, record);
      post(Op.AskMain, this.wire, encoded, replyId);
    }
    return promise;
  }
}
Object.defineProperty(MainRef.prototype, REF_BRAND, { value: true });

let nextReplyId = 1;
const waitingReplies = new Map<number, ReplyTarget>();

// ---------------------------------------------------------------- hosting

const modules = new Map<string, Promise<Record<string, unknown>>>();

async function spawn(frame: SpawnFrame): Promise<void> {
  const { handle } = frame;
  early.set(handle, early.get(handle) ?? []);
  let def: ActorDefinition<Message, unknown, unknown>;
  try {
    let mod = modules.get(frame.module);
    if (mod === undefined) {
      mod = import(frame.module) as Promise<Record<string, unknown>>;
      modules.set(frame.module, mod);
    }
    const loaded = await mod.catch((e) => {
      modules.delete(frame.module);
      throw new WorkerActorLoadError(frame.module, frame.exportName, `import failed: ${String(e)}`, e);
    });
    const candidate = loaded[frame.exportName] as ActorDefinition<Message, unknown, unknown> | undefined;
    if (candidate === undefined) {
      const names = Object.keys(loaded).join(', ') || 'none';
      throw new WorkerActorLoadError(frame.module, frame.exportName, `no such export (exports: ${names})`);
    }
    if (
      typeof candidate !== 'object' ||
      typeof candidate.init !== 'function' ||
      typeof candidate.receive !== 'function'
    ) {
      throw new WorkerActorLoadError(
        frame.module,
        frame.exportName,
        'the export is not an actor definition (defineActor(...))',
      );
    }
    def = candidate;
  } catch (error) {
    early.delete(handle);
    post(Op.Failed, handle, serializeError(error));
    return;
  }
  const mailbox = resolveMailboxOptions(def.mailbox, frame.path);
  const cell = new ActorCell(
    runtime,
    def,
    undefined,
    // Refs in the input were swapped for markers at the sender, like any message's.
    decode(frame.input, fromWire),
    defaultStrategy,
    frame.name,
    mailbox,
    undefined,
    frame.path,
  );
  handles.set(handle, cell);
  handleOf.set(cell, handle);
  mainIdOf.set(cell, frame.mainId);
  cell.onRunning = () => post(Op.Started, handle);
  const queued = early.get(handle) ?? [];
  early.delete(handle);
  for (let i = 0; i < queued.length; i += 2) cell.enqueue(queued[i], queued[i + 1] as ReplyTarget | undefined);
  cell.start();
}

/** The last actor a batch delivered to: checked for a backlog once the batch is in. */
let lastTarget: ActorCell | undefined;

function deliver(handle: number, message: unknown, env: ReplyTarget | undefined): void {
  const cell = handles.get(handle);
  if (cell !== undefined) {
    cell.enqueue(message, env);
    lastTarget = cell;
    return;
  }
  const pending = early.get(handle);
  if (pending !== undefined) {
    pending.push(message, env);
    return;
  }
  runtime.deadLetters.record(`worker ${hostIndex} handle ${handle}`, message, 'actor-stopped');
  env?.reject(new Error(`no actor with handle ${handle} in worker ${hostIndex}`));
}

function receive(batch: Frame): void {
  for (let i = 0; i < batch.length; ) {
    const op = batch[i] as number;
    switch (op) {
      case Op.Tell:
        deliver(batch[i + 1] as number, batch[i + 2], undefined);
        i += 3;
        break;
      case Op.TellRefs:
        deliver(batch[i + 1] as number, decode(batch[i + 2], fromWire), undefined);
        i += 3;
        break;
      case Op.Ask: {
        const handle = batch[i + 1] as number;
        const cell = handles.get(handle);
        const target = cell?.path ?? `worker ${hostIndex} handle ${handle}`;
        const reply = new FrameReply(batch[i + 3] as number, (v) => encodeOrThrow(v, target), post);
        deliver(handle, decode(batch[i + 2], fromWire), reply);
        i += 4;
        break;
      }
      case Op.Reply: {
        const target = waitingReplies.get(batch[i + 1] as number);
        waitingReplies.delete(batch[i + 1] as number);
        target?.resolve(decode(batch[i + 2], fromWire));
        i += 3;
        break;
      }
      case Op.ReplyError: {
        const target = waitingReplies.get(batch[i + 1] as number);
        waitingReplies.delete(batch[i + 1] as number);
        target?.reject(deserializeError(batch[i + 2] as SerializedError));
        i += 3;
        break;
      }
      case Op.Spawn:
        void spawn(batch[i + 1] as SpawnFrame);
        i += 2;
        break;
      case Op.Restart: {
        const handle = batch[i + 1] as number;
        const cell = handles.get(handle);
        if (cell !== undefined) void cell.restart(deserializeError(batch[i + 2] as SerializedError), 0);
        else void spawn(batch[i + 3] as SpawnFrame);
        i += 4;
        break;
      }
      case Op.Resume:
        handles.get(batch[i + 1] as number)?.resume();
        i += 2;
        break;
      case Op.Stop: {
        const handle = batch[i + 1] as number;
        const cell = handles.get(handle);
        if (cell === undefined) post(Op.Stopped, handle);
        else {
          void cell.stop().then(() => {
            handles.delete(handle);
            handleOf.delete(cell);
            mainIdOf.delete(cell);
            post(Op.Stopped, handle);
          });
        }
        i += 2;
        break;
      }
      default:
        throw new Error(`worker ${hostIndex}: unknown opcode ${op} in a batch from the main thread`);
    }
  }
}

// ---------------------------------------------------------------- flow control

/*
 * Node hands a port's whole queue to JS in one go: when the main thread posts
 * faster than an actor handles, every queued batch would be deserialised into
 * that actor's mailbox at once (a million tells became a million live objects,
 * promoted to old space, and a ring buffer grown to match). Instead, stop
 * reading the port while an actor is behind by more than PAUSE_AT messages:
 * the backlog waits, serialised and off-heap, in the port's queue, and reading
 * resumes when the actor is down to RESUME_AT. FIFO order is unchanged.
 */
const PAUSE_AT = 16_384;
const RESUME_AT = 4_096;
let behind: ActorCell | undefined;

function onBatch(batch: Frame): void {
  lastTarget = undefined;
  receive(batch);
  const cell = lastTarget as ActorCell | undefined;
  if (cell !== undefined && cell.mailboxSize > PAUSE_AT && cell.status === Status.Running && !cell.isProcessing) {
    behind = cell;
    port.off('message', onBatch);
    setImmediate(resumeWhenCaughtUp);
  }
}

function resumeWhenCaughtUp(): void {
  const cell = behind as ActorCell;
  // Stay paused only while the actor drains synchronously: a suspended actor
  // waits for a Restart/Resume frame, and an async handler may wait for a
  // Reply frame, both still in the port's queue.
  if (cell.mailboxSize > RESUME_AT && cell.status === Status.Running && !cell.isProcessing) {
    setImmediate(resumeWhenCaughtUp);
    return;
  }
  behind = undefined;
  port.on('message', onBatch);
}

port.on('message', onBatch);
