/**
 * One party's run of a two-party PSI: the session owns the party's subtree
 * ({@link PsiParty}: reader, maskers, exchanger, matcher, writer) and speaks
 * to the peer's session only through one ref and plain data
 * ({@link PeerMsg}), so the peer can be in this process (the embedded
 * `runPsi`), or in another process or machine (`psi party`, over NATS).
 *
 * What it does, in order:
 *
 * 1. **Handshake.** On `connect` (or on a hello from a peer it waits for) it
 *    sends its hello: protocol version, curve, session name, side, number of
 *    key columns, batch size, who learns the result, cardinality mode, and,
 *    when resuming, what its checkpoint holds. Both sides check the pair with
 *    the same rule ({@link checkHellos}); any difference ends both with an
 *    error naming the field and both values. A further party claiming a side
 *    of a paired session is refused, and the run goes on.
 * 2. **Exchange.** It starts its party and carries the exchange between its
 *    exchanger and the peer, checking every message from the peer: its shape
 *    (the {@link PeerLink}), then its place in the run (indices in range,
 *    nothing twice, no more items than announced, nothing the protocol does
 *    not send this side). A bad message ends the run with
 *    {@link PsiPeerProtocolError}, no output.
 * 3. **Commit,** by protocol: the party writes its output to a temporary file
 *    (or, if it writes none, is simply done) and the session says `prepared`;
 *    a session that is prepared and has the peer's `prepared` commits (the
 *    rename) and says `committed`. Lose the peer before its `prepared`, and
 *    the temporary file is deleted: no output. Lose it after, and this side's
 *    output stands (the summary says the peer did not confirm).
 * 4. **Liveness.** It pings the peer every `heartbeatMs`, and a peer silent
 *    for `peerTimeoutMs` (or whose actor or node terminated) is lost:
 *    {@link PsiPeerLostError}. A stall of this process's own event loop is not
 *    blamed on the peer. Pings alone cannot show a message lost on the way
 *    while both stay up (a brief outage of the network between them): the
 *    link records such a message as a `disconnected` dead letter, and a
 *    session that sees one of its own protocol messages there ends the run as
 *    `messages-lost` (resumable) at once, instead of both sides waiting, alive,
 *    for what will never come.
 *
 * With a `checkpointDir` it records the exchange as it goes
 * ({@link Checkpoint}), and with `resume` it continues a run from there.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { lstat, readdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  type ActorContext,
  type ActorRef,
  type DeadLetter,
  defineActor,
  type Replier,
  stop,
  type Terminated,
} from '@troupe/core';
import { BatchSet } from './BatchSet.js';
import { Checkpoint, type CheckpointParams, type LoadedCheckpoint } from './Checkpoint.js';
import { CsvReader } from './csv.js';
import {
  PsiCheckpointError,
  PsiInterruptedError,
  PsiOptionsError,
  PsiPeerAbortedError,
  PsiPeerError,
  PsiPeerLostError,
  PsiPeerProtocolError,
  PsiSideTakenError,
} from './errors.js';
import { checkHellos } from './Handshake.js';
import { type LinkMsg, PeerLink } from './PeerLink.js';
import {
  type Hello,
  type PeerMsg,
  PSI_CURVE,
  PSI_PROTOCOL_VERSION,
  peerMessageBytes,
  type Reveal,
} from './PeerProtocol.js';
import { type PartyMsg, PsiParty } from './PsiParty.js';
import {
  COMPARE_BYTES,
  type ExchangeOutMsg,
  type ExchangePlan,
  type ExchangerMsg,
  type PartyConfig,
  type PartyEvent,
  type Side,
  type SideProgress,
  sideLearns,
} from './protocol.js';
import { makeScratchDir, removeScratchDir, SCRATCH_DIR } from './SpillBuckets.js';
import { generateKey } from './x25519.js';

/** How one party runs its session. */
export interface SessionConfig {
  /** The session name; both parties must use the same. */
  session: string;
  /** This party: its side, file, key columns, output, batch size, threads, reveal and cardinality modes. */
  party: PartyConfig;
  /** A peer silent this long is lost (default 30 s). */
  peerTimeoutMs?: number;
  /** How often to ping the peer (default a fifth of `peerTimeoutMs`, at most 2 s). */
  heartbeatMs?: number;
  /** How long to wait for the peer's hello (default 60 s). */
  handshakeTimeoutMs?: number;
  /** Record stage checkpoints here (a folder of this party's own; key material, mode 0700/0600). */
  checkpointDir?: string;
  /** Continue the run recorded in `checkpointDir` (a fresh run if there is none). */
  resume?: boolean;
}

export interface SessionInput {
  config: SessionConfig;
}

/** Wall time of each stage of a session, in milliseconds. */
export interface StageTimes {
  /** From the start to an agreed handshake (includes waiting for the peer). */
  handshake: number;
  /** Reading and indexing the own file (from the handshake). */
  read: number;
  /** The exchange: masking and swapping both sets (from the handshake). */
  exchange: number;
  /** Matching and writing the temporary output (after the exchange). */
  write: number;
  /** The commit protocol: waiting for the peer to be prepared, the rename, the peer's confirmation. */
  commit: number;
}

