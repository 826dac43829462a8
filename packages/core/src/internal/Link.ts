/**
 * One link: everything two Troupe runtimes do to talk over a {@link Transport},
 * the same on both ends (a worker thread and its main thread, or two nodes):
 *
 * - outbound batching: frames pile up in one array, flushed once per microtask
 *   (or when full), so a burst of tells costs a few posts;
 * - salvage: a batch the transport cannot serialise is re-sent frame by frame,
 *   and only the culprits fail (asks reject, tells become dead letters);
 * - pending replies: asks sent over the link wait here for `Reply` frames, and
 *   settle (not delivered, disconnected, closed) when the link fails them;
 * - inbound dispatch: frames to hosted actors go to the {@link LinkHost}, those
 *   about proxies to their {@link LinkProxy}, messages to other actors to the
 *   ref provider, which delivers them by uid or path (or relays them on);
 * - ref swapping: refs in messages become markers on the way out and refs on
 *   the way in, through the runtime's provider;
 * - watch across the link: `Watch` / `Unwatch` / `Terminated` frames, and an
 *   `address-terminated` end for every watch when the link closes for good;
 * - flow control: a proxy spends one credit per message to its hosted actor
 *   and the host grants credit back as the actor takes messages, so no more
 *   than a window is ever in flight (backpressure crosses the link);
 * - accounting: every tell to a hosted actor stays in its channel's ledger
 *   until the host reports it taken, and every tell by address until the
 *   batch that carried it is acknowledged; when the link closes for good the
 *   rest become dead letters (`worker-exited` for a thread), so nothing sent
 *   over a link vanishes without a trace.
 *
 * @internal
 */
import type { TerminationReason } from '../ActorRef.js';
import { type DeadLetterReason, typeOf } from '../DeadLetters.js';
import {
  DisconnectedError,
  deserializeError,
  NotDeliveredError,
  type SerializedError,
  serializeError,
  UnserializableMessageError,
} from '../errors.js';
import type { LogLevel } from '../Logger.js';
import { Mailbox } from '../Mailbox.js';
import type { Batch, Transport, TransportClosed } from '../Transport.js';
import { type ActorCell, Status } from './ActorCell.js';
import { AskRecord } from './Asks.js';
import { FrameReply } from './FrameReply.js';
import { PendingAsks } from './PendingAsks.js';
import type { ReplyTarget, SystemInternals } from './SystemInternals.js';
import { ARITY, arityOf, type Frames, Op, type SpawnFrame, type WireReason, type WireRef } from './wire.js';

/** Most fields per post: a bound on one clone's size and latency. */
const MAX_BATCH_FIELDS = 4096;

/**
 * Messages a proxy may have in flight to its hosted actor when its mailbox is
 * unbounded: enough to keep a thread busy between two credit grants, few
 * enough that the backlog in the thread stays small and a Stop never waits
 * behind more than this. (A bounded mailbox's capacity is its window.)
 * @internal
 */
export const DEFAULT_WINDOW = 8_192;

/** Marks an ask in a ledger (as the envelope, beside its reply id): asks are accounted for by their pending reply. */
const ASK = Symbol('ask');

/*
 * Inbound backlog: a transport may hand over its whole queue at once, and
 * when the far side posts faster than an actor here handles, every queued
 * batch would become live objects in that actor's mailbox (a million tells
 * became a million objects promoted to old space). So while the actor a batch
 * fed is more than PAUSE_AT messages behind, the link pauses the transport:
 * the backlog waits inside it (serialised, for a thread's port), and reading
 * resumes when the actor is down to RESUME_AT. FIFO order is unchanged.
 */
const PAUSE_AT = 16_384;
const RESUME_AT = 4_096;

/** Anything that names, at send time, the link a remote actor is reached over. @internal */
export interface Route {
  /** The link to send over, or undefined when there is none right now. */
  current(): Link | undefined;
}

/**
 * The proxy side of one hosted actor on a link: its handle, its credit, and
 * the ledger of what it sent that the actor has not taken yet.
 * @internal
 */
export class Channel {
  /** Messages the proxy may still send before the host grants more. */
  credit = 0;
  /**
   * Sent and not yet reported taken, oldest first: (message type, undefined)
   * for a tell, (reply id, ASK) for an ask. Types, not messages: keeping a
   * window of messages alive on this side cost more (in GC) than the rest of
   * the tell, and a thread's own dead letters carry only the type too.
   */
  readonly ledger = new Mailbox();
  /** Called once when credit arrives while the proxy waits for it. */
  waiter: (() => void) | undefined = undefined;
  /** The host's last word: the actor still had work (queued, or a message in flight). */
  busy = false;
  /** Messages posted to the hosted actor in all (tells and asks; those never sent are taken off again). */
  sent = 0;
  /** The latest recount asked for after an outage (its id, and `sent` when it was asked), and the losses found so far. */
  probeId = 0;
  probeAt = 0;
  lost = 0;
  /** What the host's Credit frames said in all: taken, and credit granted (see the recount). */
  takenSeen = 0;
  grantedSeen = 0;
  constructor(
    readonly handle: number,
    readonly proxy: LinkProxy,
  ) {}

  /** Messages the actor has not taken yet, plus one while it is still busy: shutdown's drain waits for these. */
  get outstanding(): number {
    return this.ledger.size + (this.busy ? 1 : 0);
  }

  /** Stop waiting for credit (the proxy is stopping, or the link closed). */
  interrupt(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }

  /** Wait until there is credit (at once if there is). */
  whenCredit(): Promise<void> {
    if (this.credit > 0) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.waiter;
      this.waiter = () => {
        previous?.();
        resolve();
      };
    });
  }
}

/** What a link calls on a proxy it carries (the proxy side of a hosted actor). @internal */
export interface LinkProxy {
  readonly path: string;
  started(): void;
  failed(error: unknown): void;
  stopped(): void;
  /** The link closed for good: the hosted actor is gone with it. */
  linkClosed(error: Error): void;
}

/** A hosted actor's counts since it started, in all: what arrived for it, what it reported taken, what credit it granted. @internal */
export interface HostedCount {
  received: number;
  reported: number;
  granted: number;
  /** Its last report said it still had work. */
  busy: boolean;
}

