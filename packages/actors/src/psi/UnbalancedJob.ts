/**
 * The jobs of unbalanced PSI, each a parent of the actors of one run:
 *
 * - {@link CacheJob} (offline): the server's reader and OPRF workers feed a
 *   {@link CacheBuilder}, which writes the cache.
 * - {@link QueryJob} (online): a server role ({@link UnbalancedServer}, its
 *   workers holding the key) and a client party (reader, workers, writer,
 *   {@link UnbalancedClient}), introduced to each other by ref (or through a
 *   relay, for audits), as the balanced job introduces its exchangers. The
 *   client's output is committed once written; any failure or a stop aborts
 *   it, leaving nothing.
 *
 * An abort (or a failure) trips the job's stop signal (the reader and the
 * writer end their message in flight at its next step) and tells the
 * builder or the client to abort, which refuses the reader from then on and
 * drops what it was writing: so the stop that follows abandons nothing.
 */
import {
  type ActorDefinition,
  type ActorRef,
  defineActor,
  type Replier,
  stop,
  type WorkerActorSpec,
} from '@troupe/core';
import { CacheBuilder } from './CacheBuilder.js';
import { PsiInterruptedError } from './errors.js';
import type { OpenedCache } from './OprfFiles.js';
import { type OprfWorkerInput, type OprfWorkerMsg, oprfWorkerSpec } from './OprfWorker.js';
import type { PartyConfig, PartyEvent, WriterMsg } from './protocol.js';
import { Reader } from './Reader.js';
import { StopSignal } from './StopSignal.js';
import { UnbalancedClient } from './UnbalancedClient.js';
import { UnbalancedServer } from './UnbalancedServer.js';
import type { ClientMsg, ServerMsg, ToClientMsg, ToServerMsg, UnbalancedEvent } from './unbalancedProtocol.js';
import { Writer } from './Writer.js';

/** Input of a relay put between the two roles: pass every message on to `to`. */
export interface UnbalancedRelayInput {
  from: 'client' | 'server';
  // biome-ignore lint/suspicious/noExplicitAny: the relay passes either direction's messages
  to: ActorRef<any>;
}

type JobMsg = PartyEvent | UnbalancedEvent | { type: 'result' } | { type: 'abort'; reason?: unknown };

interface Outcome<T> {
  waiting: Replier<T>[];
  outcome: { ok: T } | { error: unknown } | undefined;
}

function settle<T>(s: Outcome<T>, outcome: NonNullable<Outcome<T>['outcome']>): void {
  if (s.outcome !== undefined) return;
  s.outcome = outcome;
  for (const w of s.waiting.splice(0)) {
    if ('ok' in outcome) w.reply(outcome.ok);
    else w.fail(outcome.error);
  }
}

function answer<T>(
  s: Outcome<T>,
  ctx: { deferReply<R>(): Replier<R>; reply(v: unknown): void; replyError(e: unknown): void },
): void {
  if (s.outcome === undefined) s.waiting.push(ctx.deferReply<T>());
  else if ('ok' in s.outcome) ctx.reply(s.outcome.ok);
  else ctx.replyError(s.outcome.error);
}

function spawnWorkers(
  // biome-ignore lint/suspicious/noExplicitAny: any parent context
  ctx: any,
  prefix: string,
  threads: number,
  input: OprfWorkerInput,
  spec: WorkerActorSpec<OprfWorkerMsg, OprfWorkerInput> = oprfWorkerSpec,
): ActorRef<OprfWorkerMsg>[] {
  const out: ActorRef<OprfWorkerMsg>[] = [];
  for (let i = 0; i < threads; i++) out.push(ctx.spawnWorker(spec, { name: `${prefix}-${i}`, host: i, input }));
  return out;
}

// ---------------------------------------------------------------- offline: the cache

export interface CacheJobInput {
  config: PartyConfig;
  cacheFile: string;
  /** The OPRF key; its workers get copies (snapshots), the caller zeroes this one. */
  key: Uint8Array;
  source: { file: string; size: number; mtimeMs: number };
}

