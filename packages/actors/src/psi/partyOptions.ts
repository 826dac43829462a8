/**
 * The options of one party that runs on its own (the `psi party` command, or
 * a service running one side of a session), checked at the door and turned
 * into its {@link SessionConfig}.
 */
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { WorkerActorSpec } from '@troupe/core';
import { PsiOptionsError } from './errors.js';
import type { Reveal } from './PeerProtocol.js';
import { resolvePsiOptions } from './PsiOptions.js';
import { type SessionConfig, sessionTimings } from './PsiSession.js';
import type { MaskerInput, MaskerMsg, Side } from './protocol.js';

/** Options of one party's run. */
export interface PsiPartyOptions {
  side: Side;
  /** This party's CSV file. */
  file: string;
  /** Key column names (one or more); the peer must use as many. */
  key: readonly string[];
  /** Output folder: `<side>.csv` is written there (atomically) if this side learns the rows. */
  outDir: string;
  /** The session name both parties use to find each other. */
  session: string;
  reveal?: Reveal;
  cardinalityOnly?: boolean;
  threads?: number;
  batchSize?: number;
  delimiter?: string;
  peerTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  /** Continue the run recorded in the checkpoint folder. */
  resume?: boolean;
  /** The checkpoint folder; default `<outDir>/.psi-<session>-<side>.state`. */
  checkpointDir?: string;
  masker?: WorkerActorSpec<MaskerMsg, MaskerInput>;
}

/** Check one party's options and make its session's configuration. */
export function resolvePartyOptions(options: PsiPartyOptions): SessionConfig {
  if (options === null || typeof options !== 'object') throw new PsiOptionsError('options', 'must be an object');
  const { side, file, session } = options;
  if (side !== 'left' && side !== 'right') {
    throw new PsiOptionsError('--side', `must be left or right, got ${JSON.stringify(side)}`);
  }
  if (typeof file !== 'string' || file.length === 0) {
    throw new PsiOptionsError('--file', `must name a CSV file, got ${JSON.stringify(file)}`);
  }
  if (session === undefined)
    throw new PsiOptionsError('--session', 'is required: both parties must name the same session');
  const outDir = typeof options.outDir === 'string' && options.outDir.length > 0 ? resolve(options.outDir) : '';
  const checkpointDir =
    options.checkpointDir ?? (outDir === '' ? undefined : join(outDir, `.psi-${String(session)}-${side}.state`));
  // The checks both modes share (key, out, threads, batch, delimiter, session, reveal, resume) are runPsi's.
  const job = resolvePsiOptions({
    left: file,
    right: file,
    key: options.key,
    outDir: options.outDir,
    session,
    ...(options.reveal === undefined ? {} : { reveal: options.reveal }),
    ...(options.cardinalityOnly === undefined ? {} : { cardinalityOnly: options.cardinalityOnly }),
    ...(options.threads === undefined ? {} : { threads: options.threads }),
    ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
    ...(options.delimiter === undefined ? {} : { delimiter: options.delimiter }),
    ...(options.peerTimeoutMs === undefined ? {} : { peerTimeoutMs: options.peerTimeoutMs }),
    ...(options.resume === undefined ? {} : { resume: options.resume }),
    ...(checkpointDir === undefined ? {} : { checkpointDir }),
    ...(options.masker === undefined ? {} : { masker: options.masker }),
  });
  const config: SessionConfig = {
    session: job.session?.name ?? session,
    party: job[side],
    ...(options.peerTimeoutMs === undefined ? {} : { peerTimeoutMs: options.peerTimeoutMs }),
    ...(options.handshakeTimeoutMs === undefined ? {} : { handshakeTimeoutMs: options.handshakeTimeoutMs }),
    ...(checkpointDir === undefined ? {} : { checkpointDir: resolve(checkpointDir) }),
    resume: options.resume ?? false,
  };
  sessionTimings(config);
  return config;
}

/**
 * What a party checks on disk before it meets its peer: its output
 * (`<out>/<side>.csv`) must not be its input, by path or as the same file
 * through a symbolic or hard link, and must not exist yet unless the run
 * resumes (which may find the output of the run it continues). Throws
 * {@link PsiOptionsError} (`--out`); touches nothing.
 */
export async function checkPartyOutput(config: SessionConfig): Promise<void> {
  const { file, outFile } = config.party;
  const existing = await stat(outFile).catch((e: unknown) => {
    if ((e as { code?: string }).code === 'ENOENT') return undefined;
    throw new PsiOptionsError('--out', `cannot use ${outFile}: ${(e as Error).message}`, { cause: e });
  });
  const input = await stat(file).catch(() => undefined);
  const same =
    resolve(outFile) === resolve(file) ||
    (existing !== undefined && input !== undefined && existing.dev === input.dev && existing.ino === input.ino);
  if (same) {
    throw new PsiOptionsError(
      '--out',
      `would write the result to ${outFile}, which is the input file ${file}: choose another folder (inputs are never replaced)`,
    );
  }
  if (existing !== undefined && !config.resume) {
    throw new PsiOptionsError(
      '--out',
      `${outFile} already exists: choose another folder, or remove it first (psi party never replaces a file it did not write)`,
    );
  }
}