/** What a link calls on the host it serves (the side that runs actors for proxies). @internal */
export interface LinkHost {
  /** Path of the hosted actor, for error messages. */
  pathOf(handle: number): string;
  /** What the host counted for `handle` (undefined: no such actor here), for a recount after an outage. */
  recount(handle: number): HostedCount | undefined;
  /** Hand a message to a hosted actor; returns its cell, for backlog tracking. */
  deliver(handle: number, message: unknown, env: ReplyTarget | undefined): ActorCell | undefined;
  spawn(frame: SpawnFrame): void;
  restart(handle: number, error: unknown, frame: SpawnFrame): void;
  resume(handle: number): void;
  hold(handle: number, on: boolean): void;
  stop(handle: number): void;
  /** The link closed for good: nobody supervises the hosted actors any more. */
  linkClosed(): void;
}

/** How a link names its failures; the worker-thread link uses `WorkerExitedError`. @internal */
export interface LinkPolicy {
  /** For each ask in flight when the link closes for good. */
  closedError(target: string, messageType: string, closed: TransportClosed): Error;
  /** For an ask that could not be sent because the link is closed or down. */
  notDeliveredError(target: string, messageType: string, closed: TransportClosed | undefined): Error;
  /** For each ask in flight when the link goes down. */
  disconnectedError(target: string, messageType: string, detail: string): Error;
  /** Dead-letter reason of tells lost with a link that closed for good. */
  readonly lostReason: DeadLetterReason;
}

/** The policy of a link to another node: not delivered, disconnected, link-closed. @internal */
export const nodeLinkPolicy: LinkPolicy = Object.freeze({
  closedError: (target: string, type: string, closed: TransportClosed) =>
    new NotDeliveredError(target, type, `the link closed (${closed.reason}: ${closed.detail})`),
  notDeliveredError: (target: string, type: string, closed: TransportClosed | undefined) =>
    new NotDeliveredError(
      target,
      type,
      closed === undefined
        ? 'the link is down or its send queue is full'
        : `the link is closed (${closed.reason}: ${closed.detail})`,
    ),
  disconnectedError: (target: string, type: string, detail: string) => new DisconnectedError(target, type, detail),
  lostReason: 'link-closed',
});

/**
 * An ask waiting for its reply over this link: where the reply goes, and the
 * target and message type its errors name. An ask made here is its own entry
 * (an {@link AskRecord} has all three); a relayed one gets a {@link PendingReply}.
 */
interface Pending {
  readonly replyTo: ReplyTarget;
  readonly path: string;
  readonly type: string;
  readonly replyId: number;
}

class PendingReply implements Pending {
  constructor(
    readonly replyTo: ReplyTarget,
    readonly path: string,
    readonly type: string,
    readonly replyId: number,
  ) {}
}

/** The pending entry of an ask to `path`: the ask's own record when it names the same target. */
function pendingEntry(replyTo: ReplyTarget, path: string, message: unknown, replyId: number): Pending {
  return replyTo instanceof AskRecord && replyTo.target === path
    ? replyTo
    : new PendingReply(replyTo, path, typeOf(message), replyId);
}

/** How many settled asks a link remembers by reply id, to name the asker of a late reply. */
const MAX_FORGOTTEN = 4096;

/**
 * An encoded message that needs more than a plain frame: it holds markers
 * (the far side must decode it) or buffers to move rather than copy. Plain
 * messages travel unwrapped, so the common case allocates nothing.
 * @internal
 */
export class Outbound {
  constructor(
    readonly message: unknown,
    readonly refs: boolean,
    readonly transfer: readonly unknown[] | undefined,
  ) {}
}

/** Wrap an encoded message if it needs it (see {@link Outbound}). @internal */
export function outbound(encoded: unknown, swapped: boolean, transfer: readonly unknown[] | undefined): unknown {
  const hasTransfer = transfer !== undefined && transfer.length > 0;
  return swapped || hasTransfer ? new Outbound(encoded, swapped, hasTransfer ? transfer : undefined) : encoded;
}

/** What a refused post keeps for the next one (see `Link.kept`), by opcode. */
const KEPT_OPS: ReadonlySet<Op> = new Set<Op>([
  Op.Reply,
  Op.ReplyError,
  Op.Resume,
  Op.Hold,
  Op.Stop,
  Op.Started,
  Op.Failed,
  Op.Stopped,
  Op.DeadLetter,
  Op.Unwatch,
  Op.Terminated,
  Op.StopActor,
  Op.Credit,
  Op.Ack,
  Op.Log,
  Op.Recounted,
]);
/** At most this many fields are kept; past it, frames are dropped as before (replies become dead letters). */
const MAX_KEPT_FIELDS = 1 << 20;
/** How soon frames a full transport refused are posted again. */
const RETRY_KEPT_MS = 50;

const RESOLVED: Promise<void> = Promise.resolve();
let nextLinkId = 1;
const noop = () => {};

