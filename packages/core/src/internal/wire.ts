/**
 * The wire protocol two Troupe runtimes speak over a {@link Link}: the one
 * file of types both sides share (like piscina's `types.ts`), whatever the
 * transport (a worker thread's port, NATS).
 *
 * Frames travel in batches: one post carries a flat array of frames, each an
 * opcode followed by a fixed number of fields ({@link ARITY}). A flat array
 * clones faster than an array of objects, and batching turns a million tells
 * into a thousand posts. Order within a batch, and between batches on one
 * transport, is the send order: that is what keeps per-pair FIFO across a
 * boundary.
 *
 * Flow control and accounting: a host grants each proxy credit (`Credit`)
 * as its actor takes messages, so a proxy never has more than a window of
 * messages in flight, and the proxy side keeps every tell it sent until the
 * host reports it taken (a ledger), so a host that dies leaves a dead letter
 * for each tell it never took. Tells to actors named by address are kept
 * until the batch that carried them is acknowledged (`Seq` / `Ack`). A
 * transport that was down may have lost messages in transit: after it comes
 * back, each proxy asks its host how many of its messages arrived in all
 * (`Recount`), and the difference from what it sent are dead letters.
 *
 * Two ways to name the recipient of a message:
 * - a *handle*, a small integer the proxy side of a link gives each actor it
 *   asked the far side to host (the hot path: tells and asks to worker actors);
 * - a {@link WireRef}, for any other actor: its node address, path and uid.
 *
 * Refs inside messages are replaced by {@link WireRef} markers, errors inside
 * messages by {@link WireError} markers.
 *
 * @internal
 */
import type { SerializedError } from '../errors.js';

/** Opcodes; the comment after each names the fields that follow it ({@link Frames}). */
export const Op = {
  /** proxy→host: handle, message (plain: no markers inside) */
  Tell: 1,
  /** proxy→host: handle, message (holds markers: decode it) */
  TellRefs: 2,
  /** proxy→host: handle, message, replyId */
  Ask: 3,
  /** both ways: replyId, value */
  Reply: 4,
  /** both ways: replyId, SerializedError */
  ReplyError: 5,
  /** proxy→host: SpawnFrame */
  Spawn: 6,
  /** proxy→host: handle, SerializedError (why), SpawnFrame (used if the host no longer has the actor) */
  Restart: 7,
  /** proxy→host: handle (the supervisor resumed the actor after a failure) */
  Resume: 8,
  /** proxy→host: handle */
  Stop: 9,
  /** host→proxy: handle (the actor is running: after spawn or restart) */
  Started: 10,
  /** host→proxy: handle, SerializedError (the hosted actor failed; it is suspended) */
  Failed: 11,
  /** host→proxy: handle (the hosted actor has stopped) */
  Stopped: 12,
  /** both ways: target WireRef, message (a tell to an actor named by address) */
  TellTo: 13,
  /** both ways: target WireRef, message, replyId */
  AskTo: 14,
  /** host→proxy: recipient path, message type, reason (recorded by the proxy side's system) */
  DeadLetter: 15,
  /** both ways: target WireRef, watchId (tell me with Terminated(watchId) when it ends) */
  Watch: 16,
  /** both ways: watchId */
  Unwatch: 17,
  /** both ways: watchId, WireReason */
  Terminated: 18,
  /** both ways: target WireRef (stop that actor) */
  StopActor: 19,
  /** proxy→host: handle, on (1: an ancestor of the proxy is suspended, hold the actor; 0: release it) */
  Hold: 20,
  /**
   * host→proxy: handle, credit (more messages the proxy may send), taken
   * (messages the actor took since the last report), busy (1 while the actor
   * still has work: queued messages or one in flight)
   */
  Credit: 21,
  /** both ways: seq (the receiver acknowledges this batch once it has dispatched it) */
  Seq: 22,
  /** both ways: seq (every batch up to seq has been dispatched: its tells are in their mailboxes) */
  Ack: 23,
  /** host→proxy: level, message, fields as JSON or null (a host runtime logs through its peer's logger) */
  Log: 24,
  /**
   * proxy→host: handle, probeId (after the transport was down: how many
   * messages for this actor have arrived in all?)
   */
  Recount: 25,
  /**
   * host→proxy: handle, probeId, received (messages for it that arrived before
   * the Recount; -1: no such actor), reported (messages reported taken in all),
   * granted (credit granted in all), busy: Credit frames can be lost in
   * transit too, and these let the proxy catch up with them
   */
  Recounted: 26,
} as const;
export type Op = (typeof Op)[keyof typeof Op];

