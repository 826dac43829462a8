/**
 * The wire protocol between the main thread and a worker host: the one file
 * of types both sides speak (like piscina's `types.ts`).
 *
 * Messages travel in batches: one `postMessage` carries a flat array of
 * frames, each an opcode followed by a fixed number of fields. A flat array
 * clones faster than an array of objects, and batching turns a million tells
 * into a thousand posts. Order within a batch, and between batches on the one
 * port, is the send order: that is what keeps per-pair FIFO across threads.
 *
 * Actors inside a worker are addressed by a small integer handle, unique per
 * host. Refs inside messages are replaced by {@link WireRef} markers.
 *
 * @internal
 */
import type { SerializedError } from '../errors.js';

/** Opcodes; the comment after each names the fields that follow it. */
export const Op = {
  /** main→worker: handle, message */
  Tell: 1,
  /** main→worker: handle, message (contains refs: decode it) */
  TellRefs: 2,
  /** main→worker: handle, message, replyId */
  Ask: 3,
  /** both ways: replyId, value */
  Reply: 4,
  /** both ways: replyId, SerializedError */
  ReplyError: 5,
  /** main→worker: SpawnFrame */
  Spawn: 6,
  /** main→worker: handle, SerializedError (why) */
  Restart: 7,
  /** main→worker: handle */
  Resume: 8,
  /** main→worker: handle */
  Stop: 9,
  /** worker→main: handle (the actor is running: after spawn or restart) */
  Started: 10,
  /** worker→main: handle, SerializedError (the hosted actor failed; it is suspended) */
  Failed: 11,
  /** worker→main: handle */
  Stopped: 12,
  /** worker→main: mainId, message (a tell to a ref that lives on the main thread) */
  TellMain: 13,
  /** worker→main: mainId, message, replyId */
  AskMain: 14,
  /** worker→main: recipient path, message type, reason */
  DeadLetter: 15,
} as const;
export type Op = (typeof Op)[keyof typeof Op];

/** What a worker needs to start a hosted actor. */
export interface SpawnFrame {
  handle: number;
  module: string;
  exportName: string;
  input: unknown;
  name: string;
  path: string;
  /** The main-side registry id of the actor's proxy, so `ctx.self` passed by message routes back. */
  mainId: string;
}

/** A ref inside a message, as it crosses a thread. */
export interface WireRef {
  $troupeRef: {
    path: string;
    /** Registry id on the main thread (refs to main-side actors and proxies). */
    mainId?: string;
    /** A worker-local actor: host index and its handle there. */
    host?: number;
    handle?: number;
  };
}

/** Data the main thread hands a new worker host. */
export interface HostWorkerData {
  hostIndex: number;
  /** For source (TypeScript) mode: the entry to import after registering the loader. */
  tsEntry?: string;
}

export type Frame = unknown[];
export type { SerializedError };
