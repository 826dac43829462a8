/**
 * One PSI run with both parties in this process: two {@link PsiSession}s
 * (each its own party subtree and key), wired to each other directly, or
 * through a relay per direction, exactly as two processes would be over a
 * network. The sessions do the handshake and the commit between themselves;
 * the job only starts them, relays progress and aborts, and combines their
 * two summaries. A stop (shutdown) aborts both, so an interrupted run leaves
 * no output.
 */
import { join } from 'node:path';
import { type ActorDefinition, type ActorRef, defineActor, type Replier, stop } from '@troupe/core';
import { PsiInterruptedError, PsiPeerAbortedError, PsiPeerLostError } from './errors.js';
import type { PeerMsg, Reveal } from './PeerProtocol.js';
import {
  PsiSession,
  type SessionConfig,
  type SessionMsg,
  type SessionProgress,
  type SideSummary,
} from './PsiSession.js';
import type { PartyConfig, Side, SideProgress } from './protocol.js';

export type { SideSummary };

/** The result of a run. */
export interface PsiSummary {
  left: SideSummary;
  right: SideSummary;
  /** Keys in the intersection (unique), as the side(s) that learn it found. */
  intersection: number;
  reveal: Reveal;
  cardinalityOnly: boolean;
  threads: number;
  /** Worker threads the run actually used: maskers start as the work needs them, up to `threads`. */
  threadsUsed: number;
  batchSize: number;
  elapsedMs: number;
  /** Unique items masked per second, both parties together (each item is masked twice). */
  itemsPerSecond: number;
}

/** Options of the two sessions of a job. */
export interface JobSessionOptions {
  /** The session name (default `psi`); a resume must use the same. */
  name?: string;
  peerTimeoutMs?: number;
  heartbeatMs?: number;
  handshakeTimeoutMs?: number;
  /** Stage checkpoints, one folder per side under this one (`left/`, `right/`). */
  checkpointDir?: string;
  resume?: boolean;
}

export type JobMsg =
  | { type: 'result' }
  | { type: 'progress-snapshot' }
  | { type: 'abort'; reason?: unknown }
  | { type: 'session-done'; side: Side; ok?: SideSummary; error?: unknown };

export interface JobInput {
  left: PartyConfig;
  right: PartyConfig;
  /** An actor to put on the wire between the sessions (see {@link PsiRelayInput}); none by default. */
  // biome-ignore lint/suspicious/noExplicitAny: the relay's state is its own
  relay?: ActorDefinition<PeerMsg, any, PsiRelayInput>;
  session?: JobSessionOptions;
}

/**
 * Input of a relay: an actor the job puts between the two sessions, one per
 * direction, that must pass every message on to `to`. Everything that crosses
 * between the parties goes through it, so it is the place to audit (or test)
 * what a party reveals to its peer, exactly as a network link would carry it.
 */
export interface PsiRelayInput {
  /** The side whose session sends through this relay. */
  from: Side;
  /** The other side's port. */
  to: ActorRef<PeerMsg>;
}

/** Progress of both sides and the time since the start. */
export interface PsiProgress {
  left: SideProgress;
  right: SideProgress;
  elapsedMs: number;
}

type Outcome = { ok: SideSummary } | { error: unknown };

interface JobState {
  started: number;
  sessions: Record<Side, ActorRef<SessionMsg>>;
  ended: Partial<Record<Side, Outcome>>;
  /** Failures in the order they came. */
  errors: unknown[];
  waiting: Replier<PsiSummary>[];
  outcome: { ok: PsiSummary } | { error: unknown } | undefined;
}

