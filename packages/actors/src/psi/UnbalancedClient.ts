/**
 * The client role of unbalanced PSI. Its reader hands it the client's unique
 * key points (as in the balanced protocol: scanned, hashed, deduplicated, in a
 * random order); for each batch it
 *
 * 1. blinds them on its workers (`r * H1(u)`, a fresh r per item) and sends
 *    only the blinded points to the server;
 * 2. unblinds the server's answers with `r^-1` and finalizes them into OPRF
 *    outputs `H2(u, k * H1(u))` (the blinds never leave the client);
 * 3. compares its outputs with the server's cache entries: from its own copy
 *    of the cache when the server announces the same digest, otherwise pulled
 *    from the server chunk by chunk (and kept as a new copy when asked), the
 *    transfer checked against the announced SHA-256.
 *
 * The work is proportional to the client's set, plus one pass over the
 * entries (a hash-set probe each). Only the client learns the intersection;
 * its writer writes its matched rows, sorted by key, as in the balanced run.
 */
import { createHash, type Hash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import { type ActorRef, defineActor, type Replier } from '@troupe/core';
import { DoubleSet, words } from './DoubleSet.js';
import { OprfCacheError, PsiInterruptedError } from './errors.js';
import { type OpenedReplica, openReplica, ReplicaWriter, readEntries } from './OprfFiles.js';
import type { OprfWorkerMsg } from './OprfWorker.js';
import { OPRF_OUTPUT_BYTES, OPRF_SUITE } from './oprf.js';
import type { PartyConfig, WriterMsg } from './protocol.js';
import {
  type ClientMsg,
  ENTRIES_PER_CHUNK,
  type ToClientMsg,
  type ToServerMsg,
  UNBALANCED_PROTOCOL,
  type UnbalancedEvent,
} from './unbalancedProtocol.js';

export interface ClientInput {
  config: PartyConfig;
  workers: ActorRef<OprfWorkerMsg>[];
  writer: ActorRef<WriterMsg>;
  job: ActorRef<UnbalancedEvent>;
  /** Where the client keeps its copy of the server's cache entries (none: fetch every time). */
  copyFile?: string;
}

interface Pending {
  us: Uint8Array;
  uids: Uint32Array;
  blinds: Uint8Array | undefined;
}

type Welcome = Extract<ToClientMsg, { type: 'u-welcome' }>;

interface Job {
  kind: 'hash' | 'blind' | 'unblind';
  index: number;
  replier: Replier<Uint8Array> | undefined;
}

interface State {
  peer: ActorRef<ToServerMsg> | undefined;
  welcome: Welcome | undefined;
  replica: OpenedReplica | undefined;
  jobs: Map<number, Job>;
  nextJob: number;
  turn: number;
  pending: Map<number, Pending>;
  /** Batches taken from the reader and not yet finalized. */
  open: number;
  waiting: Replier<boolean>[];
  /** OPRF outputs by uid, 3 words each. */
  outputs: Uint32Array;
  batches: number | undefined;
  uniqueKeys: number;
  finalized: number;
  started: boolean;
  // The entries pass.
  mine: DoubleSet | undefined;
  hits: DoubleSet;
  received: number;
  pulled: number;
  digest: Hash;
  copy: ReplicaWriter | undefined;
  done: boolean;
  aborted: boolean;
}

/** Batches a client keeps open at once (the reader waits beyond). */
const OPEN_BATCHES = 8;
/** Entry chunks asked for ahead of the one being compared. */
const PULL_AHEAD = 4;

export const UnbalancedClient = defineActor<ClientMsg, State, ClientInput>({
  name: 'psi-unbalanced-client',
  init: async (ctx) => {
    const copy = ctx.input.copyFile;
    return {
      peer: undefined,
      welcome: undefined,
      // A copy that is damaged is refused here, with the reason; one that is missing is simply fetched.
      replica: copy === undefined ? undefined : await openReplica(copy),
      jobs: new Map(),
      nextJob: 1,
      turn: 0,
      pending: new Map(),
      open: 0,
      waiting: [],
      outputs: new Uint32Array(3 * 1024),
      batches: undefined,
      uniqueKeys: 0,
      finalized: 0,
      started: false,
      mine: undefined,
      hits: new DoubleSet(),
      received: 0,
      pulled: 0,
      digest: createHash('sha256'),
      copy: undefined,
      done: false,
      aborted: false,
    };
  },
  receive: async (s, msg, ctx) => {
    if (s.aborted || msg.type === 'abort') {
      if (msg.type === 'abort' && !s.aborted) {
        s.aborted = true;
        const aborted = new PsiInterruptedError('aborted');
        for (const w of s.waiting.splice(0)) w.fail(aborted);
        for (const j of s.jobs.values()) j.replier?.fail(aborted);
        s.jobs.clear();
        await s.copy?.abort();
        s.copy = undefined;
      }
      // The reader's asks fail (it stops quietly on this error); anything else that asks is answered.
      if (msg.type === 'hash' || msg.type === 'own-batch') ctx.replyError(new PsiInterruptedError('aborted'));
      else if (ctx.expectsReply) ctx.reply(true);
      return;
    }
    const { config, workers } = ctx.input;
    const side = 'client';
    const run = (kind: Job['kind'], index: number, message: OprfWorkerMsg, replier?: Replier<Uint8Array>) => {
      const id = s.nextJob++;
      s.jobs.set(id, { kind, index, replier });
      const w = s.turn++ % workers.length;
      ctx.ask(workers[w] as ActorRef<OprfWorkerMsg>, message, { timeoutMs: 600_000 }).then(
        (result) => ctx.tell(ctx.self, { type: 'job-done', job: id, result }),
        (error) => ctx.tell(ctx.self, { type: 'job-failed', job: id, error }),
      );
    };
    switch (msg.type) {
      case 'peer':
        s.peer = msg.peer;
        ctx.tell(s.peer, {
          type: 'u-hello',
          protocol: UNBALANCED_PROTOCOL,
          suite: OPRF_SUITE,
          keyColumns: config.keyColumns.length,
          have: s.replica?.header.digest ?? '',
        });
        return;
      case 'u-welcome': {
        if (msg.protocol !== UNBALANCED_PROTOCOL || msg.suite !== OPRF_SUITE) {
          throw new Error(
            `psi ${side}: the server speaks protocol ${msg.protocol} (${msg.suite}); this client speaks ${UNBALANCED_PROTOCOL} (${OPRF_SUITE})`,
          );
        }
        if (msg.keyColumns !== config.keyColumns.length) {
          throw new OprfCacheError(
            '(server)',
            'mismatch',
            `was made with ${msg.keyColumns} key column(s); this query names ${config.keyColumns.length} (${config.keyColumns.join(',')}): both sides must key on the same columns`,
          );
        }
        s.welcome = msg;
        break;
      }
      case 'u-error':
        throw new Error(`psi ${side}: the server refused: ${msg.message} (${msg.code})`);
      case 'hash':
        run('hash', 0, { type: 'hash', keys: msg.keys, offsets: msg.offsets }, ctx.deferReply<Uint8Array>());
        return;
      case 'own-batch': {
        s.pending.set(msg.index, { us: msg.points, uids: msg.uids, blinds: undefined });
        s.open++;
        run('blind', msg.index, { type: 'blind', us: msg.points });
        if (s.open < OPEN_BATCHES) ctx.reply(true);
        else s.waiting.push(ctx.deferReply<boolean>());
        return;
      }
      case 'own-end':
        s.batches = msg.batches;
        s.uniqueKeys = msg.uniqueKeys;
        break;
      case 'u-evaluated': {
        const p = s.pending.get(msg.index);
        if (p === undefined || p.blinds === undefined)
          throw new Error(`psi ${side}: the server answered unknown batch ${msg.index}`);
        if (msg.points.byteLength !== p.us.byteLength) {
          throw new Error(
            `psi ${side}: the server answered batch ${msg.index} with ${msg.points.byteLength} bytes for ${p.uids.length} points`,
          );
        }
        const blinds = p.blinds;
        p.blinds = undefined;
        run('unblind', msg.index, {
          type: 'unblind',
          us: p.us,
          evaluated: msg.points,
          blinds,
          where: `in the server's answer to batch ${msg.index}`,
        });
        return;
      }
      case 'u-entries':
        await compare(s, msg.index, msg.bytes);
        if (s.pulled < (s.welcome as Welcome).chunks) pull(s, ctx.self, s.pulled++);
        break;
      case 'job-done': {
        const job = s.jobs.get(msg.job);
        if (job === undefined) return;
        s.jobs.delete(msg.job);
        if (job.kind === 'hash') {
          job.replier?.reply(msg.result as Uint8Array);
          return;
        }
        const p = s.pending.get(job.index) as Pending;
        if (job.kind === 'blind') {
          const { blinded, blinds } = msg.result as { blinded: Uint8Array; blinds: Uint8Array };
          p.blinds = blinds;
          ctx.tell(s.peer as ActorRef<ToServerMsg>, { type: 'u-blinded', index: job.index, points: blinded });
          return;
        }
        // Unblinded and finalized: file each output under its uid.
        const out = words(msg.result as Uint8Array);
        for (let i = 0; i < p.uids.length; i++) {
          const uid = p.uids[i] as number;
          if (3 * uid + 3 > s.outputs.length) {
            let n = s.outputs.length;
            while (n < 3 * uid + 3) n *= 2;
            const grown = new Uint32Array(n);
            grown.set(s.outputs);
            s.outputs = grown;
          }
          s.outputs[3 * uid] = out[3 * i] as number;
          s.outputs[3 * uid + 1] = out[3 * i + 1] as number;
          s.outputs[3 * uid + 2] = out[3 * i + 2] as number;
        }
        s.pending.delete(job.index);
        s.finalized++;
        s.open--;
        ctx.tell(ctx.input.job, { type: 'progress', delta: { done: p.uids.length } });
        while (s.waiting.length > 0 && s.open < OPEN_BATCHES) s.waiting.shift()?.reply(true);
        break;
      }
      case 'job-failed': {
        s.jobs.get(msg.job)?.replier?.fail(msg.error);
        throw msg.error;
      }
    }
    // Everything of ours is evaluated: compare with the server's entries (once).
    const welcome = s.welcome;
    if (!s.started && welcome !== undefined && s.batches !== undefined && s.finalized === s.batches) {
      s.started = true;
      const mine = new DoubleSet(s.uniqueKeys);
      for (let uid = 0; uid < s.uniqueKeys; uid++) {
        mine.add(s.outputs[3 * uid] as number, s.outputs[3 * uid + 1] as number, s.outputs[3 * uid + 2] as number);
      }
      s.mine = mine;
      if (s.replica !== undefined && s.replica.header.digest === welcome.digest) {
        await compareCopy(s, s.replica);
      } else {
        if (ctx.input.copyFile !== undefined) s.copy = await ReplicaWriter.open(ctx.input.copyFile);
        while (s.pulled < Math.min(PULL_AHEAD, welcome.chunks)) pull(s, ctx.self, s.pulled++);
      }
    }
    if (!s.done && s.mine !== undefined && welcome !== undefined && s.received === welcome.chunks) {
      s.done = true;
      const fromCopy = s.copy === undefined && s.replica !== undefined && s.replica.header.digest === welcome.digest;
      if (!fromCopy) {
        const got = s.digest.digest('hex');
        if (got !== welcome.digest) {
          throw new Error(
            `psi ${side}: the cache entries received do not match the digest the server announced (${got} != ${welcome.digest})`,
          );
        }
        await s.copy?.finish();
        s.copy = undefined;
      }
      const matched = new Uint8Array(s.uniqueKeys);
      let matchedKeys = 0;
      for (let uid = 0; uid < s.uniqueKeys; uid++) {
        if (
          s.hits.has(s.outputs[3 * uid] as number, s.outputs[3 * uid + 1] as number, s.outputs[3 * uid + 2] as number)
        ) {
          matched[uid] = 1;
          matchedKeys++;
        }
      }
      ctx.tell(ctx.input.writer, { type: 'write', matched, spilledBytes: 0 });
      ctx.tell(ctx.input.job, {
        type: 'client-matched',
        matchedKeys,
        transferred: fromCopy ? 0 : welcome.count * OPRF_OUTPUT_BYTES,
        fromCopy,
      });
      ctx.tell(s.peer as ActorRef<ToServerMsg>, { type: 'u-done' });
    }
  },
  afterStop: async (s) => {
    await s.copy?.abort();
    // The reader must not wait on a client role that is gone (the runtime does not fail deferred replies).
    const stopped = new PsiInterruptedError('the client role stopped');
    for (const w of s.waiting.splice(0)) w.fail(stopped);
    for (const j of s.jobs.values()) j.replier?.fail(stopped);
    s.jobs.clear();
  },
});

/** Asks the server for entry chunk `index` (through the peer ref). */
function pull(s: State, _self: ActorRef<ClientMsg>, index: number): void {
  (s.peer as ActorRef<ToServerMsg>).tell({ type: 'u-pull', index });
}

/** Compares one chunk of entries with our outputs, and keeps it in the new copy. */
async function compare(s: State, _index: number, bytes: Uint8Array): Promise<void> {
  s.digest.update(bytes);
  await s.copy?.append(bytes);
  probe(s, bytes);
  s.received++;
}

function probe(s: State, bytes: Uint8Array): void {
  const mine = s.mine as DoubleSet;
  const w = words(bytes);
  for (let i = 0; i < w.length; i += 3) {
    const a = w[i] as number;
    const b = w[i + 1] as number;
    const c = w[i + 2] as number;
    if (mine.has(a, b, c)) s.hits.add(a, b, c);
  }
}

/** Compares every entry of our verified copy (no transfer). */
async function compareCopy(s: State, replica: OpenedReplica): Promise<void> {
  const file: FileHandle = await open(replica.path, 'r');
  try {
    const count = replica.header.count;
    for (let from = 0; from < count; from += ENTRIES_PER_CHUNK) {
      probe(s, await readEntries(file, replica.entriesAt, from, Math.min(ENTRIES_PER_CHUNK, count - from)));
      s.received++;
    }
  } finally {
    await file.close();
  }
}
