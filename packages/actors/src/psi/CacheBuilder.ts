/**
 * The offline step of unbalanced PSI: takes the server's unique key points
 * from its reader (in the reader's random order), computes their OPRF
 * outputs `H2(u, k * H1(u))` on the server's workers, and streams them into
 * the cache file ({@link CacheWriter}: atomic, mode 0600, HMAC at the end).
 * The entries keep the random order, so the cache says nothing of the
 * server file's order.
 */
import { type ActorRef, defineActor, type Replier } from '@troupe/core';
import { PsiInterruptedError } from './errors.js';
import { CacheWriter, keyId } from './OprfFiles.js';
import type { OprfWorkerMsg } from './OprfWorker.js';
import type { ClientMsg, UnbalancedEvent } from './unbalancedProtocol.js';

export interface CacheBuilderInput {
  workers: ActorRef<OprfWorkerMsg>[];
  cacheFile: string;
  /** The server key (main-thread copy, for the cache's key id and HMAC key only; the caller zeroes it). */
  key: Uint8Array;
  keyColumns: string[];
  source: { file: string; size: number; mtimeMs: number };
  job: ActorRef<UnbalancedEvent>;
}

interface Job {
  id: number;
  message: OprfWorkerMsg;
  worker: number;
  replier: Replier<Uint8Array> | undefined;
  batch: boolean;
}

interface State {
  out: CacheWriter;
  inFlight: Map<number, Job>;
  perWorker: number[];
  next: number;
  waiting: Replier<boolean>[];
  queued: number;
  batches: number | undefined;
  uniqueKeys: number;
  done: number;
  finished: boolean;
  aborted: boolean;
}

export const CacheBuilder = defineActor<ClientMsg, State, CacheBuilderInput>({
  name: 'psi-cache-builder',
  init: async (ctx) => ({
    out: await CacheWriter.open(ctx.input.cacheFile, ctx.input.key),
    inFlight: new Map(),
    perWorker: ctx.input.workers.map(() => 0),
    next: 1,
    waiting: [],
    queued: 0,
    batches: undefined,
    uniqueKeys: 0,
    done: 0,
    finished: false,
    aborted: false,
  }),
  receive: async (s, msg, ctx) => {
    if (s.aborted || msg.type === 'abort') {
      if (msg.type === 'abort' && !s.aborted) {
        s.aborted = true;
        const aborted = new PsiInterruptedError('aborted');
        for (const w of s.waiting.splice(0)) w.fail(aborted);
        for (const j of s.inFlight.values()) j.replier?.fail(aborted);
        s.inFlight.clear();
        if (!s.finished) await s.out.abort();
        s.finished = true;
      }
      // The reader's asks fail (it stops quietly on this error); anything else that asks is answered.
      if (msg.type === 'hash' || msg.type === 'own-batch') ctx.replyError(new PsiInterruptedError('aborted'));
      else if (ctx.expectsReply) ctx.reply(true);
      return;
    }
    const limit = 2 * ctx.input.workers.length;
    const run = (message: OprfWorkerMsg, replier: Replier<Uint8Array> | undefined, batch: boolean) => {
      let w = 0;
      for (let i = 1; i < s.perWorker.length; i++) if ((s.perWorker[i] as number) < (s.perWorker[w] as number)) w = i;
      const job: Job = { id: s.next++, message, worker: w, replier, batch };
      s.perWorker[w] = (s.perWorker[w] as number) + 1;
      s.inFlight.set(job.id, job);
      ctx.ask<Uint8Array>(ctx.input.workers[w] as ActorRef<OprfWorkerMsg>, message, { timeoutMs: 600_000 }).then(
        (result) => ctx.tell(ctx.self, { type: 'job-done', job: job.id, result }),
        (error) => ctx.tell(ctx.self, { type: 'job-failed', job: job.id, error }),
      );
    };
    switch (msg.type) {
      case 'hash':
        run({ type: 'hash', keys: msg.keys, offsets: msg.offsets }, ctx.deferReply<Uint8Array>(), false);
        return;
      case 'own-batch': {
        run({ type: 'prf', us: msg.points }, undefined, true);
        s.queued++;
        if (s.queued < limit) ctx.reply(true);
        else s.waiting.push(ctx.deferReply<boolean>());
        return;
      }
      case 'own-end':
        s.batches = msg.batches;
        s.uniqueKeys = msg.uniqueKeys;
        break;
      case 'job-done': {
        const job = s.inFlight.get(msg.job);
        if (job === undefined) return;
        s.inFlight.delete(msg.job);
        s.perWorker[job.worker] = (s.perWorker[job.worker] as number) - 1;
        if (!job.batch) {
          job.replier?.reply(msg.result as Uint8Array);
          return;
        }
        const entries = msg.result as Uint8Array;
        await s.out.append(entries);
        s.done++;
        s.queued--;
        ctx.tell(ctx.input.job, { type: 'progress', delta: { done: entries.byteLength / 12 } });
        while (s.waiting.length > 0 && s.queued < limit) s.waiting.shift()?.reply(true);
        break;
      }
      case 'job-failed': {
        const job = s.inFlight.get(msg.job);
        job?.replier?.fail(msg.error);
        throw msg.error;
      }
      default:
        return;
    }
    if (s.finished || s.batches === undefined || s.done < s.batches) return;
    s.finished = true;
    const header = await s.out.finish({
      keyId: keyId(ctx.input.key),
      keyColumns: ctx.input.keyColumns,
      source: ctx.input.source,
    });
    ctx.tell(ctx.input.job, { type: 'cache-built', count: header.count, uniqueKeys: s.uniqueKeys, rows: 0 });
  },
  afterStop: async (s) => {
    if (!s.finished) await s.out.abort();
    // The reader must not wait on a builder that is gone (the runtime does not fail deferred replies).
    const stopped = new PsiInterruptedError('the cache builder stopped');
    for (const w of s.waiting.splice(0)) w.fail(stopped);
    for (const j of s.inFlight.values()) j.replier?.fail(stopped);
    s.inFlight.clear();
  },
});
