/**
 * The server role of unbalanced PSI, online: it holds a verified cache and
 * its OPRF key (in its workers only), welcomes a client, multiplies the
 * client's blinded points by the key (refusing any point outside the group),
 * and hands out the cache's entries chunk by chunk to a client that has no
 * copy of them yet. It never sees the client's keys, their hashes, or the
 * OPRF outputs of the client's items: only blinded points, one per unique
 * client key.
 */
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { type ActorRef, defineActor } from '@troupe/core';
import { type OpenedCache, readEntries } from './OprfFiles.js';
import type { OprfWorkerMsg } from './OprfWorker.js';
import { OPRF_SUITE, POINT_BYTES } from './oprf.js';
import {
  ENTRIES_PER_CHUNK,
  type ServerMsg,
  type ToClientMsg,
  UNBALANCED_PROTOCOL,
  type UnbalancedEvent,
} from './unbalancedProtocol.js';

export interface ServerInput {
  cache: OpenedCache;
  workers: ActorRef<OprfWorkerMsg>[];
  job: ActorRef<UnbalancedEvent>;
}

interface State {
  peer: ActorRef<ToClientMsg> | undefined;
  file: FileHandle;
  pending: Map<number, number>;
  next: number;
  turn: number;
  evaluated: number;
  failed: boolean;
}

/** Largest blinded batch the server accepts (a bound on one message's work and memory). */
const MAX_BATCH = 1 << 16;

export const UnbalancedServer = defineActor<ServerMsg, State, ServerInput>({
  name: 'psi-unbalanced-server',
  init: async (ctx) => ({
    peer: undefined,
    file: await open(ctx.input.cache.path, 'r'),
    pending: new Map(),
    next: 1,
    turn: 0,
    evaluated: 0,
    failed: false,
  }),
  receive: async (s, msg, ctx) => {
    const { cache, workers, job } = ctx.input;
    const header = cache.header;
    const refuse = (code: string, message: string) => {
      if (s.failed) return;
      s.failed = true;
      if (s.peer !== undefined) ctx.tell(s.peer, { type: 'u-error', code, message });
      ctx.tell(job, { type: 'failed', error: new Error(`psi server: ${message}`) });
    };
    switch (msg.type) {
      case 'peer':
        s.peer = msg.peer;
        return;
      case 'u-hello': {
        if (msg.protocol !== UNBALANCED_PROTOCOL || msg.suite !== OPRF_SUITE) {
          refuse(
            'ERR_PSI_HANDSHAKE',
            `client speaks protocol ${msg.protocol} with suite ${JSON.stringify(msg.suite)}; this server speaks protocol ${UNBALANCED_PROTOCOL} with ${OPRF_SUITE}`,
          );
          return;
        }
        ctx.tell(s.peer as ActorRef<ToClientMsg>, {
          type: 'u-welcome',
          protocol: UNBALANCED_PROTOCOL,
          suite: OPRF_SUITE,
          keyColumns: header.keyColumns.length,
          count: header.count,
          digest: header.digest,
          chunks: Math.ceil(header.count / ENTRIES_PER_CHUNK),
        });
        return;
      }
      case 'u-blinded': {
        const n = msg.points.byteLength / POINT_BYTES;
        if (!Number.isInteger(n) || n < 1 || n > MAX_BATCH) {
          refuse(
            'ERR_PSI_BAD_BATCH',
            `blinded batch ${msg.index} has ${msg.points.byteLength} bytes (expected 1 to ${MAX_BATCH} points of 32)`,
          );
          return;
        }
        const id = s.next++;
        s.pending.set(id, msg.index);
        const w = s.turn++ % workers.length;
        ctx
          .ask<Uint8Array>(
            workers[w] as ActorRef<OprfWorkerMsg>,
            { type: 'evaluate', points: msg.points, where: `in blinded batch ${msg.index}` },
            { timeoutMs: 600_000 },
          )
          .then(
            (result) => ctx.tell(ctx.self, { type: 'job-done', job: id, result }),
            (error) => ctx.tell(ctx.self, { type: 'job-failed', job: id, error }),
          );
        return;
      }
      case 'job-done': {
        const index = s.pending.get(msg.job);
        if (index === undefined || s.failed) return;
        s.pending.delete(msg.job);
        const points = msg.result as Uint8Array;
        s.evaluated += points.byteLength / POINT_BYTES;
        ctx.tell(s.peer as ActorRef<ToClientMsg>, { type: 'u-evaluated', index, points });
        return;
      }
      case 'job-failed': {
        const error = msg.error as { name?: string; message?: string };
        refuse(error.name === 'InvalidPointError' ? 'ERR_PSI_INVALID_POINT' : 'ERR_PSI_SERVER', String(error.message));
        return;
      }
      case 'u-pull': {
        const chunks = Math.ceil(header.count / ENTRIES_PER_CHUNK);
        if (!Number.isInteger(msg.index) || msg.index < 0 || msg.index >= chunks) {
          refuse('ERR_PSI_BAD_PULL', `client asked for entry chunk ${msg.index}; the cache has ${chunks}`);
          return;
        }
        const from = msg.index * ENTRIES_PER_CHUNK;
        const bytes = await readEntries(
          s.file,
          cache.entriesAt,
          from,
          Math.min(ENTRIES_PER_CHUNK, header.count - from),
        );
        ctx.tell(s.peer as ActorRef<ToClientMsg>, { type: 'u-entries', index: msg.index, bytes });
        return;
      }
      case 'u-done':
        ctx.tell(job, { type: 'progress', delta: {} });
        return;
    }
  },
  afterStop: (s) => s.file.close(),
});