/** What one party ends with. */
export interface SideSummary {
  session: string;
  side: Side;
  file: string;
  /** The output file, or null when this side writes no rows. */
  outFile: string | null;
  rows: number;
  uniqueKeys: number;
  /** What this side learned: its rows in the intersection, only the intersection's size, or nothing of it. */
  learned: 'rows' | 'size' | 'nothing';
  /** Rows written (0 when this side writes none). */
  matchedRows: number;
  /** Bytes this party's data path wrote to its scratch folder (0 when everything fit in memory). */
  spilledBytes: number;
  /** Sorted runs its writer merged (0: the matched rows were sorted in memory). */
  sortRuns: number;
  /** Rows whose key was empty (matched, skipped or refused per `emptyKeys`), and the line of the first (or 0). */
  emptyKeyRows: number;
  firstEmptyKeyLine: number;
  /** Masker threads this party started (they start as the work needs them, up to `threads`). */
  threadsUsed: number;
  /** The intersection's size (unique keys), or null when this side does not learn it. */
  matchedKeys: number | null;
  /** What this side learned of the peer's set: its number of unique keys, in how many batches. */
  peerUniqueKeys: number;
  peerBatches: number;
  /** Payload bytes and messages sent to and received from the peer ({@link peerMessageBytes}). */
  bytesSent: number;
  bytesReceived: number;
  messagesSent: number;
  messagesReceived: number;
  stages: StageTimes;
  elapsedMs: number;
  /** Items this party masked per second (its own and the peer's). */
  itemsPerSecond: number;
  /** Resumed from a checkpoint, and how many batches it did not have to redo. */
  resumed: boolean;
  reusedOwnBatches: number;
  reusedPeerBatches: number;
  /** The peer confirmed its own commit; if not, this side's checkpoint is kept so a resume can serve it. */
  peerConfirmed: boolean;
  /** The checkpoint folder left behind, or null. */
  checkpoint: string | null;
}

/** A session's progress (for `progress-snapshot`). */
export interface SessionProgress {
  side: Side;
  phase: Phase;
  progress: SideProgress;
  bytesSent: number;
  bytesReceived: number;
}

export type SessionMsg =
  | LinkMsg
  | PartyEvent
  | ExchangeOutMsg
  /** Where the peer's port is: send the hello there. */
  | { type: 'connect'; peer: ActorRef<PeerMsg> }
  /** Ask: this session's port (the ref to give the peer). */
  | { type: 'get-port' }
  /** Ask: the {@link SideSummary}, once the run is over (or its error). */
  | { type: 'result' }
  /** Ask: a {@link SessionProgress}. */
  | { type: 'progress-snapshot' }
  | { type: 'abort'; reason?: unknown }
  | { type: 'tick' }
  /** @internal One of this session's messages to the peer was dead-lettered by the link (lost in transit). */
  | { type: 'sent-lost'; what: string };

type Phase = 'waiting' | 'handshaking' | 'exchanging' | 'done';

interface SessionState {
  phase: Phase;
  port: ActorRef<PeerMsg>;
  peer: ActorRef<PeerMsg> | undefined;
  run: string;
  mine: Hello | undefined;
  theirs: Hello | undefined;
  loaded: LoadedCheckpoint | undefined;
  checkpoint: Checkpoint | undefined;
  plan: ExchangePlan | undefined;
  party: ActorRef<PartyMsg> | undefined;
  exchanger: ActorRef<ExchangerMsg> | undefined;
  peerSeen: BatchSet;
  peerItems: number;
  peerEnd: { batches: number; items: number } | undefined;
  shuffledParts: number;
  shuffledEnd: boolean;
  written: Extract<PartyEvent, { type: 'party-written' }> | undefined;
  sentPrepared: boolean;
  commitAsked: boolean;
  peerPrepared: boolean;
  committed: boolean;
  peerCommitted: boolean;
  lastHeard: number;
  lastTick: number;
  since: number;
  bytesSent: number;
  bytesReceived: number;
  messagesSent: number;
  messagesReceived: number;
  t: { start: number; handshake?: number; read?: number; exchange?: number; written?: number };
  progress: SideProgress;
  waiting: Replier<SideSummary>[];
  /** The run failed with this, and waits for its party to confirm the abort before saying so. */
  pendingError: unknown;
  /** The scratch folder this session made for its party (spill files, sort runs), removed at the end. */
  scratch: string | undefined;
  outcome: { ok: SideSummary } | { error: unknown } | undefined;
  /** What this session told the peer (but pings): a dead letter of one of these is a protocol message lost. */
  sentToPeer: WeakSet<object>;
  /** Stops listening for dead letters (at stop). */
  unlisten: () => void;
}

type Ctx = ActorContext<SessionMsg, SessionInput>;

const DEFAULT_PEER_TIMEOUT_MS = 30_000;
const DEFAULT_HANDSHAKE_TIMEOUT_MS = 60_000;

/** The bounds a session runs with, from its config (validated at the door). */
export function sessionTimings(config: Pick<SessionConfig, 'peerTimeoutMs' | 'heartbeatMs' | 'handshakeTimeoutMs'>): {
  peerTimeoutMs: number;
  heartbeatMs: number;
  handshakeTimeoutMs: number;
} {
  const peerTimeoutMs = config.peerTimeoutMs ?? DEFAULT_PEER_TIMEOUT_MS;
  const heartbeatMs = config.heartbeatMs ?? Math.max(10, Math.min(2_000, Math.floor(peerTimeoutMs / 5)));
  const handshakeTimeoutMs = config.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  for (const [name, v] of [
    ['peerTimeoutMs', peerTimeoutMs],
    ['heartbeatMs', heartbeatMs],
    ['handshakeTimeoutMs', handshakeTimeoutMs],
  ] as const) {
    if (!Number.isInteger(v) || v < 10 || v > 86_400_000) {
      throw new PsiOptionsError(name, `must be an integer number of milliseconds from 10 to 86400000, got ${v}`);
    }
  }
  if (heartbeatMs >= peerTimeoutMs) {
    throw new PsiOptionsError('heartbeatMs', `must be below peerTimeoutMs (${peerTimeoutMs}), got ${heartbeatMs}`);
  }
  return { peerTimeoutMs, heartbeatMs, handshakeTimeoutMs };
}

