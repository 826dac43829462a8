/**
 * The library entry points of PSI: {@link runPsi} for one run, and
 * {@link PsiService}, an actor that accepts runs by message (for a service
 * that embeds PSI next to its other actors).
 */
import { mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import {
  type ActorDefinition,
  type ActorRef,
  type ActorSystem,
  defineActor,
  type Replier,
  type WorkerActorSpec,
} from '@troupe/core';
import { CsvReader } from './csv.js';
import { PsiInterruptedError, PsiOptionsError } from './errors.js';
import type { PeerMsg, Reveal } from './PeerProtocol.js';
import { type JobInput, type JobMsg, PsiJob, type PsiProgress, type PsiRelayInput, type PsiSummary } from './PsiJob.js';
import { sessionTimings } from './PsiSession.js';
import type { MaskerInput, MaskerMsg, PartyConfig } from './protocol.js';

/** Options of a PSI run. */
export interface PsiOptions {
  /** The left party's CSV file. */
  left: string;
  /** The right party's CSV file. */
  right: string;
  /** Key column names (one or more), present in both files. */
  key: readonly string[];
  /** Output folder: `left.csv` and `right.csv` are written there (atomically). */
  outDir: string;
  /** Worker threads for masking; default the number of cores. The system needs at least that many worker hosts. */
  threads?: number;
  /** Items per masked batch; default 4096. */
  batchSize?: number;
  /** CSV delimiter; default `,`. */
  delimiter?: string;
  /** Called with progress every `progressIntervalMs` (default 500). */
  onProgress?: (progress: PsiProgress) => void;
  progressIntervalMs?: number;
  /** Abort the run: it stops, leaves no output, and rejects with `PsiInterruptedError`. */
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
  relay?: ActorDefinition<PeerMsg, any, PsiRelayInput>;
  /**
   * Who learns the result (default `both`): only the named side writes its
   * rows; the other writes nothing and is sent nothing that would reveal the
   * intersection (only the count of the other's items).
   */
  reveal?: Reveal;
  /** PSI-CA: no rows are written; the revealed side(s) learn only the intersection's size. */
  cardinalityOnly?: boolean;
  /** The session name (default `psi`); a resume must use the same. */
  session?: string;
  /** A party silent this long is lost (default 30 000 ms). */
  peerTimeoutMs?: number;
  /** Record stage checkpoints under this folder (`left/`, `right/`; key material, mode 0700/0600). */
  checkpointDir?: string;
  /** Continue the run recorded in `checkpointDir`, if there is one, instead of starting afresh. */
  resume?: boolean;
}

/** Check options and turn them into the two parties' configurations. */
export function resolvePsiOptions(options: PsiOptions): JobInput {
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
  const threads = options.threads ?? availableParallelism();
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
    throw new PsiOptionsError('--threads', `must be an integer from 1 to 256, got ${threads}`);
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
  const reveal = options.reveal ?? 'both';
  if (reveal !== 'both' && reveal !== 'left' && reveal !== 'right') {
    throw new PsiOptionsError('--reveal', `must be both, left or right, got ${JSON.stringify(reveal)}`);
  }
  const cardinalityOnly = options.cardinalityOnly ?? false;
  if (typeof cardinalityOnly !== 'boolean') throw new PsiOptionsError('--cardinality-only', 'must be a boolean');
  const session = options.session ?? 'psi';
  if (typeof session !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(session)) {
    throw new PsiOptionsError(
      '--session',
      `must be 1-128 letters, digits, '.', '_' or '-' (starting with a letter or digit), got ${JSON.stringify(session)}`,
    );
  }
  const resume = options.resume ?? false;
  if (resume && options.checkpointDir === undefined) {
    throw new PsiOptionsError('--resume', 'needs a checkpoint folder (checkpointDir) to resume from');
  }
  if (resume && cardinalityOnly) {
    throw new PsiOptionsError(
      '--resume',
      'cannot be used with --cardinality-only: the whole-set shuffles of the cardinality mode are not checkpointed',
    );
  }
  if (
    options.checkpointDir !== undefined &&
    (typeof options.checkpointDir !== 'string' || options.checkpointDir === '')
  ) {
    throw new PsiOptionsError('checkpointDir', `must name a folder, got ${JSON.stringify(options.checkpointDir)}`);
  }
  const sessionOptions = {
    name: session,
    ...(options.peerTimeoutMs === undefined ? {} : { peerTimeoutMs: options.peerTimeoutMs }),
    ...(options.checkpointDir === undefined ? {} : { checkpointDir: resolve(options.checkpointDir) }),
    resume,
  };
  sessionTimings(sessionOptions);
  const outDir = resolve(options.outDir);
  const party = (side: 'left' | 'right'): PartyConfig => ({
    side,
    file: resolve(options[side]),
    keyColumns: [...key],
    delimiter,
    outFile: resolve(outDir, `${side}.csv`),
    batchSize,
    threads,
    ...(side === 'left' && options.killMaskerAfterBatches !== undefined
      ? { killMaskerAfterBatches: options.killMaskerAfterBatches }
      : {}),
    ...(masker !== undefined ? { masker } : {}),
    reveal,
    cardinalityOnly,
  });
  return {
    left: party('left'),
    right: party('right'),
    ...(relay !== undefined ? { relay } : {}),
    session: sessionOptions,
  };
}

/**
 * Fail fast on a missing file, an empty file or a missing key column, before
 * any work starts; then make the output folder.
 */
async function prepare(input: JobInput, outDir: string): Promise<void> {
  for (const cfg of [input.left, input.right]) {
    const csv = await CsvReader.open(cfg.file, { delimiter: cfg.delimiter });
    try {
      csv.columnIndices(cfg.keyColumns);
    } finally {
      await csv.close();
    }
  }
  await mkdir(resolve(outDir), { recursive: true });
}

let runs = 0;

/**
 * Run a two-party ECDH-PSI over two CSV files, both parties in this process
 * (each with its own key and actor subtree under one job actor). Resolves with
 * the summary once both outputs are in place; rejects with the input error
 * (naming file, line and column), or `PsiInterruptedError` if the run is
 * aborted or the system shuts down. Either way no partial output is left.
 *
 * @example
 * const system = await ActorSystem.start({ name: 'psi', workers: { size: 2 } });
 * const summary = await runPsi(system, { left: 'a.csv', right: 'b.csv', key: ['id'], outDir: 'result', threads: 2 });
 * console.log(summary.intersection);
 */
export async function runPsi(system: ActorSystem, options: PsiOptions): Promise<PsiSummary> {
  const input = resolvePsiOptions(options);
  const hosts = system.workerPool().size;
  if (input.left.threads > hosts) {
    throw new PsiOptionsError(
      '--threads',
      `is ${input.left.threads} but the actor system has ${hosts} worker host(s); start it with workers: { size: ${input.left.threads} }`,
    );
  }
  options.signal?.throwIfAborted();
  await prepare(input, options.outDir);
  const name = `psi-${++runs}`;
  const job = system.spawn(PsiJob, { name, input });
  // On shutdown, stop the run at once rather than drain hours of masking: the writers abort.
  const unhook = system.onShutdown('stop-intake', name, () => {
    // Abort first: the exchangers release a reader waiting for room, so the stop below is quick.
    job.tell({ type: 'abort', reason: new PsiInterruptedError('the actor system is shutting down') });
    return system.stop(job);
  });
  const onAbort = () =>
    job.tell({
      type: 'abort',
      reason: new PsiInterruptedError('aborted by its signal', { cause: options.signal?.reason }),
    });
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const timer =
    options.onProgress === undefined
      ? undefined
      : setInterval(() => {
          job
            .ask<PsiProgress>({ type: 'progress-snapshot' }, { timeoutMs: 60_000 })
            .then(options.onProgress, () => undefined);
        }, options.progressIntervalMs ?? 500);
  try {
    return await job.ask<PsiSummary>({ type: 'result' }, { timeoutMs: 7 * 24 * 3_600_000 });
  } finally {
    if (timer !== undefined) clearInterval(timer);
    options.signal?.removeEventListener('abort', onAbort);
    unhook();
    await system.stop(job);
  }
}

/** Messages of {@link PsiService}. */
export type PsiServiceMsg = { type: 'run'; options: PsiOptions } | { type: 'jobs' };

interface ServiceState {
  jobs: Map<string, ActorRef<JobMsg>>;
  next: number;
}

/**
 * An actor that runs PSI jobs sent to it by message (`ask({ type: 'run', options })`
 * answers with the summary). Each job is a child; a failed job fails only its
 * own ask, never the service.
 *
 * @example
 * const psi = system.spawn(PsiService, { name: 'psi' });
 * const summary = await psi.ask({ type: 'run', options: { left, right, key: ['id'], outDir, threads: 2 } }, { timeoutMs: 3_600_000 });
 */
export const PsiService = defineActor<PsiServiceMsg, ServiceState>({
  name: 'psi-service',
  init: () => ({ jobs: new Map(), next: 1 }),
  receive: (s, msg, ctx) => {
    if (msg.type === 'jobs') {
      ctx.reply([...s.jobs.keys()]);
      return;
    }
    const replier: Replier<PsiSummary> = ctx.deferReply<PsiSummary>();
    let input: JobInput;
    try {
      input = resolvePsiOptions(msg.options);
    } catch (error) {
      replier.fail(error);
      return;
    }
    const name = `job-${s.next++}`;
    const start = async () => {
      await prepare(input, msg.options.outDir);
      const job = ctx.spawn(PsiJob, { name, input });
      s.jobs.set(name, job);
      try {
        return await ctx.ask<PsiSummary>(job, { type: 'result' }, { timeoutMs: 7 * 24 * 3_600_000 });
      } finally {
        s.jobs.delete(name);
        await ctx.stop(job);
      }
    };
    void ctx.inFlight(
      start().then(
        (v) => replier.reply(v),
        (e) => replier.fail(e),
      ),
    );
  },
});
