/**
 * The options of a PSI run and their check at the door: everything that can
 * be known wrong from the options alone is refused here, with a message that
 * names the option (by its `psi` flag), the rule and the value given, before
 * any file is opened or any thread started.
 */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import type { ActorDefinition, WorkerActorSpec } from '@troupe/core';
import { PsiOptionsError } from './errors.js';
import type { JobInput, PsiProgress, PsiRelayInput, PsiSummary } from './PsiJob.js';
import type { EmptyKeyPolicy, ExchangerMsg, MaskerInput, MaskerMsg, PartyConfig } from './protocol.js';

/** Something a run noticed that the user should know, but that does not stop it. */
export type PsiWarning =
  | { type: 'stale-temp-removed'; file: string; pid: number; message: string }
  | { type: 'stale-temp-kept'; file: string; pid: number; message: string }
  | { type: 'empty-keys'; side: 'left' | 'right'; rows: number; firstLine: number; message: string };

/** Options of a PSI run. */
export interface PsiOptions {
  /** The left party's CSV file (a regular file: it is read twice, keys first, then matched rows by byte range). */
  left: string;
  /** The right party's CSV file. */
  right: string;
  /** Key column names (one or more), present in both files. */
  key: readonly string[];
  /** Output folder: `left.csv` and `right.csv` are written there (atomically). It is created if missing. */
  outDir: string;
  /**
   * Replace `left.csv` / `right.csv` if they already exist in `outDir`; default false
   * (the run is refused). An output that is one of the inputs is refused either way.
   */
  overwrite?: boolean;
  /**
   * Worker threads for masking, at most {@link maxPsiThreads} (4 per core); default the
   * number of cores. Threads start as batches need them, so a small input uses few.
   * The system needs at least that many worker hosts.
   */
  threads?: number;
  /** Items per masked batch; default 4096. */
  batchSize?: number;
  /** CSV delimiter, one character; default `,`. */
  delimiter?: string;
  /**
   * Rows whose key is empty (every key column empty): `'match'` (default: they match
   * the other side's empty keys, and a warning counts them), `'skip'` (left out of
   * the PSI and the output) or `'refuse'` (the run fails, naming the first such row).
   */
  emptyKeys?: EmptyKeyPolicy;
  /** Called with progress every `progressIntervalMs` (default 500). Not for {@link PsiService}: ask it for `progress`. */
  onProgress?: (progress: PsiProgress) => void;
  progressIntervalMs?: number;
  /** Called with each {@link PsiWarning} (stale temporary files, empty keys). */
  onWarning?: (warning: PsiWarning) => void;
  /** Abort the run: it stops, leaves no output, and rejects with `PsiInterruptedError`. Not for {@link PsiService}: send it `cancel`. */
  signal?: AbortSignal;
  /** Fault injection for tests: one masker thread exits after this many batches. */
  killMaskerAfterBatches?: number;
  /**
   * The masker worker actor of both parties; default the built-in X25519 masker.
   * For audits and tests: an instrumented masker wraps the built-in definition.
   */
  masker?: WorkerActorSpec<MaskerMsg, MaskerInput>;
  /**
   * An actor put on the wire between the two parties, one per direction, that
   * passes every message on (see {@link PsiRelayInput}): what it sees is all
   * that a party reveals to its peer. None by default.
   */
  // biome-ignore lint/suspicious/noExplicitAny: the relay's state is its own
  relay?: ActorDefinition<ExchangerMsg, any, PsiRelayInput>;
}

/** What a run needs once its options are checked: the two parties' configurations (the job's input). */
export interface ResolvedPsiRun extends JobInput {
  outDir: string;
  overwrite: boolean;
}

/** Threads per core beyond which a run is refused. */
const THREADS_PER_CORE = 4;

/**
 * The most masking threads a run may ask for here: 4 per core (at least 4).
 * Masking is CPU-bound, so threads beyond the cores add memory (each thread
 * is a V8 isolate) and start-up time, not speed.
 */
export function maxPsiThreads(cores: number = availableParallelism()): number {
  return Math.max(THREADS_PER_CORE, THREADS_PER_CORE * cores);
}

/**
 * Check options and turn them into the two parties' configurations. Throws
 * {@link PsiOptionsError} naming the option. Paths are resolved against the
 * working directory.
 */