const emptyProgress = (cfg: PartyConfig): SideProgress => ({
  rows: 0,
  uniqueKeys: 0,
  ownMasked: 0,
  peerMasked: 0,
  returned: 0,
  matchedRows: 0,
  writtenRows: 0,
  maskers: 0,
  bytesRead: 0,
  bytesTotal: cfg.fileBytes ?? 0,
  emptyKeyRows: 0,
  firstEmptyKeyLine: 0,
  readDone: false,
  writing: false,
  done: false,
});

export const PsiSession = defineActor<SessionMsg, SessionState, SessionInput>({
  name: 'psi-session',
  childSupervision: stop(),
  init: (ctx) => {
    const { config } = ctx.input;
    const self = ctx.self as unknown as ActorRef<LinkMsg>;
    const port = ctx.spawn(PeerLink, { name: 'port', input: { session: self, batchSize: config.party.batchSize } });
    const now = ctx.system.clock.now();
    // A link that cannot vouch for a tell (it went down, or the far side saw a gap) records it as a
    // `disconnected` dead letter: the same message object this session handed it.
    const sentToPeer = new WeakSet<object>();
    let told = false;
    const onDeadLetter = (letter: DeadLetter) => {
      const m = letter.message;
      if (told || letter.reason !== 'disconnected' || typeof m !== 'object' || m === null || !sentToPeer.has(m)) return;
      told = true;
      ctx.self.tell({ type: 'sent-lost', what: String((m as { type?: unknown }).type) });
    };
    ctx.system.events.on('deadLetter', onDeadLetter);
    return {
      phase: 'waiting',
      port,
      peer: undefined,
      run: randomBytes(16).toString('hex'),
      mine: undefined,
      theirs: undefined,
      loaded: undefined,
      checkpoint: undefined,
      plan: undefined,
      party: undefined,
      exchanger: undefined,
      peerSeen: new BatchSet(),
      peerItems: 0,
      peerEnd: undefined,
      shuffledParts: 0,
      shuffledEnd: false,
      written: undefined,
      sentPrepared: false,
      commitAsked: false,
      peerPrepared: false,
      committed: false,
      peerCommitted: false,
      lastHeard: now,
      lastTick: now,
      since: now,
      bytesSent: 0,
      bytesReceived: 0,
      messagesSent: 0,
      messagesReceived: 0,
      t: { start: now },
      progress: emptyProgress(config.party),
      waiting: [],
      pendingError: undefined,
      scratch: undefined,
      outcome: undefined,
      sentToPeer,
      unlisten: () => ctx.system.events.off('deadLetter', onDeadLetter),
    };
  },
  afterStart: async (s, ctx) => {
    const { config } = ctx.input;
    const party = config.party;
    try {
      const { heartbeatMs } = sessionTimings(config);
      ctx.timers.interval('tick', heartbeatMs, { type: 'tick' });
      if (config.resume === true && party.cardinalityOnly === true) {
        throw new PsiOptionsError(
          '--resume',
          'cannot be used with --cardinality-only: the whole-set shuffles of the cardinality mode are not checkpointed',
        );
      }
      // Fail before the peer is involved on a missing file, an empty one or a missing key column.
      const csv = await CsvReader.open(party.file, { delimiter: party.delimiter });
      try {
        csv.columnIndices(party.keyColumns);
      } finally {
        await csv.close();
      }
      const dir = config.checkpointDir;
      if (dir !== undefined) {
        if (config.resume === true) {
          s.loaded = await Checkpoint.load(dir, checkpointParams(config));
          if (s.loaded !== undefined) s.run = s.loaded.run;
        } else if (await Checkpoint.exists(dir)) {
          ctx.log.warn(`psi ${party.side}: discarding the checkpoint of an earlier run in ${dir} (no --resume)`);
          await Checkpoint.remove(dir);
        }
      }
      s.mine = hello(s, config);
    } catch (error) {
      fail(s, ctx, error);
    }
  },
  receive: async (s, msg, ctx) => {
    const side = ctx.input.config.party.side;
    switch (msg.type) {
      case 'get-port':
        ctx.reply(s.port);
        return;
      case 'result':
        if (s.outcome === undefined) s.waiting.push(ctx.deferReply<SideSummary>());
        else if ('ok' in s.outcome) ctx.reply(s.outcome.ok);
        else ctx.replyError(s.outcome.error);
        return;
      case 'progress-snapshot':
        ctx.reply({
          side,
          phase: s.phase,
          progress: { ...s.progress },
          bytesSent: s.bytesSent,
          bytesReceived: s.bytesReceived,
        } satisfies SessionProgress);
        return;
      case 'abort':
        fail(s, ctx, msg.reason ?? new PsiInterruptedError('aborted'));
        return;
      case 'connect':
        if (s.phase === 'done') {
          // Failed before the peer came (bad input, a bad checkpoint): the peer is told at once.
          if (s.outcome !== undefined && 'error' in s.outcome) ctx.tell(msg.peer, abortFor(s.outcome.error));
          return;
        }
        if (s.phase !== 'waiting') return; // the peer found us first
        s.peer = msg.peer;
        ctx.watch(msg.peer);
        s.since = ctx.system.clock.now();
        s.phase = 'handshaking';
        send(s, ctx, s.mine as Hello);
        return;
      case 'tick':
        tick(s, ctx);
        return;
      case 'link-fault':
        if (s.phase !== 'done') fail(s, ctx, new PsiPeerProtocolError(side, msg.detail));
        return;
      case 'sent-lost':
        // Before the exchange the handshake's own timeout bounds a lost hello.
        if (s.phase !== 'exchanging') return;
        failLost(
          s,
          ctx,
          `this side's ${msg.what} message to the peer was lost in transit (the link to its node dropped it)`,
        );
        return;
      case 'from-peer':
        s.bytesReceived += msg.bytes;
        s.messagesReceived++;
        s.lastHeard = ctx.system.clock.now();
        await fromPeer(s, ctx, msg.msg);
        return;
      // From the exchanger: onto the wire (not once the run is over: the peer has been told).
      case 'out-batch':
      case 'out-end':
      case 'out-returned':
      case 'out-shuffled':
      case 'out-shuffled-end':
        if (s.phase === 'exchanging') send(s, ctx, onTheWire(msg));
        return;
      case 'exchange-fault':
        fail(
          s,
          ctx,
          msg.lost === true
            ? new PsiPeerLostError(side, 'messages-lost', `${msg.detail}; resume both parties to finish`)
            : new PsiPeerProtocolError(side, msg.detail, msg.cause === undefined ? {} : { cause: msg.cause }),
        );
        return;
      case 'exchange-complete':
        s.t.exchange = ctx.system.clock.now();
        return;
      // From the party.
      case 'progress': {
        const counters = s.progress as unknown as Record<string, number>;
        for (const [k, v] of Object.entries(msg.delta)) counters[k] = (counters[k] ?? 0) + (v as number);
        if (msg.readDone === true && !s.progress.readDone) {
          s.progress.readDone = true;
          s.t.read = ctx.system.clock.now();
        }
        if (msg.writing === true) s.progress.writing = true;
        return;
      }
      case 'party-written':
        if (s.phase !== 'exchanging') return;
        s.written = msg;
        s.t.written = ctx.system.clock.now();
        s.sentPrepared = true;
        send(s, ctx, { type: 'prepared' });
        maybeCommit(s);
        return;
      case 'party-committed':
        if (s.phase !== 'exchanging') return;
        s.committed = true;
        s.progress.done = true;
        try {
          await s.checkpoint?.markCommitted();
        } catch (error) {
          ctx.log.warn(`psi ${side}: could not record the commit in the checkpoint: ${String(error)}`);
        }
        send(s, ctx, { type: 'committed' });
        if (s.peerCommitted) await finish(s, ctx, true);
        return;
      case 'party-failed':
        fail(s, ctx, msg.error);
        return;
    }
  },
  onTerminated: async (s, t: Terminated, ctx) => {
    if (s.phase === 'done') return;
    const side = ctx.input.config.party.side;
    if (sameRef(t.ref, s.party)) {
      fail(s, ctx, t.reason.kind === 'failed' ? t.reason.error : new PsiInterruptedError('its party stopped'));
      return;
    }
    if (sameRef(t.ref, s.peer)) {
      if (s.committed) {
        await finish(s, ctx, false);
        return;
      }
      const kind = t.reason.kind;
      const how =
        kind === 'address-terminated'
          ? `is gone: its process or node died or was cut off (${t.ref.path})`
          : `${kind === 'failed' ? 'failed' : kind === 'shutdown' ? 'was shut down' : 'stopped'} (${t.ref.path})`;
      fail(s, ctx, new PsiPeerLostError(side, 'terminated', `the peer's session ${how}`));
    }
  },
  afterStop: (s, ctx) => {
    s.unlisten();
    // Stopped before the end (shutdown, a parent's stop): the peer is told, whoever waits learns it.
    if (s.phase !== 'done') fail(s, ctx, new PsiInterruptedError('the session was stopped'), true);
    // Settled already but still confirming an abort: give the outcome now (the party has stopped).
    if (s.outcome === undefined && s.pendingError !== undefined) settle(s, { error: s.pendingError });
    s.checkpoint?.close();
    // At once (a stop does not wait for it): the spill files and sort runs go with the session.
    if (s.scratch !== undefined) rmSync(s.scratch, { recursive: true, force: true });
  },
});