/** One link over one transport. @internal */
export class Link implements Route {
  /** Unique in this runtime: keys remote refs and watches. */
  readonly id = nextLinkId++;
  /** The far side's label, from the transport. */
  readonly label: string;
  /** Set when the transport closed for good. */
  closed: TransportClosed | undefined = undefined;
  /** The side of this link that runs actors for the far side's proxies, if any. */
  host: LinkHost | undefined = undefined;
  /** Channels of the proxies whose actors the far side hosts, by handle. */
  readonly channels = new Map<number, Channel>();
  private readonly pending = new PendingAsks<Pending>(64);
  /** Reply id → asker of asks settled here before their answer came (at most {@link MAX_FORGOTTEN}, oldest first out). */
  private readonly forgotten = new Map<number, string>();
  private out: unknown[] = [];
  /** The seq of the batch being filled, once it carries a tell by address (0: none yet). */
  private outSeq = 0;
  private lastSeq = 0;
  /** Tells by address not yet acknowledged: flat (seq, recipient path, message) triples, oldest first. */
  private retained: unknown[] = [];
  private retainedHead = 0;
  private transfer: unknown[] | undefined = undefined;
  /**
   * Frames a down (or full) transport refused that the far side needs to stay
   * in step (credit and taken reports, replies, lifecycle, Terminated, stop
   * requests, acknowledgements): they go first in the next post it can take,
   * once it is up again (or after `RETRY_KEPT_MS`, when it was full). Only user messages
   * are lost with an outage (dead letters, asks rejected), never this
   * bookkeeping, or the far side would wait for it for good.
   */
  private kept: unknown[] = [];
  /** The timer that posts kept frames again after a full transport (up, but refusing) refused them. */
  private retry: unknown = undefined;
  /**
   * Watches (by id) and recounts (by handle) a full transport refused: the
   * retry sends those anew, and only those (an up or a loss sends every one).
   */
  private readonly refusedWatches = new Set<number>();
  private readonly refusedRecounts = new Set<number>();
  /** Frames were dropped because {@link kept} was at its cap (logged once until it empties). */
  private keptOverflowed = false;
  private flushScheduled = false;
  private nextHandle = 1;
  private nextReply = 1;
  private nextProbe = 1;
  private nextWatch = 1;
  /** Watches of actors on the far side, by watch id. */
  private readonly watchesOut = new Map<number, { target: WireRef; listener: (r: TerminationReason) => void }>();
  /** Watches the far side holds on actors here, by its watch id: how to cancel each. */
  private readonly watchesIn = new Map<number, () => void>();
  private readonly closeListeners: ((closed: TransportClosed) => void)[] = [];
  private readonly flushBound = () => this.flush();
  /** The actor the last inbound batch fed, and the one the link paused for. */
  private lastTarget: ActorCell | undefined = undefined;
  private behind: ActorCell | undefined = undefined;
  private readonly resumeBound = () => this.resumeWhenCaughtUp();

  constructor(
    readonly transport: Transport,
    readonly internals: SystemInternals,
    readonly policy: LinkPolicy,
    /** Counts as the sender of inbound messages (a cell of the system's own), so they pass shutdown's intake gate. */
    private readonly sender: ActorCell | undefined,
  ) {
    this.label = transport.label;
    transport.onBatch((batch) => this.receive(batch));
    transport.onStatus((up, detail) => (up ? this.wentUp() : this.wentDown(detail)));
    transport.onLoss?.(() => this.lostInbound());
    transport.onClose((closed) => this.closedForGood(closed));
  }

  /** This link, open or not: what is sent over a closed link is refused by it (not delivered, dead letters). */
  current(): Link {
    return this;
  }

  get isOpen(): boolean {
    return this.closed === undefined;
  }

  /** Proxies carried plus asks in flight: what least-loaded placement compares. */
  get load(): number {
    return this.channels.size + this.pending.size;
  }

  /** Asks sent over this link and not answered yet. @internal (introspection) */
  get asksInFlight(): number {
    return this.pending.size;
  }

  /** Tells by address sent and not yet acknowledged by the far side: a graceful leave waits for these. */
  get unacknowledged(): number {
    return (this.retained.length - this.retainedHead) / 3;
  }

  /** Be told once when the link closes for good. */
  onClose(listener: (closed: TransportClosed) => void): void {
    if (this.closed !== undefined) listener(this.closed);
    else this.closeListeners.push(listener);
  }

  /** Carry a proxy: returns its channel (its handle on this link, its credit and ledger). */
  attachProxy(proxy: LinkProxy): Channel {
    const channel = new Channel(this.nextHandle++, proxy);
    this.channels.set(channel.handle, channel);
    return channel;
  }

  /** The hosted actor has stopped: what it had not taken was dead-lettered where it lived. */
  detachProxy(channel: Channel): void {
    if (this.channels.get(channel.handle) === channel) this.channels.delete(channel.handle);
    channel.credit = 0;
    channel.ledger.drain();
    const waiter = channel.waiter;
    channel.waiter = undefined;
    waiter?.();
  }

  // ------------------------------------------------------------ outbound

  private push2(op: number, a: unknown, b: unknown): void {
    const out = this.out;
    out.push(op, a, b);
    this.pushed(out);
  }

  private push3(op: number, a: unknown, b: unknown, c: unknown): void {
    const out = this.out;
    out.push(op, a, b, c);
    this.pushed(out);
  }