export const PsiJob = defineActor<JobMsg, JobState, JobInput>({
  name: 'psi-job',
  childSupervision: stop(),
  init: (ctx) => {
    const o = ctx.input.session ?? {};
    const session = (party: PartyConfig): SessionConfig => ({
      session: o.name ?? 'psi',
      party,
      ...(o.peerTimeoutMs === undefined ? {} : { peerTimeoutMs: o.peerTimeoutMs }),
      ...(o.heartbeatMs === undefined ? {} : { heartbeatMs: o.heartbeatMs }),
      ...(o.handshakeTimeoutMs === undefined ? {} : { handshakeTimeoutMs: o.handshakeTimeoutMs }),
      ...(o.checkpointDir === undefined ? {} : { checkpointDir: join(o.checkpointDir, party.side) }),
      ...(o.resume === undefined ? {} : { resume: o.resume }),
    });
    const left = ctx.spawn(PsiSession, { name: 'left', input: { config: session(ctx.input.left) } });
    const right = ctx.spawn(PsiSession, { name: 'right', input: { config: session(ctx.input.right) } });
    ctx.watch(left);
    ctx.watch(right);
    return {
      started: performance.now(),
      sessions: { left, right },
      ended: {},
      errors: [],
      waiting: [],
      outcome: undefined,
    };
  },
  afterStart: async (s, ctx) => {
    // Introduce the sessions: each gets the other's port (or a relay to it), and nothing else.
    const [l, r] = await Promise.all([
      ctx.ask<ActorRef<PeerMsg>>(s.sessions.left, { type: 'get-port' }),
      ctx.ask<ActorRef<PeerMsg>>(s.sessions.right, { type: 'get-port' }),
    ]);
    const relay = ctx.input.relay;
    const toRight = relay ? ctx.spawn(relay, { name: 'relay-left', input: { from: 'left', to: r } }) : r;
    const toLeft = relay ? ctx.spawn(relay, { name: 'relay-right', input: { from: 'right', to: l } }) : l;
    if (relay) {
      ctx.watch(toRight);
      ctx.watch(toLeft);
    }
    ctx.tell(s.sessions.left, { type: 'connect', peer: toRight });
    ctx.tell(s.sessions.right, { type: 'connect', peer: toLeft });
    for (const side of ['left', 'right'] as const) {
      ctx.ask<SideSummary>(s.sessions[side], { type: 'result' }, { timeoutMs: 7 * 24 * 3_600_000 }).then(
        (ok) => ctx.tell(ctx.self, { type: 'session-done', side, ok }),
        (error) => ctx.tell(ctx.self, { type: 'session-done', side, error }),
      );
    }
  },
  receive: (s, msg, ctx) => {
    switch (msg.type) {
      case 'result':
        if (s.outcome === undefined) s.waiting.push(ctx.deferReply<PsiSummary>());
        else if ('ok' in s.outcome) ctx.reply(s.outcome.ok);
        else ctx.replyError(s.outcome.error);
        return;
      case 'progress-snapshot': {
        const replier = ctx.deferReply<PsiProgress>();
        const ask = (side: Side) =>
          ctx.ask<SessionProgress>(s.sessions[side], { type: 'progress-snapshot' }, { timeoutMs: 60_000 });
        Promise.all([ask('left'), ask('right')]).then(
          ([l, r]) => replier.reply({ left: l.progress, right: r.progress, elapsedMs: performance.now() - s.started }),
          (e) => replier.fail(e),
        );
        return;
      }
      case 'abort':
        for (const side of ['left', 'right'] as const) {
          s.sessions[side].tell({ type: 'abort', reason: msg.reason ?? new PsiInterruptedError('aborted') });
        }
        return;
      case 'session-done':
        s.ended[msg.side] = msg.ok !== undefined ? { ok: msg.ok } : { error: msg.error };
        if (msg.ok === undefined) s.errors.push(msg.error);
        if (s.ended.left !== undefined && s.ended.right !== undefined && s.outcome === undefined) {
          const l = s.ended.left;
          const r = s.ended.right;
          finish(
            s,
            'ok' in l && 'ok' in r ? { ok: combine(l.ok, r.ok, ctx.input, s.started) } : { error: rootCause(s.errors) },
          );
        }
        return;
    }
  },
  onTerminated: (s, t) => {
    if (t.reason.kind === 'failed' && s.outcome === undefined) finish(s, { error: t.reason.error });
  },
  afterStop: (s) => {
    // Stopped before the end (shutdown, a parent's stop): whoever waits learns it; the sessions have aborted.
    if (s.outcome === undefined) finish(s, { error: new PsiInterruptedError('the actor system is shutting down') });
  },
});

/**
 * The error that explains a failed run: one side's own failure (bad input, a
 * protocol violation...) rather than the other side's consequence of it (the
 * peer aborted, was lost, or was interrupted).
 */
function rootCause(errors: unknown[]): unknown {
  const rank = (e: unknown) =>
    e instanceof PsiPeerAbortedError ? 3 : e instanceof PsiInterruptedError ? 2 : e instanceof PsiPeerLostError ? 1 : 0;
  let best = errors[0];
  for (const e of errors) if (rank(e) < rank(best)) best = e;
  return best;
}

function finish(s: JobState, outcome: NonNullable<JobState['outcome']>): void {
  s.outcome = outcome;
  const waiting = s.waiting;
  s.waiting = [];
  for (const w of waiting) {
    if ('ok' in outcome) w.reply(outcome.ok);
    else w.fail(outcome.error);
  }
}

function combine(left: SideSummary, right: SideSummary, input: JobInput, started: number): PsiSummary {
  const elapsedMs = performance.now() - started;
  return {
    left,
    right,
    intersection: left.matchedKeys ?? right.matchedKeys ?? 0,
    reveal: input.left.reveal ?? 'both',
    cardinalityOnly: input.left.cardinalityOnly === true,
    threads: input.left.threads,
    threadsUsed: Math.max(left.threadsUsed, right.threadsUsed),
    batchSize: input.left.batchSize,
    elapsedMs,
    itemsPerSecond: ((left.uniqueKeys + right.uniqueKeys) / elapsedMs) * 1000,
  };
}