/** The same actor: the same object, or (a ref that crossed a process and came back) the same id and path. */
// biome-ignore lint/suspicious/noExplicitAny: refs of any protocol
function sameRef(a: ActorRef<any>, b: ActorRef<any> | undefined): boolean {
  return b !== undefined && (a === b || (a.id === b.id && a.path === b.path));
}

function checkpointParams(config: SessionConfig): CheckpointParams {
  const p = config.party;
  return {
    session: config.session,
    side: p.side,
    file: p.file,
    keyColumns: p.keyColumns,
    delimiter: p.delimiter,
    batchSize: p.batchSize,
    reveal: p.reveal ?? 'both',
    cardinalityOnly: p.cardinalityOnly === true,
  };
}

function bitmap(keys: Iterable<number>): Uint8Array {
  const set = new BatchSet();
  for (const k of keys) set.add(k);
  return set.toBytes();
}

function hello(s: SessionState, config: SessionConfig): Hello {
  const p = config.party;
  const loaded = s.loaded;
  return {
    type: 'hello',
    protocol: PSI_PROTOCOL_VERSION,
    session: config.session,
    side: p.side,
    curve: PSI_CURVE,
    keyColumns: p.keyColumns.length,
    batchSize: p.batchSize,
    reveal: (p.reveal ?? 'both') as Reveal,
    cardinalityOnly: p.cardinalityOnly === true,
    run: s.run,
    resume:
      loaded === undefined
        ? null
        : {
            peerRun: loaded.peerRun,
            peerBatches: bitmap(loaded.peerDoubles.keys()),
            ownReturned: bitmap(loaded.ownReturned.keys()),
            committed: loaded.committed,
          },
    from: s.port,
  };
}