/** What the offline step reports. */
export interface CacheResult {
  rows: number;
  uniqueKeys: number;
  count: number;
}

interface CacheState extends Outcome<CacheResult> {
  rows: number;
  builder: ActorRef<ClientMsg>;
  stopping: AbortController;
}

/** Ends the run's work at once: the stop signal for the reader (and writer), `abort` for the others. */
function wind(stopping: AbortController, others: ActorRef<{ type: 'abort' }>[]): void {
  if (stopping.signal.aborted) return;
  stopping.abort(new PsiInterruptedError('aborted'));
  for (const ref of others) ref.tell({ type: 'abort' });
}

export const CacheJob = defineActor<JobMsg, CacheState, CacheJobInput>({
  name: 'psi-cache-job',
  childSupervision: stop(),
  init: (ctx) => {
    const { config, key, cacheFile, source } = ctx.input;
    const self = ctx.self as unknown as ActorRef<UnbalancedEvent & PartyEvent>;
    const workers = spawnWorkers(ctx, 'oprf', config.threads, { key });
    const builder = ctx.spawn(CacheBuilder, {
      name: 'builder',
      input: { workers, cacheFile, key, keyColumns: [...config.keyColumns], source, job: self },
    });
    const stopping = new AbortController();
    const reader = ctx.spawn(Reader, {
      name: 'reader',
      input: { config, exchanger: builder, party: self, signal: stopping.signal },
    });
    ctx.watch(builder);
    ctx.watch(reader);
    // Spawned last, stopped first: a stop without an abort trips the signal before the reader stops.
    ctx.spawn(StopSignal, { name: 'stop-signal', input: { controller: stopping } });
    return { waiting: [], outcome: undefined, rows: 0, builder, stopping };
  },
  receive: (s, msg, ctx) => {
    switch (msg.type) {
      case 'result':
        answer(s, ctx);
        return;
      case 'progress':
        if ('side' in msg) s.rows += msg.delta.rows ?? 0;
        return;
      case 'cache-built':
        settle(s, { ok: { rows: s.rows, uniqueKeys: msg.uniqueKeys, count: msg.count } });
        return;
      case 'failed':
        wind(s.stopping, [s.builder]);
        settle(s, { error: msg.error });
        return;
      case 'abort':
        wind(s.stopping, [s.builder]);
        settle(s, { error: msg.reason ?? new PsiInterruptedError('aborted') });
        return;
      default:
        return;
    }
  },
  onTerminated: (s, t) => {
    if (t.reason.kind !== 'failed') return;
    wind(s.stopping, [s.builder]);
    settle(s, { error: t.reason.error });
  },
  afterStop: (s) => settle(s, { error: new PsiInterruptedError('the actor system is shutting down') }),
});

// ---------------------------------------------------------------- online: a query

export interface QueryJobInput {
  /** The client party (its file, key columns, output file, limits, scratch folder). */
  config: PartyConfig;
  cache: OpenedCache;
  key: Uint8Array;
  copyFile?: string;
  // biome-ignore lint/suspicious/noExplicitAny: the relay's state is its own
  relay?: ActorDefinition<any, any, UnbalancedRelayInput>;
  /** The client's OPRF workers; default the built-in one (tests wrap it). */
  clientWorker?: WorkerActorSpec<OprfWorkerMsg, OprfWorkerInput>;
}

/** What a query reports. */
export interface QueryResult {
  rows: number;
  uniqueKeys: number;
  matchedRows: number;
  matchedKeys: number;
  /** Bytes of cache entries sent to the client (0 when it used its copy). */
  transferredBytes: number;
  fromCopy: boolean;
  serverEntries: number;
}

