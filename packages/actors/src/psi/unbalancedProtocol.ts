/**
 * What the two roles of unbalanced PSI say to each other. Like the balanced
 * exchangers, they talk only through a ref they are given and messages of
 * plain data (numbers, short strings, byte arrays), so a transport can later
 * put them in two processes without changing this protocol.
 *
 *   client                              server
 *   u-hello {protocol, suite, keyColumns, have}  →
 *                                     ← u-welcome {count, digest, ...}
 *   u-blinded {index, points}  →        (r * H1(u), fresh r per item)
 *                                     ← u-evaluated {index, points}   (k * ...)
 *   u-pull {index}  →                   (only when the client has no copy of this cache)
 *                                     ← u-entries {index, bytes}
 *   u-done  →
 *                                     ← u-error {code, message}      (instead of an answer)
 */
import type { ActorRef } from '@troupe/core';
import type { ReaderOutMsg } from './Reader.js';

/** The protocol version both roles check in the handshake. */
export const UNBALANCED_PROTOCOL = 1;
/** Cache entries per `u-entries` message (12 bytes each: 768 KiB). */
export const ENTRIES_PER_CHUNK = 65_536;

/** Client to server. */
export type ToServerMsg =
  | { type: 'u-hello'; protocol: number; suite: string; keyColumns: number; have: string }
  | { type: 'u-blinded'; index: number; points: Uint8Array }
  | { type: 'u-pull'; index: number }
  | { type: 'u-done' };

/** Server to client. */
export type ToClientMsg =
  | {
      type: 'u-welcome';
      protocol: number;
      suite: string;
      keyColumns: number;
      /** Entries in the cache, and the SHA-256 of them all (hex). */
      count: number;
      digest: string;
      chunks: number;
    }
  | { type: 'u-evaluated'; index: number; points: Uint8Array }
  | { type: 'u-entries'; index: number; bytes: Uint8Array }
  | { type: 'u-error'; code: string; message: string };

/** What the server role accepts: the client's messages, and its peer's ref from the job. */
export type ServerMsg = ToServerMsg | { type: 'peer'; peer: ActorRef<ToClientMsg> } | InternalDone;

/**
 * What the client role (and the cache builder) accepts: its reader's requests, the server's messages,
 * its peer's ref; and `abort` from its job, which refuses the reader from then on (its waiting and later
 * asks fail with `PsiInterruptedError`, so it stops quietly) and drops what was being written.
 */
export type ClientMsg =
  | ReaderOutMsg
  | ToClientMsg
  | { type: 'peer'; peer: ActorRef<ToServerMsg> }
  | InternalDone
  | { type: 'abort' };

/** A worker job finished (internal to a role). */
export type InternalDone =
  | { type: 'job-done'; job: number; result: unknown }
  | { type: 'job-failed'; job: number; error: unknown };

/** What the roles and the cache builder report to their job. */
export type UnbalancedEvent =
  | { type: 'progress'; delta: { rows?: number; uniqueKeys?: number; done?: number } }
  | { type: 'cache-built'; count: number; uniqueKeys: number; rows: number }
  | { type: 'client-matched'; matchedKeys: number; transferred: number; fromCopy: boolean }
  | { type: 'failed'; error: unknown };
