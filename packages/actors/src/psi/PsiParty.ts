/**
 * One party of a PSI run: a subtree of a reader, maskers on worker threads
 * (one per host thread, holding this party's key), an exchanger, a matcher
 * and a writer. The party draws a fresh key per run, hands copies to its
 * maskers and zeroes its own; the maskers zero theirs when they stop.
 *
 * Maskers start as the work needs them: one at first, another each time the
 * exchanger has more queued than its maskers take (`want-masker`), up to
 * `threads`; so a small input starts one thread, not one per core. The key is
 * kept (for the maskers still to come) until the last one has started or the
 * party stops, then zeroed.
 *
 * A masker whose thread dies is restarted by this party (bounded), and the
 * exchanger redoes its unfinished batches. Any other child that fails (bad
 * input in the reader, a broken invariant) is stopped, and the party reports
 * the failure to its job, which aborts the run.
 */
import { type ActorContext, type ActorRef, defineActor, restart, stop, type Terminated } from '@troupe/core';
import { Exchanger } from './Exchanger.js';
import { maskerSpec } from './Masker.js';
import { Matcher } from './Matcher.js';
import type { ExchangerMsg, MaskerMsg, PartyConfig, PartyEvent, WriterMsg } from './protocol.js';
import { Reader } from './Reader.js';
import { Writer } from './Writer.js';
import { generateKey, zeroKey } from './x25519.js';

export type PartyMsg =
  | PartyEvent
  | { type: 'get-exchanger' }
  | { type: 'peer'; peer: ActorRef<ExchangerMsg> }
  | { type: 'commit' }
  | { type: 'abort' };

export interface PartyInput {
  config: PartyConfig;
  job: ActorRef<PartyEvent>;
}

interface PartyState {
  /** The party's key, until every masker it may start has its copy (then zeroed, and undefined). */
  key: Uint8Array | undefined;
  exchanger: ActorRef<ExchangerMsg>;
  writer: ActorRef<WriterMsg>;
  reader: ActorRef<{ type: 'next' }>;
  maskers: ActorRef<MaskerMsg>[];
  failed: boolean;
}

export const PsiParty = defineActor<PartyMsg, PartyState, PartyInput>({
  name: 'psi-party',
  // Stages other than maskers do not restart: their errors are bad input or bugs, not transient.
  childSupervision: stop(),
  init: (ctx) => {
    const { config } = ctx.input;
    // A fresh key per party per run, from the OS CSPRNG (crypto.randomBytes).
    const key = generateKey();
    let maskers: ActorRef<MaskerMsg>[];
    try {
      maskers = [spawnMasker(ctx, config, key, 0)];
    } catch (error) {
      zeroKey(key);
      throw error;
    }
    if (config.threads === 1) zeroKey(key);
    const self = ctx.self as unknown as ActorRef<PartyEvent>;
    const writer = ctx.spawn(Writer, { name: 'writer', input: { config, party: self } });
    const matcher = ctx.spawn(Matcher, { name: 'matcher', input: { config, writer, party: self } });
    const exchanger = ctx.spawn(Exchanger, { name: 'exchanger', input: { config, maskers, matcher, party: self } });
    const reader = ctx.spawn(Reader, { name: 'reader', input: { config, exchanger, matcher, writer, party: self } });
    for (const child of [reader, exchanger, matcher, writer]) ctx.watch(child);
    ctx.tell(self, { type: 'progress', side: config.side, delta: { maskers: 1 } });
    return { key: config.threads === 1 ? undefined : key, exchanger, writer, reader, maskers, failed: false };
  },
  receive: (s, msg, ctx) => {
    switch (msg.type) {
      case 'get-exchanger':
        ctx.reply(s.exchanger);
        return;
      case 'peer':
        s.exchanger.tell(msg);
        return;
      case 'commit':
        s.writer.tell({ type: 'commit' });
        return;
      case 'abort': {
        // Answered (when asked) once the exchanger has stopped and the writer has dropped its temporary file.
        const reply = ctx.expectsReply ? ctx.deferReply<boolean>() : undefined;
        const ack = (ref: ActorRef<ExchangerMsg> | ActorRef<WriterMsg>) =>
          ctx.ask<boolean>(ref, { type: 'abort' }, { timeoutMs: 5_000 }).catch(() => false);
        void Promise.all([ack(s.exchanger), ack(s.writer)]).then(() => reply?.reply(true));
        return;
      }
      case 'want-masker': {
        const { config } = ctx.input;
        if (s.key === undefined || s.maskers.length >= config.threads) return;
        const masker = spawnMasker(ctx, config, s.key, s.maskers.length);
        s.maskers.push(masker);
        if (s.maskers.length >= config.threads) {
          // Every masker's proxy holds its own copy now; this one is no longer needed.
          zeroKey(s.key);
          s.key = undefined;
        }
        s.exchanger.tell({ type: 'masker-ready', masker });
        ctx.input.job.tell({ type: 'progress', side: config.side, delta: { maskers: 1 } });
        return;
      }
      default:
        // Progress and results go up to the job.
        ctx.input.job.tell(msg);
    }
  },
  afterStop: (s) => {
    if (s.key !== undefined) zeroKey(s.key);
    s.key = undefined;
  },
  onTerminated: (s, t: Terminated, ctx) => {
    if (t.reason.kind !== 'failed' || s.failed) return;
    s.failed = true;
    ctx.input.job.tell({ type: 'party-failed', side: ctx.input.config.side, error: t.reason.error });
  },
});

/**
 * Start masker `i` on host thread `i`. spawnWorker snapshots the input at the
 * call (the proxy's copy is zeroed when the masker stops for good).
 */
function spawnMasker(
  ctx: { spawnWorker: ActorContextSpawnWorker },
  config: PartyConfig,
  key: Uint8Array,
  i: number,
): ActorRef<MaskerMsg> {
  return ctx.spawnWorker(config.masker ?? maskerSpec, {
    name: `masker-${i}`,
    host: i,
    input: { key },
    // A thread that dies is replaced; one that keeps dying ends the run.
    supervision: restart().withLimit(5, 60_000).withBackoff({ minMs: 10, maxMs: 500, jitter: 0.2 }),
  });
}

type ActorContextSpawnWorker = ActorContext<PartyMsg, PartyInput>['spawnWorker'];