/** What the exchanger hands over, as it goes to the peer. */
function onTheWire(
  msg: Extract<
    ExchangeOutMsg,
    { type: 'out-batch' | 'out-end' | 'out-returned' | 'out-shuffled' | 'out-shuffled-end' }
  >,
): PeerMsg {
  switch (msg.type) {
    case 'out-batch':
      return { type: 'batch', index: msg.index, points: msg.points };
    case 'out-end':
      return { type: 'end', batches: msg.batches, items: msg.items };
    case 'out-returned':
      return { type: 'returned', index: msg.index, doubles: msg.doubles };
    case 'out-shuffled':
      return { type: 'shuffled', part: msg.part, doubles: msg.doubles };
    case 'out-shuffled-end':
      return { type: 'shuffled-end', parts: msg.parts, items: msg.items };
  }
}

function send(s: SessionState, ctx: Ctx, msg: PeerMsg): void {
  if (s.peer === undefined) return;
  s.bytesSent += peerMessageBytes(msg);
  s.messagesSent++;
  if (msg.type !== 'ping') s.sentToPeer.add(msg);
  ctx.tell(s.peer, msg);
}

/** What a peer is told when this side gives up: the protocol's own errors in full, others by code only (no local paths). */
function abortFor(error: unknown): PeerMsg {
  const code = (error as { code?: unknown })?.code;
  const c = typeof code === 'string' ? code : 'ERR_PSI';
  if (error instanceof PsiPeerError) return { type: 'abort', code: c, reason: error.message };
  if (error instanceof PsiInterruptedError) return { type: 'abort', code: c, reason: 'the peer was interrupted' };
  return { type: 'abort', code: c, reason: `the peer's own run failed (${c})` };
}

function tick(s: SessionState, ctx: Ctx): void {
  if (s.phase === 'done') return;
  const side = ctx.input.config.party.side;
  const { peerTimeoutMs, heartbeatMs, handshakeTimeoutMs } = sessionTimings(ctx.input.config);
  const now = ctx.system.clock.now();
  if (now - s.lastTick > 3 * heartbeatMs) {
    // This process's own event loop was held up: messages from the peer may be
    // queued behind this tick, so the silence is not the peer's.
    s.lastHeard = Math.max(s.lastHeard, now - heartbeatMs);
    s.since = Math.max(s.since, now - heartbeatMs);
  }
  s.lastTick = now;
  if (s.phase === 'waiting' || s.phase === 'handshaking') {
    if (now - s.since > handshakeTimeoutMs) {
      fail(
        s,
        ctx,
        new PsiPeerLostError(
          side,
          'handshake-timeout',
          `no hello from the peer within ${handshakeTimeoutMs} ms (handshakeTimeoutMs); is the other party running, with the same session?`,
        ),
      );
    }
    return;
  }
  send(s, ctx, { type: 'ping' });
  if (now - s.lastHeard > peerTimeoutMs) {
    if (s.committed) {
      void finish(s, ctx, false);
      return;
    }
    fail(
      s,
      ctx,
      new PsiPeerLostError(
        side,
        'stalled',
        `no message from the peer for ${Math.round(now - s.lastHeard)} ms, more than peerTimeoutMs = ${peerTimeoutMs}`,
      ),
    );
  }
}