/** The fields of each frame, after its opcode. */
export interface Frames {
  [Op.Tell]: [handle: number, message: unknown];
  [Op.TellRefs]: [handle: number, message: unknown];
  [Op.Ask]: [handle: number, message: unknown, replyId: number];
  [Op.Reply]: [replyId: number, value: unknown];
  [Op.ReplyError]: [replyId: number, error: SerializedError];
  [Op.Spawn]: [frame: SpawnFrame];
  [Op.Restart]: [handle: number, error: SerializedError, frame: SpawnFrame];
  [Op.Resume]: [handle: number];
  [Op.Stop]: [handle: number];
  [Op.Started]: [handle: number];
  [Op.Failed]: [handle: number, error: SerializedError];
  [Op.Stopped]: [handle: number];
  [Op.TellTo]: [target: WireRef, message: unknown];
  [Op.AskTo]: [target: WireRef, message: unknown, replyId: number];
  [Op.DeadLetter]: [recipient: string, messageType: string, reason: string];
  [Op.Watch]: [target: WireRef, watchId: number];
  [Op.Unwatch]: [watchId: number];
  [Op.Terminated]: [watchId: number, reason: WireReason];
  [Op.StopActor]: [target: WireRef];
  [Op.Hold]: [handle: number, on: 0 | 1];
  [Op.Credit]: [handle: number, credit: number, taken: number, busy: 0 | 1];
  [Op.Seq]: [seq: number];
  [Op.Ack]: [seq: number];
  [Op.Log]: [level: 'debug' | 'info' | 'warn' | 'error', message: string, fields: string | null];
  [Op.Recount]: [handle: number, probeId: number];
  [Op.Recounted]: [handle: number, probeId: number, received: number, reported: number, granted: number, busy: 0 | 1];
}

/** One frame: its opcode, then its fields. */
export type Frame<K extends Op = Op> = [K, ...Frames[K]];

/** Fields after each opcode: the one table both sides walk batches with. */
export const ARITY = Object.freeze({
  [Op.Tell]: 2,
  [Op.TellRefs]: 2,
  [Op.Ask]: 3,
  [Op.Reply]: 2,
  [Op.ReplyError]: 2,
  [Op.Spawn]: 1,
  [Op.Restart]: 3,
  [Op.Resume]: 1,
  [Op.Stop]: 1,
  [Op.Started]: 1,
  [Op.Failed]: 2,
  [Op.Stopped]: 1,
  [Op.TellTo]: 2,
  [Op.AskTo]: 3,
  [Op.DeadLetter]: 3,
  [Op.Watch]: 2,
  [Op.Unwatch]: 1,
  [Op.Terminated]: 2,
  [Op.StopActor]: 1,
  [Op.Hold]: 2,
  [Op.Credit]: 4,
  [Op.Seq]: 1,
  [Op.Ack]: 1,
  [Op.Log]: 3,
  [Op.Recount]: 2,
  [Op.Recounted]: 6,
} as const satisfies { readonly [K in Op]: Frames[K]['length'] });

/** The number of fields after `op`, or undefined for an opcode this side does not know. */
export function arityOf(op: unknown): number | undefined {
  return ARITY[op as Op];
}

/** Where a runtime lives: one incarnation of a node of a cluster. */
export interface NodeAddress {
  readonly cluster: string;
  readonly node: string;
  /** A new value each time the node starts: refs to an earlier incarnation are dead. */
  readonly incarnation: string;
}

/**
 * A ref inside a message, as it crosses a link: the actor's home node, its
 * path there, and its uid (the id of that one actor; a new actor at the same
 * path is a different one). Without `uid` it names whatever lives at `path`
 * (a selection). A ref whose actor lives inside a worker thread carries the
 * address of the node that thread belongs to: the node routes by path.
 */
export interface WireRef {
  $troupeRef: {
    path: string;
    uid?: string;
    cluster?: string;
    node?: string;
    incarnation?: string;
  };
}

/** An error inside a message, as it crosses a link. */
export interface WireError {
  $troupeError: SerializedError;
}

/** A termination reason as it crosses a link (`error` serialised). */
export type WireReason =
  | { kind: 'stopped' }
  | { kind: 'shutdown' }
  | { kind: 'address-terminated' }
  | { kind: 'failed'; error: SerializedError };

/** What a host needs to start an actor for a proxy. */
export interface SpawnFrame {
  handle: number;
  module: string;
  exportName: string;
  /** The spawn input, encoded like a message and taken at the spawn call. */
  input: unknown;
  name: string;
  path: string;
  /** The proxy's own ref: what `ctx.self` of the hosted actor stands for when it is sent anywhere. */
  self: WireRef;
  /**
   * Most messages the proxy wants in flight to the actor at once (its own
   * mailbox capacity, or the default window): the host grants at most this
   * much credit, and less if the actor's own mailbox is smaller.
   */
  window: number;
}

export type { SerializedError };