export function resolvePsiOptions(options: PsiOptions): ResolvedPsiRun {
  if (options === null || typeof options !== 'object') throw new PsiOptionsError('options', 'must be an object');
  for (const side of ['left', 'right'] as const) {
    if (typeof options[side] !== 'string' || options[side].length === 0) {
      throw new PsiOptionsError(`--${side}`, `must name a CSV file, got ${JSON.stringify(options[side])}`);
    }
  }
  const key = options.key;
  if (!Array.isArray(key) || key.length === 0 || key.some((k) => typeof k !== 'string' || k.length === 0)) {
    throw new PsiOptionsError('--key', `must name one or more columns, got ${JSON.stringify(key)}`);
  }
  if (new Set(key).size !== key.length) throw new PsiOptionsError('--key', `names a column twice: ${key.join(',')}`);
  if (typeof options.outDir !== 'string' || options.outDir.length === 0) {
    throw new PsiOptionsError('--out', `must name an output folder, got ${JSON.stringify(options.outDir)}`);
  }
  const cores = availableParallelism();
  const max = maxPsiThreads(cores);
  const threads = options.threads ?? cores;
  if (!Number.isInteger(threads) || threads < 1) {
    throw new PsiOptionsError('--threads', `must be a whole number from 1 to ${max}, got ${threads}`);
  }
  if (threads > max) {
    throw new PsiOptionsError(
      '--threads',
      `is ${threads}, far above the ${cores} core(s) of this machine; the limit is ${max} (${THREADS_PER_CORE} per core). ` +
        'Masking is CPU-bound: threads beyond the cores add memory (each thread is a V8 isolate) and start-up time, not speed.',
    );
  }
  const batchSize = options.batchSize ?? 4096;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 1 << 20) {
    throw new PsiOptionsError('--batch', `must be an integer from 1 to 1048576, got ${batchSize}`);
  }
  const delimiter = options.delimiter ?? ',';
  if (typeof delimiter !== 'string' || delimiter.length !== 1 || '"\r\n'.includes(delimiter)) {
    throw new PsiOptionsError(
      '--delimiter',
      `must be one character other than a quote, CR or LF, got ${JSON.stringify(delimiter)}`,
    );
  }
  const emptyKeys = options.emptyKeys ?? 'match';
  if (emptyKeys !== 'match' && emptyKeys !== 'skip' && emptyKeys !== 'refuse') {
    throw new PsiOptionsError('--empty-keys', `must be match, skip or refuse, got ${JSON.stringify(emptyKeys)}`);
  }
  if (options.overwrite !== undefined && typeof options.overwrite !== 'boolean') {
    throw new PsiOptionsError('--force', `(overwrite) must be true or false, got ${JSON.stringify(options.overwrite)}`);
  }
  for (const fn of ['onProgress', 'onWarning'] as const) {
    if (options[fn] !== undefined && typeof options[fn] !== 'function') {
      throw new PsiOptionsError(fn, `must be a function, got ${typeof options[fn]}`);
    }
  }
  const { masker, relay } = options;
  if (
    masker !== undefined &&
    (masker === null || typeof masker.module !== 'string' || typeof masker.exportName !== 'string')
  ) {
    throw new PsiOptionsError('masker', 'must be a worker actor spec (workerActor(moduleUrl, exportName))');
  }
  if (
    relay !== undefined &&
    (relay === null || typeof relay.init !== 'function' || typeof relay.receive !== 'function')
  ) {
    throw new PsiOptionsError('relay', 'must be an actor definition (defineActor(...))');
  }
  const outDir = resolve(options.outDir);
  const party = (side: 'left' | 'right'): PartyConfig => ({
    side,
    file: resolve(options[side]),
    keyColumns: [...key],
    delimiter,
    outFile: resolve(outDir, `${side}.csv`),
    batchSize,
    threads,
    emptyKeys,
    ...(side === 'left' && options.killMaskerAfterBatches !== undefined
      ? { killMaskerAfterBatches: options.killMaskerAfterBatches }
      : {}),
    ...(masker !== undefined ? { masker } : {}),
  });
  return {
    left: party('left'),
    right: party('right'),
    ...(relay !== undefined ? { relay } : {}),
    outDir,
    overwrite: options.overwrite ?? false,
  };
}

/** Refuse a run that needs more threads than the system has worker hosts. */
export function checkWorkerHosts(run: ResolvedPsiRun, hosts: number): void {
  if (run.left.threads > hosts) {
    throw new PsiOptionsError(
      '--threads',
      `is ${run.left.threads} but the actor system has ${hosts} worker host(s); start it with workers: { size: ${run.left.threads} }`,
    );
  }
}

/** Warnings about rows with empty keys in a finished run (none under `emptyKeys: 'refuse'`, which fails instead). */
export function emptyKeyWarnings(summary: PsiSummary, run: ResolvedPsiRun): PsiWarning[] {
  const out: PsiWarning[] = [];
  for (const side of ['left', 'right'] as const) {
    const s = summary[side];
    if (s.emptyKeyRows === 0) continue;
    const cfg = run[side];
    const rows = `${s.emptyKeyRows} row${s.emptyKeyRows === 1 ? '' : 's'}`;
    const what =
      cfg.emptyKeys === 'skip'
        ? 'were skipped'
        : "were matched like any key (every empty key of one side matches the other side's); use --empty-keys skip or refuse to change that";
    out.push({
      type: 'empty-keys',
      side,
      rows: s.emptyKeyRows,
      firstLine: s.firstEmptyKeyLine,
      message: `${cfg.file}: ${rows} with an empty key (first on line ${s.firstEmptyKeyLine}) ${what}`,
    });
  }
  return out;
}