async function fromPeer(s: SessionState, ctx: Ctx, msg: PeerMsg): Promise<void> {
  const config = ctx.input.config;
  const side = config.party.side;
  const protocolError = (detail: string) => fail(s, ctx, new PsiPeerProtocolError(side, detail));
  if (s.phase === 'done') {
    // Over: a party that only now says hello learns it at once rather than waiting out its timeout.
    if (msg.type === 'hello' && s.outcome !== undefined && 'error' in s.outcome)
      ctx.tell(msg.from, abortFor(s.outcome.error));
    return;
  }
  if (msg.type === 'hello') {
    if (s.theirs !== undefined) {
      if (msg.run === s.theirs.run) protocolError('its hello twice (a replayed hello)');
      else {
        ctx.tell(msg.from, {
          type: 'refuse',
          code: 'ERR_PSI_SIDE_TAKEN',
          reason: `session ${config.session} already has its two parties`,
        });
        ctx.log.warn(`psi ${side}: refused a further party claiming side ${msg.side} of session ${config.session}`);
      }
      return;
    }
    if (s.phase === 'waiting') {
      // Nobody told us where the peer is: it found us (a listening session).
      s.peer = msg.from;
      ctx.watch(msg.from);
      s.phase = 'handshaking';
      send(s, ctx, s.mine as Hello);
    }
    s.theirs = msg;
    const mismatch = checkHellos(s.mine as Hello, msg);
    if (mismatch !== undefined) {
      fail(s, ctx, mismatch);
      return;
    }
    await start(s, ctx);
    return;
  }
  if (msg.type === 'abort') {
    fail(s, ctx, new PsiPeerAbortedError(side, msg.code, msg.reason));
    return;
  }
  if (msg.type === 'refuse') {
    if (s.theirs === undefined && msg.code === 'ERR_PSI_SIDE_TAKEN')
      fail(s, ctx, new PsiSideTakenError(config.session, side));
    else if (s.theirs === undefined) fail(s, ctx, new PsiPeerAbortedError(side, msg.code, msg.reason));
    else protocolError(`a refusal ('${msg.code}') after the handshake`);
    return;
  }
  if (s.phase !== 'exchanging' || s.exchanger === undefined) {
    protocolError(`'${msg.type}' before the handshake`);
    return;
  }
  const exchanger = s.exchanger;
  const learns = sideLearns(config.party);
  const reveal = config.party.reveal ?? 'both';
  switch (msg.type) {
    case 'ping':
      return;
    case 'batch': {
      const n = msg.points.byteLength / 32;
      if (s.plan?.peerDoubles.has(msg.index) === true) {
        protocolError(`batch ${msg.index}, which this side holds from before the resume (a replayed batch)`);
        return;
      }
      if (!s.peerSeen.add(msg.index)) {
        protocolError(`batch ${msg.index} twice (a replayed or duplicated batch)`);
        return;
      }
      if (s.peerEnd !== undefined) {
        protocolError(`batch ${msg.index} after its end (more items than announced)`);
        return;
      }
      s.peerItems += n;
      ctx.tell(exchanger, { type: 'peer-batch', index: msg.index, points: msg.points });
      return;
    }
    case 'end': {
      if (s.peerEnd !== undefined) {
        protocolError('its end twice');
        return;
      }
      let heldBatches = 0;
      let heldItems = 0;
      for (const d of s.plan?.peerDoubles.values() ?? []) {
        heldBatches++;
        heldItems += d.byteLength / COMPARE_BYTES;
      }
      const got = s.peerSeen.size + heldBatches;
      const top = Math.max(s.peerSeen.max(), ...(s.plan === undefined ? [] : [...s.plan.peerDoubles.keys()]));
      if (got < msg.batches && top < msg.batches) {
        // Fewer than announced, none out of range: lost on the way (a link that dropped them), not a lie.
        // The run cannot finish, but a resume can: the checkpoint is kept.
        failLost(s, ctx, `${msg.batches - got} of the peer's ${msg.batches} batches never arrived`);
        return;
      }
      if (got !== msg.batches || top >= msg.batches) {
        protocolError(
          `an end announcing ${msg.batches} batches after ${got} batches numbered up to ${top} (batches out of range, or missing)`,
        );
        return;
      }
      if (s.peerItems + heldItems !== msg.items) {
        protocolError(
          `${s.peerItems + heldItems} items in all but announced ${msg.items} (${s.peerItems + heldItems > msg.items ? 'more' : 'fewer'} items than announced)`,
        );
        return;
      }
      s.peerEnd = { batches: msg.batches, items: msg.items };
      ctx.tell(exchanger, { type: 'peer-end', batches: msg.batches });
      return;
    }
    case 'returned':
      if (learns !== 'rows') {
        protocolError(
          `returned values, which the protocol never sends this side (${learns === 'size' ? 'the cardinality mode returns the whole set shuffled' : `reveal is ${reveal}: this side must not learn the intersection`})`,
        );
        return;
      }
      ctx.tell(exchanger, { type: 'returned', index: msg.index, doubles: msg.doubles });
      return;
    case 'shuffled':
      if (learns !== 'size') {
        protocolError(
          `shuffled values, which the protocol never sends this side (${learns === 'rows' ? 'not in the cardinality mode' : `reveal is ${reveal}: this side must not learn the intersection`})`,
        );
        return;
      }
      if (s.shuffledEnd || msg.part !== s.shuffledParts) {
        protocolError(
          `shuffled part ${msg.part} ${s.shuffledEnd ? 'after their end' : `out of order (expected part ${s.shuffledParts}): replayed, duplicated or missing`}`,
        );
        return;
      }
      s.shuffledParts++;
      ctx.tell(exchanger, { type: 'peer-shuffled', doubles: msg.doubles });
      return;
    case 'shuffled-end':
      if (learns !== 'size' || s.shuffledEnd || msg.parts !== s.shuffledParts) {
        protocolError(`an end of the shuffled set after ${s.shuffledParts} parts, announcing ${msg.parts}`);
        return;
      }
      s.shuffledEnd = true;
      ctx.tell(exchanger, { type: 'peer-shuffled-end', items: msg.items });
      return;
    case 'prepared':
      if (s.peerPrepared) {
        protocolError("'prepared' twice");
        return;
      }
      if (s.peerEnd === undefined) {
        // A peer prepares only after its end: that end was lost on the way (the link's loss may reach
        // the sender after this arrives here), not a lie. The run cannot finish; a resume can.
        lostBefore(s, ctx, 'prepared', 'end');
        return;
      }
      s.peerPrepared = true;
      ctx.tell(exchanger, { type: 'peer-prepared' });
      maybeCommit(s);
      return;
    case 'committed':
      if (!s.sentPrepared || s.peerCommitted) {
        protocolError("'committed' out of turn (before both sides were prepared, or twice)");
        return;
      }
      if (!s.peerPrepared) {
        lostBefore(s, ctx, 'committed', 'prepared'); // it commits only once prepared: its 'prepared' was lost
        return;
      }
      s.peerCommitted = true;
      if (s.committed) await finish(s, ctx, true);
      return;
  }
}