interface QueryState extends Outcome<QueryResult> {
  writer: ActorRef<WriterMsg>;
  client: ActorRef<ClientMsg>;
  stopping: AbortController;
  written: Extract<PartyEvent, { type: 'party-written' }> | undefined;
  matched: Extract<UnbalancedEvent, { type: 'client-matched' }> | undefined;
}

export const QueryJob = defineActor<JobMsg, QueryState, QueryJobInput>({
  name: 'psi-query-job',
  childSupervision: stop(),
  init: (ctx) => {
    const { config, cache, key, copyFile, relay } = ctx.input;
    const self = ctx.self as unknown as ActorRef<UnbalancedEvent & PartyEvent>;
    const serverWorkers = spawnWorkers(ctx, 'server-oprf', config.threads, { key });
    const server = ctx.spawn(UnbalancedServer, { name: 'server', input: { cache, workers: serverWorkers, job: self } });
    const clientWorkers = spawnWorkers(ctx, 'client-oprf', config.threads, {}, ctx.input.clientWorker);
    const stopping = new AbortController();
    const signal = stopping.signal;
    const writer = ctx.spawn(Writer, { name: 'writer', input: { config, party: self, signal } });
    const client = ctx.spawn(UnbalancedClient, {
      name: 'client',
      input: { config, workers: clientWorkers, writer, job: self, ...(copyFile !== undefined ? { copyFile } : {}) },
    });
    const reader = ctx.spawn(Reader, {
      name: 'reader',
      input: { config, exchanger: client, writer, party: self, signal },
    });
    for (const c of [server, writer, client, reader]) ctx.watch(c);
    ctx.spawn(StopSignal, { name: 'stop-signal', input: { controller: stopping } });
    // Introduce the roles: each gets the other's ref (or a relay to it), and nothing else.
    const toServer = relay
      ? (ctx.spawn(relay, { name: 'relay-client', input: { from: 'client', to: server } }) as ActorRef<ToServerMsg>)
      : (server as unknown as ActorRef<ToServerMsg>);
    const toClient = relay
      ? (ctx.spawn(relay, { name: 'relay-server', input: { from: 'server', to: client } }) as ActorRef<ToClientMsg>)
      : (client as unknown as ActorRef<ToClientMsg>);
    (server as ActorRef<ServerMsg>).tell({ type: 'peer', peer: toClient });
    (client as ActorRef<ClientMsg>).tell({ type: 'peer', peer: toServer });
    return {
      waiting: [],
      outcome: undefined,
      writer,
      client: client as ActorRef<ClientMsg>,
      stopping,
      written: undefined,
      matched: undefined,
    };
  },
  receive: (s, msg, ctx) => {
    switch (msg.type) {
      case 'result':
        answer(s, ctx);
        return;
      case 'client-matched':
        s.matched = msg;
        return;
      case 'party-written':
        s.written = msg;
        s.writer.tell({ type: 'commit' });
        return;
      case 'party-committed': {
        const w = s.written as Extract<PartyEvent, { type: 'party-written' }>;
        const m = s.matched;
        settle(s, {
          ok: {
            rows: w.rows,
            uniqueKeys: w.uniqueKeys,
            matchedRows: w.matchedRows,
            matchedKeys: w.matchedKeys,
            transferredBytes: m?.transferred ?? 0,
            fromCopy: m?.fromCopy ?? false,
            serverEntries: ctx.input.cache.header.count,
          },
        });
        return;
      }
      case 'failed':
      case 'party-failed':
        wind(s.stopping, [s.client, s.writer]);
        settle(s, { error: msg.error });
        return;
      case 'abort':
        wind(s.stopping, [s.client, s.writer]);
        settle(s, { error: msg.reason ?? new PsiInterruptedError('aborted') });
        return;
      default:
        return;
    }
  },
  onTerminated: (s, t) => {
    if (t.reason.kind !== 'failed') return;
    wind(s.stopping, [s.client, s.writer]);
    settle(s, { error: t.reason.error });
  },
  afterStop: (s) => settle(s, { error: new PsiInterruptedError('the actor system is shutting down') }),
});
