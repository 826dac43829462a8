import { type ActorRef, defineActor, workerActor } from '@troupe/core';
import { siblingModule } from '../shared/workerModule.js';
import { canonicalText } from './digest.js';
import type { HasherInput } from './Hasher.js';
import type {
  AggregateMsg,
  EnrichedReading,
  FlushResult,
  HasherStats,
  HashMsg,
  HashStageMsg,
  StageInput,
} from './protocol.js';

/** The hasher actor, as a worker thread finds it: module URL + export name. */
export const HasherSpec = workerActor<HashMsg, HasherInput>(siblingModule(import.meta.url, 'Hasher'), 'Hasher');

/** Spawn input of the hash stage. */
export interface HashStageInput extends StageInput<AggregateMsg> {
  /** Hasher actors to spawn, one per worker host thread (`host: i`). */
  readonly threads: number;
  /** SHA-256 rounds per reading. */
  readonly rounds: number;
  /** Readings per ask to a hasher. */
  readonly chunk: number;
  /** Most readings out on the hasher threads at once (rounded down to whole chunks, at least one). */
  readonly window: number;
  /** Timeout of one hash ask. */
  readonly hashTimeoutMs: number;
}

interface Chunk {
  readonly readings: readonly EnrichedReading[];
  readonly digests: Promise<string[]>;
}

interface HashStageState {
  readonly hashers: readonly ActorRef<HashMsg>[];
  /** Readings not yet sent to a hasher (fewer than a chunk). */
  pending: EnrichedReading[];
  /** Chunks out on the threads, oldest first: results go downstream in arrival order. */
  readonly window: Chunk[];
  turn: number;
}

/**
 * Stage 3 with `--worker-stage`: hash each reading on a pool of worker-thread
 * actors, its children, one per host thread.
 *
 * It sends readings to the hashers in chunks, round-robin, and keeps several
 * chunks out at once, so every thread always has work queued and no reading
 * pays a thread round trip of its own. When the window is full it awaits the
 * oldest chunk's digests and sends those readings on (awaiting room
 * downstream) before taking its next message: the window bounds what is on
 * the threads, the mailbox bounds what waits here, and a slow aggregator
 * still slows the source. A partial chunk waits for more readings or for the
 * flush at the end (a streaming service would add a linger timer).
 *
 * Why chunks: the runtime batches messages to a thread per microtask, and a
 * stage fed one message per promise continuation by `await send(...)` would
 * post one message per `postMessage` (see the README's notes).
 */
export const HashStage = defineActor<HashStageMsg, HashStageState, HashStageInput>({
  name: 'hash',
  init: (ctx) => ({
    hashers: Array.from({ length: ctx.input.threads }, (_, i) =>
      ctx.spawnWorker(HasherSpec, { name: `hash-${i}`, host: i, input: { rounds: ctx.input.rounds } }),
    ),
    pending: [],
    window: [],
    turn: 0,
  }),
  receive: async (state, msg, ctx) => {
    const { next, flushTimeoutMs, chunk, window } = ctx.input;
    const maxChunks = Math.max(1, Math.floor(window / chunk));
    const dispatch = () => {
      const readings = state.pending;
      state.pending = [];
      const hasher = state.hashers[state.turn++ % state.hashers.length] as ActorRef<HashMsg>;
      // ctx.ask (not hasher.ask): it counts as this actor's own traffic, so it
      // still goes out while a coordinated shutdown drains the pipeline.
      const digests = ctx.ask<string[]>(
        hasher,
        { type: 'hash', texts: readings.map(canonicalText) },
        { timeoutMs: ctx.input.hashTimeoutMs },
      );
      // Awaited later, in order; until then a rejection (a hasher's thread
      // died, shutdown) must not count as unhandled.
      digests.catch(() => {});
      state.window.push({ readings, digests });
    };
    if (msg.type === 'flush') {
      if (state.pending.length > 0) dispatch();
      while (state.window.length > 0) await passOldest(state, next);
      const hashers = await Promise.all(
        state.hashers.map((h) => ctx.ask<HasherStats>(h, { type: 'stats' }, { timeoutMs: flushTimeoutMs })),
      );
      const downstream = await ctx.ask<FlushResult>(next, msg, { timeoutMs: flushTimeoutMs });
      ctx.reply({ ...downstream, hashers });
      return;
    }
    state.pending.push(msg);
    if (state.pending.length < chunk) return state;
    dispatch();
    if (state.window.length >= maxChunks) {
      try {
        await passOldest(state, next);
      } catch (error) {
        // Interrupted: the send after an await is refused once shutdown has
        // closed intake (a dead letter, `shutting-down`), or the hashers have
        // stopped. What is still in flight cannot reach the aggregator now.
        if (!ctx.system.isShuttingDown) throw error;
        const dropped = state.pending.length + state.window.reduce((n, c) => n + c.readings.length, 0);
        ctx.log.info(`hash: shutting down; ${dropped} readings in flight not passed on (${String(error)})`);
        state.pending = [];
        state.window.length = 0;
      }
    }
    return state;
  },
});

/** Wait for the oldest chunk's digests, then send its readings downstream, each waiting for room there. */
async function passOldest(state: HashStageState, next: ActorRef<AggregateMsg>): Promise<void> {
  const { readings, digests } = state.window.shift() as Chunk;
  const hex = await digests;
  for (let i = 0; i < readings.length; i++) {
    await next.send({ ...(readings[i] as EnrichedReading), digest: hex[i] as string });
  }
}