/** The peer's `got` came, which it sends only after its `missing`: that was lost in transit. */
function lostBefore(s: SessionState, ctx: Ctx, got: string, missing: string): void {
  failLost(s, ctx, `the peer's ${got} arrived but its ${missing} did not (lost in transit)`);
}

/** End the run because messages were lost between the sides: the checkpoint is kept, a resume finishes. */
function failLost(s: SessionState, ctx: Ctx, detail: string): void {
  fail(
    s,
    ctx,
    new PsiPeerLostError(ctx.input.config.party.side, 'messages-lost', `${detail}; resume both parties to finish`),
  );
}

/** The handshake is agreed: start the party, from the checkpoint when resuming. */
async function start(s: SessionState, ctx: Ctx): Promise<void> {
  const config = ctx.input.config;
  const theirs = s.theirs as Hello;
  s.t.handshake = ctx.system.clock.now();
  s.phase = 'exchanging';
  try {
    let key: Uint8Array | undefined;
    // With a checkpoint, the reader's random order comes from a seed kept there, so a resume cuts the same batches.
    let orderSeed: Uint8Array | undefined;
    if (s.loaded !== undefined && theirs.resume !== null) {
      const l = s.loaded;
      s.checkpoint = l.checkpoint;
      s.plan = {
        ownReturned: l.ownReturned,
        perms: l.perms,
        peerHolds: new BatchSet(theirs.resume.peerBatches),
        peerDoubles: l.peerDoubles,
        peerHasReturned: new BatchSet(theirs.resume.ownReturned),
        committed: l.committed,
      };
      key = l.key;
      l.key = undefined;
      orderSeed = l.orderSeed;
    } else if (config.checkpointDir !== undefined) {
      key = generateKey();
      s.checkpoint = await Checkpoint.create(config.checkpointDir, checkpointParams(config), s.run, theirs.run, key);
      orderSeed = s.checkpoint.orderSeed;
    }
    const self = ctx.self as unknown as ActorRef<PartyEvent & ExchangeOutMsg>;
    let party = orderSeed === undefined ? config.party : { ...config.party, orderSeed };
    if (party.scratchDir === '') {
      // A party on its own (no runPsi to prepare it): its scratch folder goes next to its output,
      // after those that killed runs (SIGKILL) left there are removed.
      await removeDeadScratch(dirname(party.outFile), (m) => ctx.log.warn(`psi ${party.side}: ${m}`));
      s.scratch = await makeScratchDir(dirname(party.outFile), party.side);
      party = { ...party, scratchDir: s.scratch };
    }
    s.party = ctx.spawn(PsiParty, {
      name: 'party',
      input: {
        config: party,
        job: self,
        session: self,
        ...(key === undefined ? {} : { key }),
        ...(s.plan === undefined ? {} : { plan: s.plan }),
        ...(s.checkpoint === undefined ? {} : { checkpoint: s.checkpoint }),
      },
    });
    ctx.watch(s.party);
    s.exchanger = await ctx.ask<ActorRef<ExchangerMsg>>(s.party, { type: 'get-exchanger' }, { timeoutMs: 120_000 });
  } catch (error) {
    fail(s, ctx, error);
  }
}

function maybeCommit(s: SessionState): void {
  if (s.written === undefined || !s.peerPrepared || s.commitAsked || s.phase !== 'exchanging') return;
  s.commitAsked = true;
  s.party?.tell({ type: 'commit' });
}

/** Errors after which a later `--resume` can continue: the checkpoint is kept. */
function resumable(error: unknown): boolean {
  if (error instanceof PsiPeerLostError || error instanceof PsiInterruptedError) return true;
  return (
    error instanceof PsiPeerAbortedError &&
    ['ERR_PSI_INTERRUPTED', 'ERR_PSI_PEER_LOST', 'ERR_PSI_PEER_ABORTED'].includes(error.peerCode)
  );
}

/**
 * End the run with `error`: the peer is told, the party stops its exchange
 * and drops its temporary file, and only once it has confirmed (bounded) is
 * the outcome given, so whoever stops the session then finds it idle.
 * `stopping`: called as the session stops (its party is gone already).
 */