  private pushed(out: unknown[]): void {
    if (out.length >= MAX_BATCH_FIELDS) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      // A resolved promise's `then` is the same microtask queue without the
      // AsyncResource Node's queueMicrotask allocates per call (one per batch here).
      void RESOLVED.then(this.flushBound);
    }
  }

  private takeTransfer(list: readonly unknown[] | undefined): void {
    if (list !== undefined) (this.transfer ??= []).push(...list);
  }

  /** A tell to the hosted actor of `channel` (the message encoded, maybe wrapped in {@link Outbound}); spends a credit. */
  tell(channel: Channel, message: unknown): void {
    channel.credit--;
    channel.sent++;
    if (message instanceof Outbound) {
      this.takeTransfer(message.transfer);
      channel.ledger.push(typeOf(message.message), undefined);
      this.push2(message.refs ? Op.TellRefs : Op.Tell, channel.handle, message.message);
      return;
    }
    channel.ledger.push(typeOf(message), undefined);
    this.push2(Op.Tell, channel.handle, message);
  }

  /** An ask to the hosted actor of `channel`; `target` settles with its reply. Spends a credit. */
  ask(channel: Channel, message: unknown, target: ReplyTarget, path: string): void {
    channel.credit--;
    channel.sent++;
    const replyId = this.nextReply++;
    if (message instanceof Outbound) {
      this.takeTransfer(message.transfer);
      message = message.message;
    }
    channel.ledger.push(replyId, ASK);
    this.pending.set(replyId, pendingEntry(target, path, message, replyId));
    if (target instanceof AskRecord) target.linkedTo(this, replyId);
    this.push3(Op.Ask, channel.handle, message, replyId);
  }

  /** A tell to an actor named by address (the message encoded); kept until its batch is acknowledged. */
  tellTo(target: WireRef, message: unknown, transfer?: readonly unknown[]): void {
    this.takeTransfer(transfer);
    const out = this.out;
    if (this.outSeq === 0) {
      this.outSeq = ++this.lastSeq;
      out.push(Op.Seq, this.outSeq);
    }
    this.retained.push(this.outSeq, target.$troupeRef.path, message);
    out.push(Op.TellTo, target, message);
    this.pushed(out);
  }

  /** An ask to an actor named by address; `reply` settles with its answer. */
  askTo(target: WireRef, message: unknown, reply: ReplyTarget, transfer?: readonly unknown[]): void {
    const replyId = this.nextReply++;
    this.pending.set(replyId, pendingEntry(reply, target.$troupeRef.path, message, replyId));
    if (reply instanceof AskRecord) reply.linkedTo(this, replyId);
    this.takeTransfer(transfer);
    this.push3(Op.AskTo, target, message, replyId);
  }

  /** A `Reply` or `ReplyError` frame (the hot half of every ask). */
  answer(op: typeof Op.Reply | typeof Op.ReplyError, replyId: number, payload: unknown): void {
    this.push2(op, replyId, payload);
  }

  /** A `Credit` frame (sent by a host after most turns of its actors: no rest-argument array). */
  credit(handle: number, credit: number, taken: number, busy: 0 | 1): void {
    const out = this.out;
    out.push(Op.Credit, handle, credit, taken, busy);
    this.pushed(out);
  }

  /** Any other frame. */
  control<K extends Op>(op: K, ...fields: Frames[K]): void {
    const out = this.out;
    out.push(op);
    for (let i = 0; i < fields.length; i++) out.push(fields[i]);
    this.pushed(out);
  }

  /** Post what is queued now. */
  flush(): void {
    this.flushScheduled = false;
    if (this.out.length === 0 && (this.kept.length === 0 || !this.transport.up)) return;
    let batch = this.out;
    const transfer = this.transfer as ArrayBuffer[] | undefined;
    this.out = [];
    this.transfer = undefined;
    this.outSeq = 0;
    if (this.closed !== undefined) {
      this.drop(batch);
      return;
    }
    if (this.kept.length > 0 && this.transport.up) {
      batch = this.kept.concat(batch);
      this.kept = [];
      this.keptOverflowed = false;
    }
    let sent: boolean;
    try {
      sent = this.transport.post(batch, transfer);
    } catch (error) {
      this.salvage(batch, transfer, error);
      return;
    }
    if (!sent) this.drop(batch);
  }

  /**
   * The codec refuses what structured clone cannot copy, so a whole batch
   * failing is rare (a WeakMap, say). When it happens, frames are re-posted
   * one by one and only the culprits fail: asks reject, tells become dead
   * letters. Nothing else in the batch is lost.
   */
  private salvage(batch: Batch, transfer: ArrayBuffer[] | undefined, error: unknown): void {
    for (let i = 0; i < batch.length; ) {
      const n = (arityOf(batch[i]) ?? 0) + 1;
      const frame = batch.slice(i, i + n);
      i += n;
      let sent: boolean;
      try {
        sent = this.transport.post(
          frame,
          transfer?.filter((t) => containsTransfer(frame, t)),
        );
      } catch (e) {
        this.refuse(frame, e ?? error);
        continue;
      }
      if (!sent) {
        // Refused (down or full): this frame and the rest go the way of a refused batch, in order, so
        // nothing posted later overtakes a frame kept for later.
        this.drop(batch.slice(i - n));
        return;
      }
    }
  }

  /** What a hosted actor's handle names in messages about it. */
  private pathOf(handle: number): string {
    return this.channels.get(handle)?.proxy.path ?? this.host?.pathOf(handle) ?? `${this.label} handle ${handle}`;
  }

  /**
   * The ask a Reply or ReplyError frame answers. None: it was settled already
   * (rejected when the link went down, the answer kept by the far side for
   * after), and the answer is a late reply.
   */
  private answered(replyId: number, payload: unknown): Pending | undefined {
    const p = this.takePending(replyId);
    if (p === undefined) {
      const asker = this.forgotten.get(replyId);
      if (asker !== undefined) this.forgotten.delete(replyId);
      this.internals.deadLetters.record(asker ?? this.label, payload, 'late-reply');
    }
    return p;
  }

  /** Take the entry of `replyId`; the link settles it now, so its record needs no word back. */
  private takePending(replyId: number): Pending | undefined {
    const p = this.pending.take(replyId);
    if (p !== undefined && p.replyTo instanceof AskRecord) p.replyTo.unlink();
    return p;
  }

  /**
   * An ask that went over this link settled here (timed out, aborted, rejected
   * at shutdown): its entry goes, and only its asker's path is kept for a while,
   * so a reply that comes after is a `late-reply` dead letter that names it.
   */
  forget(replyId: number): void {
    const p = this.pending.take(replyId);
    if (p !== undefined) this.remember(replyId, p.path);
  }

  private remember(replyId: number, path: string): void {
    const forgotten = this.forgotten;
    forgotten.set(replyId, path);
    if (forgotten.size > MAX_FORGOTTEN) forgotten.delete(forgotten.keys().next().value as number);
  }

  private settlePending(replyId: number, error: Error | ((p: Pending) => Error)): void {
    const p = this.takePending(replyId);
    if (p === undefined) return;
    p.replyTo.reject(typeof error === 'function' ? error(p) : error);
  }

  /** A frame the transport could not serialise. */
  private refuse(frame: Batch, error: unknown): void {
    const op = frame[0];
    const sys = this.internals;
    switch (op) {
      case Op.Spawn:
      case Op.Restart: {
        // A start that cannot be posted must fail the proxy's init, not leave it waiting.
        const spawn = (op === Op.Spawn ? frame[1] : frame[3]) as SpawnFrame;
        this.channels.get(spawn.handle)?.proxy.failed(new UnserializableMessageError(spawn.path, 'spawn input', error));
        return;
      }
      case Op.Ask:
      case Op.AskTo: {
        const path = op === Op.Ask ? this.pathOf(frame[1] as number) : (frame[1] as WireRef).$troupeRef.path;
        if (op === Op.Ask) this.unsent(frame[1] as number, frame[3], ASK, false);
        this.settlePending(frame[3] as number, new UnserializableMessageError(path, typeOf(frame[2]), error));
        return;
      }
      case Op.Tell:
      case Op.TellRefs:
      case Op.TellTo: {
        const path = op === Op.TellTo ? (frame[1] as WireRef).$troupeRef.path : this.pathOf(frame[1] as number);
        if (op === Op.TellTo) this.unretain(frame[2]);
        else this.unsent(frame[1] as number, typeOf(frame[2]), undefined, false);
        const err = new UnserializableMessageError(path, typeOf(frame[2]), error);
        sys.logger.error(err.message);
        sys.deadLetters.record(path, frame[2], 'unserializable');
        return;
      }
      case Op.Reply: {
        // The asker learns why instead of waiting for its timeout.
        const err = new UnserializableMessageError(this.label, typeOf(frame[2]), error);
        this.control(Op.ReplyError, frame[1] as number, serializeError(err));
        return;
      }
      default:
        sys.logger.error(
          `link to ${this.label}: could not post a ${opName(op)} frame (${String(error)}); it is dropped`,
        );
    }
  }

  /**
   * A frame to a hosted actor that was never sent: it leaves the channel's
   * ledger and gives its credit back. A dropped batch holds the newest
   * entries of each ledger, so they come off its end (`newest`); a single
   * frame refused in the middle of a salvage is found by identity.
   */
  private unsent(handle: number, message: unknown, envelope: unknown, newest: boolean): void {
    const channel = this.channels.get(handle);
    if (channel === undefined || channel.ledger.size === 0) return;
    if (newest) channel.ledger.pop();
    else if (!channel.ledger.remove(message, envelope)) return;
    channel.credit++;
    channel.sent--;
  }

  /** A tell by address that was never sent: it is no longer waiting for an acknowledgement. */
  private unretain(message: unknown): void {
    const r = this.retained;
    for (let i = this.retainedHead; i < r.length; i += 3) {
      if (r[i + 2] === message) {
        r.splice(i, 3);
        return;
      }
    }
  }

  /**
   * Frames that were not sent (the link is closed, or its transport down or
   * full): each is accounted for. User messages are lost (tells become dead
   * letters, asks reject, starts fail); while the link is not closed, the
   * bookkeeping the far side needs is kept for the next post instead (see
   * {@link kept}). A watch and a recount are not: going up sends them anew.
   */
  private drop(batch: Batch): void {
    const closed = this.closed;
    const sys = this.internals;
    const reason: DeadLetterReason = closed === undefined ? 'disconnected' : this.policy.lostReason;
    let kept = 0;
    for (let i = 0; i < batch.length; ) {
      const op = batch[i];
      const n = (arityOf(op) ?? 0) + 1;
      if (closed === undefined && KEPT_OPS.has(op as Op)) {
        if (this.kept.length < MAX_KEPT_FIELDS) {
          for (let k = 0; k < n; k++) this.kept.push(batch[i + k]);
          kept++;
          i += n;
          continue;
        }
        if (!this.keptOverflowed) {
          this.keptOverflowed = true;
          sys.logger.error(
            `link to ${this.label}: more than ${MAX_KEPT_FIELDS} fields of bookkeeping wait for the transport; ` +
              'frames past that are dropped, and the far side may wait for their credit or Terminated until the link closes',
          );
        }
      }
      if (closed === undefined) {
        if (op === Op.Watch) this.refusedWatches.add(batch[i + 2] as number);
        else if (op === Op.Recount) this.refusedRecounts.add(batch[i + 1] as number);
      }
      switch (op) {
        case Op.Tell:
        case Op.TellRefs:
          this.unsent(batch[i + 1] as number, undefined, undefined, true);
          sys.deadLetters.record(this.pathOf(batch[i + 1] as number), batch[i + 2], reason);
          break;
        case Op.TellTo:
          this.unretain(batch[i + 2]);
          sys.deadLetters.record((batch[i + 1] as WireRef).$troupeRef.path, batch[i + 2], reason);
          break;
        case Op.Ask:
          this.unsent(batch[i + 1] as number, batch[i + 3], ASK, true);
          this.settlePending(batch[i + 3] as number, (p) => this.policy.notDeliveredError(p.path, p.type, closed));
          break;
        case Op.AskTo:
          this.settlePending(batch[i + 3] as number, (p) => this.policy.notDeliveredError(p.path, p.type, closed));
          break;
        case Op.Reply:
        case Op.ReplyError:
          sys.deadLetters.record(this.label, batch[i + 2], reason);
          break;
        case Op.Spawn:
        case Op.Restart: {
          const spawn = (op === Op.Spawn ? batch[i + 1] : batch[i + 3]) as SpawnFrame;
          this.channels.get(spawn.handle)?.proxy.failed(this.policy.notDeliveredError(spawn.path, 'spawn', closed));
          break;
        }
      }
      i += n;
    }
    // Refused while up (the transport is full): try again shortly, whether or not anything else is sent.
    const refused = this.refusedWatches.size + this.refusedRecounts.size;
    if ((kept > 0 || refused > 0) && this.transport.up && closed === undefined && this.retry === undefined) {
      this.retry = this.internals.clock.setTimeout(() => {
        this.retry = undefined;
        if (this.transport.up && this.closed === undefined) this.resendRefused();
        this.flush();
      }, RETRY_KEPT_MS);
      this.internals.clock.unref?.(this.retry);
    }
  }

  /** Every tell still waiting (taken reports, acknowledgements) is lost: record each. */
  private loseUnacknowledged(reason: DeadLetterReason): void {
    const sys = this.internals;
    const r = this.retained;
    for (let i = this.retainedHead; i < r.length; i += 3) sys.deadLetters.record(r[i + 1] as string, r[i + 2], reason);
    this.retained = [];
    this.retainedHead = 0;
  }

  private acknowledged(seq: number): void {
    const r = this.retained;
    let head = this.retainedHead;
    while (head < r.length && (r[head] as number) <= seq) {
      r[head + 1] = undefined;
      r[head + 2] = undefined;
      head += 3;
    }
    if (head === r.length) {
      this.retained = [];
      this.retainedHead = 0;
    } else if (head > 3072 && head * 2 > r.length) {
      this.retained = r.slice(head);
      this.retainedHead = 0;
    } else {
      this.retainedHead = head;
    }
  }

  // ------------------------------------------------------------ watch

  /** Watch the actor `target` names on the far side; returns the cancel function. */
  watch(target: WireRef, listener: (reason: TerminationReason) => void): () => void {
    if (this.closed !== undefined) {
      queueMicrotask(() => listener({ kind: 'address-terminated' }));
      return () => {};
    }
    const watchId = this.nextWatch++;
    this.watchesOut.set(watchId, { target, listener });
    this.control(Op.Watch, target, watchId);
    return () => {
      if (this.watchesOut.delete(watchId) && this.closed === undefined) this.control(Op.Unwatch, watchId);
    };
  }

  // ------------------------------------------------------------ inbound

  /** Frames that could not be handled (garbage, truncated, foreign): counted, reported, dropped. */
  malformed = 0;

  private reportMalformed(what: string): void {
    this.malformed++;
    if (this.malformed <= 10 || this.malformed % 1000 === 0) {
      this.internals.logger.error(`link to ${this.label}: ${what} (malformed frame #${this.malformed}, dropped)`);
    }
  }

  private receive(batch: Batch): void {
    if (!Array.isArray(batch)) {
      this.reportMalformed(`a batch that is not an array (${typeof batch})`);
      return;
    }
    const sys = this.internals;
    const provider = sys.provider;
    const prev = sys.currentCell;
    // Messages from the far side are actor traffic, not new intake: they pass during drain.
    sys.currentCell = this.sender;
    this.lastTarget = undefined;
    let ackDue = 0;
    try {
      for (let i = 0; i < batch.length; ) {
        const op = batch[i] as Op;
        const n = ARITY[op];
        if (n === undefined) {
          this.reportMalformed(
            `unknown opcode ${String(op)} at field ${i} of a batch; the rest of the batch is dropped`,
          );
          break;
        }
        try {
          switch (op) {
            case Op.Tell:
              this.deliverHosted(batch[i + 1] as number, batch[i + 2], undefined);
              break;
            case Op.TellRefs:
              this.deliverHosted(batch[i + 1] as number, provider.decode(batch[i + 2]), undefined);
              break;
            case Op.Ask: {
              const handle = batch[i + 1] as number;
              const reply = new FrameReply(this, batch[i + 3] as number, this.pathOf(handle));
              this.deliverHosted(handle, provider.decode(batch[i + 2]), reply);
              break;
            }
            case Op.Reply: {
              const p = this.answered(batch[i + 1] as number, batch[i + 2]);
              if (p !== undefined && !p.replyTo.resolve(provider.decode(batch[i + 2]))) {
                sys.deadLetters.record(p.path, batch[i + 2], 'late-reply');
              }
              break;
            }
            case Op.ReplyError: {
              this.answered(batch[i + 1] as number, batch[i + 2])?.replyTo.reject(
                deserializeError(batch[i + 2] as SerializedError),
              );
              break;
            }
            case Op.Spawn:
              this.hostOrRefuse(batch[i + 1] as SpawnFrame)?.spawn(batch[i + 1] as SpawnFrame);
              break;
            case Op.Restart: {
              const frame = batch[i + 3] as SpawnFrame;
              this.hostOrRefuse(frame)?.restart(
                batch[i + 1] as number,
                deserializeError(batch[i + 2] as SerializedError),
                frame,
              );
              break;
            }
            case Op.Resume:
              this.host?.resume(batch[i + 1] as number);
              break;
            case Op.Hold:
              this.host?.hold(batch[i + 1] as number, batch[i + 2] === 1);
              break;
            case Op.Stop:
              if (this.host !== undefined) this.host.stop(batch[i + 1] as number);
              else this.control(Op.Stopped, batch[i + 1] as number);
              break;
            case Op.Started:
              this.channels.get(batch[i + 1] as number)?.proxy.started();
              break;
            case Op.Failed:
              this.channels
                .get(batch[i + 1] as number)
                ?.proxy.failed(deserializeError(batch[i + 2] as SerializedError));
              break;
            case Op.Stopped:
              this.channels.get(batch[i + 1] as number)?.proxy.stopped();
              break;
            case Op.Credit: {
              const channel = this.channels.get(batch[i + 1] as number);
              if (channel !== undefined) {
                channel.credit += batch[i + 2] as number;
                channel.grantedSeen += batch[i + 2] as number;
                channel.takenSeen += batch[i + 3] as number;
                for (let k = batch[i + 3] as number; k > 0 && channel.ledger.size > 0; k--) channel.ledger.shift();
                channel.busy = batch[i + 4] === 1;
                this.wake(channel);
              }
              break;
            }
            case Op.Seq:
              ackDue = batch[i + 1] as number;
              break;
            case Op.Recount: {
              const handle = batch[i + 1] as number;
              const c = this.host?.recount(handle);
              const busy = c?.busy === true ? 1 : 0;
              this.control(
                Op.Recounted,
                handle,
                batch[i + 2] as number,
                c?.received ?? -1,
                c?.reported ?? 0,
                c?.granted ?? 0,
                busy,
              );
              break;
            }
            case Op.Recounted:
              this.recounted(
                batch[i + 1] as number,
                batch[i + 2] as number,
                batch[i + 3] as number,
                batch[i + 4] as number,
                batch[i + 5] as number,
                batch[i + 6] === 1,
              );
              break;
            case Op.Ack:
              this.acknowledged(batch[i + 1] as number);
              break;
            case Op.Log: {
              const level = batch[i + 1] as Exclude<LogLevel, 'silent'>;
              const fields = batch[i + 3];
              const log = sys.logger[level] ?? sys.logger.warn;
              log.call(sys.logger, String(batch[i + 2]), typeof fields === 'string' ? parseFields(fields) : undefined);
              break;
            }
            case Op.TellTo: {
              const target = batch[i + 1] as WireRef;
              try {
                provider.deliverInbound(target, provider.decode(batch[i + 2]), undefined);
              } catch (e) {
                sys.logger.warn(`tell from ${this.label} to ${target.$troupeRef.path} refused: ${String(e)}`);
              }
              break;
            }
            case Op.AskTo: {
              const target = batch[i + 1] as WireRef;
              const reply = new FrameReply(this, batch[i + 3] as number, target.$troupeRef.path);
              try {
                provider.deliverInbound(target, provider.decode(batch[i + 2]), reply);
              } catch (e) {
                reply.reject(e);
              }
              break;
            }
            case Op.DeadLetter:
              sys.deadLetters.record(
                batch[i + 1] as string,
                { type: batch[i + 2] as string },
                batch[i + 3] as DeadLetterReason,
              );
              break;
            case Op.Watch: {
              const watchId = batch[i + 2] as number;
              const target = provider.resolve(batch[i + 1] as WireRef, true);
              // A watch sent again (after a reconnect) replaces the one it had.
              this.watchesIn.get(watchId)?.();
              let ended = false;
              this.watchesIn.set(watchId, noop);
              const cancel = provider.onEnd(target, (reason) => {
                ended = true;
                if (this.watchesIn.delete(watchId)) this.control(Op.Terminated, watchId, toWireReason(reason));
              });
              // A target already gone answers at once; keep the cancel only for a live watch.
              if (!ended) this.watchesIn.set(watchId, cancel);
              break;
            }
            case Op.Unwatch: {
              const watchId = batch[i + 1] as number;
              const cancel = this.watchesIn.get(watchId);
              this.watchesIn.delete(watchId);
              cancel?.();
              break;
            }
            case Op.Terminated: {
              const w = this.watchesOut.get(batch[i + 1] as number);
              if (w !== undefined) {
                this.watchesOut.delete(batch[i + 1] as number);
                w.listener(fromWireReason(batch[i + 2] as WireReason));
              }
              break;
            }
            case Op.StopActor:
              void provider.stop(provider.resolve(batch[i + 1] as WireRef, true));
              break;
          }
        } catch (error) {
          // A frame whose fields are not what its opcode says: the far side is broken or foreign.
          this.reportMalformed(`a ${opName(op)} frame at field ${i} could not be handled: ${String(error)}`);
        }
        i += n + 1;
      }
    } finally {
      sys.currentCell = prev;
      // Acknowledged once dispatched: its tells are in their mailboxes (or dead letters) now.
      if (ackDue !== 0) this.control(Op.Ack, ackDue);
    }
    const cell = this.lastTarget as ActorCell | undefined;
    if (cell !== undefined && cell.mailboxSize > PAUSE_AT && cell.status === Status.Running && !cell.isProcessing) {
      this.behind = cell;
      this.transport.pause();
      setImmediate(this.resumeBound);
    }
  }

  private deliverHosted(handle: number, message: unknown, env: ReplyTarget | undefined): void {
    const host = this.host;
    if (host === undefined) {
      const path = `${this.label} handle ${handle}`;
      this.internals.deadLetters.record(path, message, 'unknown-actor');
      env?.reject(new NotDeliveredError(path, typeOf(message), 'this side hosts no actors'));
      return;
    }
    const cell = host.deliver(handle, message, env);
    if (cell !== undefined) this.lastTarget = cell;
  }

  private hostOrRefuse(frame: SpawnFrame): LinkHost | undefined {
    if (this.host !== undefined) return this.host;
    this.control(
      Op.Failed,
      frame.handle,
      serializeError(new NotDeliveredError(frame.path, 'spawn', `${this.label} does not host actors`)),
    );
    return undefined;
  }

  private resumeWhenCaughtUp(): void {
    const cell = this.behind as ActorCell;
    // Stay paused only while the actor drains synchronously: a suspended actor
    // waits for a Restart/Resume frame, and an async handler may wait for a
    // Reply frame, both still in the transport's backlog.
    if (cell.mailboxSize > RESUME_AT && cell.status === Status.Running && !cell.isProcessing) {
      setImmediate(this.resumeBound);
      return;
    }
    this.behind = undefined;
    this.transport.resume();
  }

  // ------------------------------------------------------------ status

  private wentDown(detail: string): void {
    // Asks in flight have an unknown outcome now; they settle at once rather than wait out their timeouts.
    // Their replies may still come (the far side keeps them through an outage): late replies, named by asker.
    for (const p of this.pending.drain()) {
      if (p.replyTo instanceof AskRecord) p.replyTo.unlink();
      this.remember(p.replyId, p.path);
      p.replyTo.reject(this.policy.disconnectedError(p.path, p.type, detail));
    }
    // Tells by address not yet acknowledged may or may not have arrived (at-most-once): record them now.
    this.loseUnacknowledged('disconnected');
  }

  private wentUp(): void {
    // What the far side missed of this side's bookkeeping goes first (flush puts it ahead of the rest).
    if (this.kept.length > 0) this.pushed(this.out);
    this.resync();
  }

  /**
   * Batches from the far side were lost in transit (the transport saw a gap):
   * they may have carried credit and taken reports for proxies here, or a
   * Terminated. Ask again; what the far side sends now supersedes them. (A
   * lost reply is not asked for again: its ask times out, outcome unknown.)
   */
  private lostInbound(): void {
    if (this.closed === undefined && this.transport.up) this.resync();
  }

  /** Ask the far side for what it may have lost or we may have missed: watches, and each hosted actor's counts. */
  private resync(): void {
    this.refusedWatches.clear();
    this.refusedRecounts.clear();
    // The far side may have lost our watches with the connection: register them again.
    for (const [watchId, w] of this.watchesOut) this.control(Op.Watch, w.target, watchId);
    // Messages to hosted actors may have been lost in transit: ask each host how many arrived.
    for (const channel of this.channels.values()) this.recount(channel);
  }

  /** A full transport refused these watches and recounts: send them again (those still wanted). */
  private resendRefused(): void {
    for (const watchId of this.refusedWatches) {
      const w = this.watchesOut.get(watchId);
      if (w !== undefined) this.control(Op.Watch, w.target, watchId);
    }
    this.refusedWatches.clear();
    for (const handle of this.refusedRecounts) {
      const channel = this.channels.get(handle);
      if (channel !== undefined) this.recount(channel);
    }
    this.refusedRecounts.clear();
  }

  /** Ask the host of `channel` how many of the messages sent so far arrived (a newer probe supersedes an older). */
  private recount(channel: Channel): void {
    channel.probeId = this.nextProbe++;
    channel.probeAt = channel.sent;
    this.control(Op.Recount, channel.handle, channel.probeId);
  }

  /**
   * A host's answer to the latest recount: of the `probeAt` messages sent
   * before it, `received` arrived; the rest (less those found lost before)
   * were lost in transit. They leave the ledger as dead letters and give their
   * credit back, or the drain would wait for them and the window shrink for
   * good. The count is exact; which entries go is not known (only how many),
   * so the newest sent before the recount go, where an outage loses them.
   */
  private recounted(
    handle: number,
    probeId: number,
    received: number,
    reported: number,
    granted: number,
    busy: boolean,
  ): void {
    const channel = this.channels.get(handle);
    if (channel === undefined || probeId !== channel.probeId || received < 0) return;
    // Credit frames the host sent before its answer either arrived (counted) or were lost: catch up.
    for (let k = reported - channel.takenSeen; k > 0 && channel.ledger.size > 0; k--) channel.ledger.shift();
    if (reported > channel.takenSeen) channel.takenSeen = reported;
    if (granted > channel.grantedSeen) {
      channel.credit += granted - channel.grantedSeen;
      channel.grantedSeen = granted;
    }
    channel.busy = busy;
    const lost = channel.probeAt - received - channel.lost;
    if (lost <= 0) {
      this.wake(channel);
      return;
    }
    channel.lost += lost;
    const entries = channel.ledger.drain();
    const end = Math.max(0, entries.length / 2 - (channel.sent - channel.probeAt));
    const start = Math.max(0, end - lost);
    const gone = entries.splice(2 * start, 2 * (end - start));
    for (let i = 0; i < entries.length; i += 2) channel.ledger.push(entries[i], entries[i + 1]);
    const sys = this.internals;
    const path = channel.proxy.path;
    for (let i = 0; i < gone.length; i += 2) {
      // An ask's own failure was its rejection when the link went down.
      if (gone[i + 1] !== ASK) sys.deadLetters.record(path, { type: gone[i] }, 'disconnected');
    }
    for (let i = gone.length / 2; i < lost; i++) sys.deadLetters.record(path, { type: 'unknown' }, 'disconnected');
    channel.credit += lost;
    this.wake(channel);
  }

  /** Let a proxy waiting for credit go on, if there is credit now. */
  private wake(channel: Channel): void {
    const waiter = channel.waiter;
    if (waiter !== undefined && channel.credit > 0) {
      channel.waiter = undefined;
      waiter();
    }
  }

  /** The transport closed for good: settle everything that waited on it. */
  private closedForGood(closed: TransportClosed): void {
    if (this.closed !== undefined) return;
    this.closed = closed;
    for (const p of this.pending.drain()) {
      if (p.replyTo instanceof AskRecord) p.replyTo.unlink();
      p.replyTo.reject(this.policy.closedError(p.path, p.type, closed));
    }
    this.forgotten.clear();
    if (this.retry !== undefined) this.internals.clock.clearTimeout(this.retry);
    this.retry = undefined;
    this.refusedWatches.clear();
    this.refusedRecounts.clear();
    const out = this.kept.length > 0 ? this.kept.concat(this.out) : this.out;
    this.out = [];
    this.kept = [];
    this.transfer = undefined;
    this.outSeq = 0;
    this.drop(out);
    this.loseUnacknowledged(this.policy.lostReason);
    const watches = [...this.watchesOut.values()];
    this.watchesOut.clear();
    for (const w of watches) w.listener({ kind: 'address-terminated' });
    const cancels = [...this.watchesIn.values()];
    this.watchesIn.clear();
    for (const cancel of cancels) cancel();
    const channels = [...this.channels.values()];
    this.channels.clear();
    const sys = this.internals;
    for (const channel of channels) {
      // Sent, never reported taken: the actor died with them in its mailbox (or in transit).
      const lost = channel.ledger.drain();
      for (let i = 0; i < lost.length; i += 2) {
        if (lost[i + 1] !== ASK) sys.deadLetters.record(channel.proxy.path, { type: lost[i] }, this.policy.lostReason);
      }
      channel.credit = 0;
      channel.proxy.linkClosed(this.policy.closedError(channel.proxy.path, 'spawn', closed));
      const waiter = channel.waiter;
      channel.waiter = undefined;
      waiter?.();
    }
    this.host?.linkClosed();
    const listeners = this.closeListeners.splice(0);
    for (const l of listeners) l(closed);
  }

  /** Close the transport (the far side sees it closed too). */
  close(detail?: string): void {
    this.flush();
    this.transport.close(detail);
  }
}

/** A termination reason as it crosses a link. @internal */
export function toWireReason(reason: TerminationReason): WireReason {
  return reason.kind === 'failed' ? { kind: 'failed', error: serializeError(reason.error) } : { kind: reason.kind };
}

/** A termination reason from the wire. @internal */
export function fromWireReason(reason: WireReason): TerminationReason {
  if (reason?.kind === 'failed') return { kind: 'failed', error: deserializeError(reason.error) };
  if (reason?.kind === 'shutdown' || reason?.kind === 'address-terminated') return { kind: reason.kind };
  return { kind: 'stopped' };
}

function parseFields(json: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(json) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

function opName(op: unknown): string {
  for (const [name, value] of Object.entries(Op)) if (value === op) return name;
  return `unknown (${String(op)})`;
}

function containsTransfer(frame: Batch, t: unknown): boolean {
  const seen = new Set<unknown>();
  const visit = (v: unknown): boolean => {
    if (v === t) return true;
    if (ArrayBuffer.isView(v)) return v.buffer === t;
    if (v === null || typeof v !== 'object' || seen.has(v)) return false;
    seen.add(v);
    return Object.values(v).some(visit);
  };
  return frame.some(visit);
}
