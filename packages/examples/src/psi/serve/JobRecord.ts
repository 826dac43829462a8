/**
 * A PSI job as the service keeps it: one JSON record per job on disk, also
 * what the API returns. Counts, phases, rates and bytes only: no keys, no rows.
 */
import type {
  EmptyKeyPolicy,
  PsiProgress,
  PsiSummary,
  Reveal,
  SessionProgress,
  SideProgress,
  SideSummary,
} from '@troupe/actors';

/** Where a job is in its life. `interrupted`: the service stopped while it ran (no output was left). */
export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled' | 'interrupted';

/** Finished states: nothing more happens to such a job. */
export const finalStates: ReadonlySet<JobState> = new Set(['done', 'failed', 'cancelled', 'interrupted']);

/** What a client asked for (paths resolved on the server). */
export interface JobRequest {
  left: string;
  right: string;
  key: string[];
  out: string;
  threads: number;
  batch: number;
  delimiter: string;
  /** Replace `left.csv` / `right.csv` if they exist in `out` (never an input). */
  overwrite: boolean;
  /** Rows whose key is empty: match them (default), skip them, or refuse the file. */
  emptyKeys: EmptyKeyPolicy;
}

/**
 * One party of a two-party session (`POST /jobs { party: {...} }`): this side's file, run as
 * `psi party` runs it, against a peer that joins the same NATS cluster under the same session.
 * The NATS connection is the service's own (its `--nats*` flags and environment): a job names
 * no server, user, password or token, so its record on disk holds none.
 */
export interface PartyJobRequest {
  kind: 'party';
  side: 'left' | 'right';
  file: string;
  key: string[];
  out: string;
  session: string;
  reveal: Reveal;
  cardinalityOnly: boolean;
  threads: number;
  batch: number;
  delimiter: string;
  /** Seconds a silent peer is given before it is lost. */
  peerTimeout: number;
}

/** What a job runs: both files here, or one party of a session. */
export type AnyJobRequest = JobRequest | PartyJobRequest;

export function isPartyRequest(r: AnyJobRequest): r is PartyJobRequest {
  return (r as { kind?: unknown }).kind === 'party';
}

/** A done party job's result: what this side learned and the peer link, and its output's size. */
export type PartyJobResult = SideSummary & { kind: 'party'; outputBytes: { left: number; right: number } };

/** Progress as the API shows it. */
export interface JobProgress {
  /** `waiting`: a party job waiting for its peer (and the handshake). */
  phase: 'queued' | 'starting' | 'waiting' | 'reading' | 'masking' | 'exchanging' | 'writing' | 'done';
  /** 0..1 once both inputs are read (the total is known only then). */
  fraction: number | null;
  rows: { left: number; right: number };
  uniqueKeys: { left: number; right: number };
  /** Items masked so far, both parties (each unique key is masked twice). */
  masked: number;
  /** Masked items per second since the start. */
  itemsPerSecond: number;
  writtenRows: number;
  elapsedMs: number;
  /** A party job: payload bytes sent to and received from the peer so far. */
  link?: { bytesSent: number; bytesReceived: number };
}

export interface JobRecord {
  id: string;
  state: JobState;
  request: AnyJobRequest;
  /** Input sizes in bytes, when submitted (a party job: its own side's file; the other is 0). */
  inputBytes: { left: number; right: number };
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  progress: JobProgress;
  /** When done: the run's summary and the output sizes. */
  result: (PsiSummary & { outputBytes: { left: number; right: number } }) | PartyJobResult | null;
  /** When failed, cancelled or interrupted: why. */
  error: { name: string; code: string | null; message: string } | null;
  /** What the run noticed that does not stop it (rows with empty keys, stale temporary files removed). */
  warnings: string[];
  /** A cancel was asked for while it ran; it ends as `cancelled` once the run has stopped. */
  cancelRequested: boolean;
  /** Its run found no folder at `out` when it started (so PSI made it): a crash's leftovers include the folder. */
  outFolderMade?: boolean;
}

export function queuedProgress(): JobProgress {
  return {
    phase: 'queued',
    fraction: null,
    rows: { left: 0, right: 0 },
    uniqueKeys: { left: 0, right: 0 },
    masked: 0,
    itemsPerSecond: 0,
    writtenRows: 0,
    elapsedMs: 0,
  };
}

/** Turn a run's progress snapshot into the API's view. */
export function jobProgress(p: PsiProgress): JobProgress {
  const both = (f: (s: SideProgress) => number) => f(p.left) + f(p.right);
  const unique = both((s) => s.uniqueKeys);
  const masked = both((s) => s.ownMasked + s.peerMasked);
  const returned = both((s) => s.returned);
  const written = both((s) => s.writtenRows);
  const readDone = p.left.readDone && p.right.readDone;
  let phase: JobProgress['phase'];
  if (p.left.done && p.right.done) phase = 'done';
  else if (!readDone) phase = both((s) => s.rows) === 0 ? 'starting' : 'reading';
  else if (masked < 2 * unique) phase = 'masking';
  else if (returned < unique) phase = 'exchanging';
  else phase = 'writing';
  // Masking twice and the exchange back are the work; the total is known once both files are read.
  const fraction =
    phase === 'done' ? 1 : readDone && unique > 0 ? Math.min(1, (masked + returned) / (3 * unique)) : null;
  return {
    phase,
    fraction,
    rows: { left: p.left.rows, right: p.right.rows },
    uniqueKeys: { left: p.left.uniqueKeys, right: p.right.uniqueKeys },
    masked,
    itemsPerSecond: p.elapsedMs > 0 ? (masked / p.elapsedMs) * 1000 : 0,
    writtenRows: written,
    elapsedMs: p.elapsedMs,
  };
}

/** An error reduced to what the API shows (PSI errors name files and positions, never values). */
export function jobError(error: unknown): NonNullable<JobRecord['error']> {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { name: error.name, code: typeof code === 'string' ? code : null, message: error.message };
  }
  return { name: 'Error', code: null, message: `thrown value of type ${typeof error}` };
}

/** A party session's progress as the API shows it: this side's counts (the peer's are not known here). */
export function partyProgress(p: SessionProgress, elapsedMs: number): JobProgress {
  const own = p.progress;
  const side = p.side;
  const masked = own.ownMasked + own.peerMasked;
  let phase: JobProgress['phase'];
  if (own.done) phase = 'done';
  else if (p.phase === 'waiting' || p.phase === 'handshaking') phase = 'waiting';
  else if (own.writing) phase = 'writing';
  else if (!own.readDone) phase = own.rows === 0 ? 'starting' : 'reading';
  else if (own.ownMasked < own.uniqueKeys) phase = 'masking';
  else phase = 'exchanging';
  // Masking its own keys and getting them back are this side's share of the work.
  const fraction =
    phase === 'done'
      ? 1
      : own.readDone && own.uniqueKeys > 0
        ? Math.min(1, (own.ownMasked + own.returned) / (2 * own.uniqueKeys))
        : null;
  const pair = (n: number) => (side === 'left' ? { left: n, right: 0 } : { left: 0, right: n });
  return {
    phase,
    fraction,
    rows: pair(own.rows),
    uniqueKeys: pair(own.uniqueKeys),
    masked,
    itemsPerSecond: elapsedMs > 0 ? (masked / elapsedMs) * 1000 : 0,
    writtenRows: own.writtenRows,
    elapsedMs,
    link: { bytesSent: p.bytesSent, bytesReceived: p.bytesReceived },
  };
}