function fail(s: SessionState, ctx: Ctx, error: unknown, stopping = false): void {
  if (s.phase === 'done') return;
  if (s.committed) {
    // Our output is in place already: whatever happens to the peer now, this side is done; it only lacks the confirmation.
    ctx.log.warn(
      `psi ${ctx.input.config.party.side}: committed, but the peer did not confirm its own commit (${String(error)})`,
    );
    void ctx.inFlight(finish(s, ctx, false));
    return;
  }
  const started = s.phase === 'exchanging';
  s.phase = 'done';
  ctx.timers.cancel('tick');
  // The peer is told why, unless it told us (it aborted) or never took us on (a refused party must not end the pair it asked to join).
  if (!(error instanceof PsiPeerAbortedError) && !(error instanceof PsiSideTakenError)) send(s, ctx, abortFor(error));
  const checkpoint = s.checkpoint ?? s.loaded?.checkpoint;
  const forget = checkpoint !== undefined && started && !resumable(error) && !(error instanceof PsiCheckpointError);
  if (stopping || s.party === undefined) {
    if (forget) void checkpoint.delete().catch(() => undefined);
    else checkpoint?.close();
    if (s.scratch !== undefined) rmSync(s.scratch, { recursive: true, force: true });
    settle(s, { error });
    return;
  }
  const party = s.party;
  s.pendingError = error;
  void ctx.inFlight(
    ctx
      .ask<boolean>(party, { type: 'abort' }, { timeoutMs: ABORT_ACK_MS })
      .catch(() => false)
      .then(async () => {
        // The exchanger has stopped appending: the checkpoint can go (or be closed, kept for a resume).
        if (forget) await checkpoint.delete().catch(() => undefined);
        else checkpoint?.close();
        if (s.scratch !== undefined) await removeScratchDir(s.scratch).catch(() => undefined);
        settle(s, { error });
      }),
  );
}

/** How long a party may take to confirm an abort before the session gives up waiting. */
const ABORT_ACK_MS = 3_500;

async function finish(s: SessionState, ctx: Ctx, peerConfirmed: boolean): Promise<void> {
  if (s.phase === 'done') return;
  s.phase = 'done';
  ctx.timers.cancel('tick');
  const config = ctx.input.config;
  let kept: string | null = null;
  if (s.checkpoint !== undefined) {
    if (peerConfirmed) await s.checkpoint.delete();
    else {
      s.checkpoint.close();
      kept = s.checkpoint.dir;
    }
  }
  if (s.scratch !== undefined) await removeScratchDir(s.scratch).catch(() => undefined);
  settle(s, { ok: summary(s, config, ctx.system.clock.now(), peerConfirmed, kept) });
}

function settle(s: SessionState, outcome: NonNullable<SessionState['outcome']>): void {
  if (s.outcome !== undefined) return;
  s.outcome = outcome;
  const waiting = s.waiting;
  s.waiting = [];
  for (const w of waiting) {
    if ('ok' in outcome) w.reply(outcome.ok);
    else w.fail(outcome.error);
  }
}

function summary(
  s: SessionState,
  config: SessionConfig,
  now: number,
  peerConfirmed: boolean,
  kept: string | null,
): SideSummary {
  const p = config.party;
  const w = s.written as Extract<PartyEvent, { type: 'party-written' }>;
  const learned = sideLearns(p);
  const t = s.t;
  const handshake = t.handshake ?? now;
  const exchange = t.exchange ?? now;
  const written = t.written ?? now;
  const elapsedMs = now - t.start;
  const plan = s.plan;
  let reusedOwn = 0;
  if (plan !== undefined) {
    const own = new Set([...plan.ownReturned.keys()]);
    for (let i = 0; i <= plan.peerHolds.max(); i++) if (plan.peerHolds.has(i)) own.add(i);
    reusedOwn = own.size;
  }
  return {
    session: config.session,
    side: p.side,
    file: p.file,
    outFile: learned === 'rows' ? p.outFile : null,
    rows: w.rows,
    uniqueKeys: w.uniqueKeys,
    learned,
    matchedRows: learned === 'rows' ? w.matchedRows : 0,
    spilledBytes: w.spilledBytes,
    sortRuns: w.sortRuns,
    emptyKeyRows: s.progress.emptyKeyRows,
    firstEmptyKeyLine: s.progress.firstEmptyKeyLine,
    threadsUsed: s.progress.maskers,
    matchedKeys: learned === 'nothing' ? null : w.matchedKeys,
    peerUniqueKeys: s.peerEnd?.items ?? 0,
    peerBatches: s.peerEnd?.batches ?? 0,
    bytesSent: s.bytesSent,
    bytesReceived: s.bytesReceived,
    messagesSent: s.messagesSent,
    messagesReceived: s.messagesReceived,
    stages: {
      handshake: handshake - t.start,
      read: (t.read ?? handshake) - handshake,
      exchange: exchange - handshake,
      write: written - exchange,
      commit: now - written,
    },
    elapsedMs,
    itemsPerSecond: elapsedMs > 0 ? ((w.uniqueKeys + (s.peerEnd?.items ?? 0)) / elapsedMs) * 1000 : 0,
    resumed: plan !== undefined,
    reusedOwnBatches: reusedOwn,
    reusedPeerBatches: plan?.peerDoubles.size ?? 0,
    peerConfirmed,
    checkpoint: kept,
  };
}

/** Scratch folders in `dir` whose process is gone (a run killed with SIGKILL): removed, and said. */
async function removeDeadScratch(dir: string, say: (message: string) => void): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    const m = SCRATCH_DIR.exec(name);
    if (m === null) continue;
    const pid = Number(m[2]);
    if (pid === process.pid || alive(pid)) continue;
    const path = join(dir, name);
    try {
      if (!(await lstat(path)).isDirectory()) continue;
      await rm(path, { recursive: true, force: true });
      say(`removed ${name}, a scratch folder left by an earlier run (process ${pid}, no longer running)`);
    } catch {
      // Gone already.
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
