/**
 * `psi party`: one party of a two-party PSI, run by each organisation on its
 * own data, meeting the other party by session name.
 *
 *   psi party --side left|right --file a.csv --key id[,col2] --out result/ --session NAME --nats URL
 *             [--reveal both|left|right] [--cardinality-only] [--threads N] [--batch 4096]
 *             [--delimiter ,] [--peer-timeout 30] [--json] [--resume]
 *
 * The party is a `PsiSession` of `@troupe/actors`; the two sessions find
 * each other over NATS (`--nats`), which comes with `@troupe/remote`: until
 * then the command checks its flags and its input and stops, saying so.
 *
 * Exit codes: 0 done; 2 bad input, usage, or the parties disagree (nothing
 * written); 4 the peer was lost; 5 the peer broke the protocol or aborted;
 * 130/143 interrupted by SIGINT/SIGTERM; 1 anything else.
 */

import { mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  CsvInputError,
  CsvReader,
  type PeerMsg,
  PsiCheckpointError,
  PsiHandshakeError,
  PsiInterruptedError,
  PsiOptionsError,
  PsiPeerError,
  PsiPeerLostError,
  PsiSession,
  PsiSideTakenError,
  resolvePartyOptions,
  type SessionConfig,
  type SideSummary,
} from '@troupe/actors';
import type { ActorRef, ActorSystem } from '@troupe/core';

export const PARTY_USAGE = `usage:
  psi party --side left|right --file <a.csv> --key <col>[,<col>...] --out <dir> --session <name> --nats <url>
            [--reveal both|left|right] [--cardinality-only] [--threads N] [--batch 4096] [--delimiter ,]
            [--peer-timeout <seconds>] [--json] [--resume]

  Runs one party of a two-party PSI on its own file; the other party runs the same command
  with the other --side, the same --session, --key column count, --batch, --reveal and
  --cardinality-only (the handshake refuses any difference, naming it).

  --reveal both|left|right   who learns the result (default both); the other side writes nothing
  --cardinality-only         no rows: the revealed side(s) learn only the intersection's size
  --peer-timeout <s>         a peer silent this long is lost (default 30)
  --resume                   continue an interrupted run from <out>/.psi-<session>-<side>.state
  exit codes: 0 done; 2 bad input or usage, or the parties disagree; 4 peer lost;
              5 the peer broke the protocol or aborted; 130/143 interrupted; 1 other`;

/** The exit code of a party that ended with `error`. */
export function partyExitCode(error: unknown): number {
  if (error instanceof PsiPeerLostError) return 4;
  if (error instanceof PsiHandshakeError || error instanceof PsiSideTakenError) return 2;
  if (error instanceof PsiPeerError) return 5;
  if (error instanceof PsiOptionsError || error instanceof CsvInputError || error instanceof PsiCheckpointError) {
    return 2;
  }
  const code = (error as { code?: unknown })?.code;
  if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) return 2;
  return 1;
}

const base = process.env.INIT_CWD ?? process.cwd();
const path = (p: string) => (isAbsolute(p) ? p : resolve(base, p));

function intFlag(name: string, raw: string | undefined, dflt: number, min: number, max: number): number {
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new PsiOptionsError(`--${name}`, `must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/** Parse and check the flags of `psi party` into the session's configuration (throws naming the flag). */
export function partyConfig(
  argv: string[],
): { config: SessionConfig; nats: string | undefined; json: boolean } | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      side: { type: 'string' },
      file: { type: 'string' },
      key: { type: 'string' },
      out: { type: 'string' },
      session: { type: 'string' },
      nats: { type: 'string' },
      reveal: { type: 'string' },
      'cardinality-only': { type: 'boolean', default: false },
      threads: { type: 'string' },
      batch: { type: 'string' },
      delimiter: { type: 'string' },
      'peer-timeout': { type: 'string' },
      json: { type: 'boolean', default: false },
      resume: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) return 'help';
  for (const flag of ['side', 'file', 'key', 'out', 'session'] as const) {
    if (values[flag] === undefined) throw new PsiOptionsError(`--${flag}`, 'is required (see psi party --help)');
  }
  const config = resolvePartyOptions({
    side: values.side as 'left',
    file: path(values.file as string),
    key: (values.key as string).split(',').map((k) => k.trim()),
    outDir: path(values.out as string),
    session: values.session as string,
    reveal: (values.reveal ?? 'both') as 'both',
    cardinalityOnly: values['cardinality-only'],
    threads: intFlag('threads', values.threads, availableParallelism(), 1, 256),
    batchSize: intFlag('batch', values.batch, 4096, 1, 1 << 20),
    ...(values.delimiter === undefined ? {} : { delimiter: values.delimiter }),
    peerTimeoutMs: intFlag('peer-timeout', values['peer-timeout'], 30, 1, 86_400) * 1000,
    resume: values.resume,
  });
  return { config, nats: values.nats, json: values.json };
}

/** `psi party ...`: prints what went wrong, if anything, and returns the exit code. */
export async function partyMain(argv: string[]): Promise<number> {
  try {
    return await party(argv);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${message.startsWith('psi') ? message : `psi party: ${message}`}\n`);
    if ((error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) process.stderr.write(`${PARTY_USAGE}\n`);
    return partyExitCode(error);
  }
}

async function party(argv: string[]): Promise<number> {
  const parsed = partyConfig(argv);
  if (parsed === 'help') {
    process.stdout.write(`${PARTY_USAGE}\n`);
    return 0;
  }
  const party = parsed.config.party;
  // Fail on bad input before anyone else is involved.
  const csv = await CsvReader.open(party.file, { delimiter: party.delimiter });
  try {
    csv.columnIndices(party.keyColumns);
  } finally {
    await csv.close();
  }
  throw new PsiOptionsError(
    '--nats',
    parsed.nats === undefined
      ? 'is needed: the two parties meet over NATS, which is not available yet (it comes with @troupe/remote); ' +
          'to run both parties in one process, use psi --left ... --right ...'
      : `${parsed.nats}: the NATS transport is not available yet (it comes with @troupe/remote); ` +
          'to run both parties in one process, use psi --left ... --right ...',
  );
}

/**
 * Run one party: its session, connected to the peer's port that `connect`
 * finds (over NATS, by session name, in the command), to the end. A shutdown
 * of the system aborts it and tells the peer.
 */
export async function runParty(
  system: ActorSystem,
  config: SessionConfig,
  connect: (port: ActorRef<PeerMsg>) => Promise<ActorRef<PeerMsg>>,
): Promise<SideSummary> {
  const name = `psi-party-${config.party.side}`;
  await mkdir(dirname(config.party.outFile), { recursive: true });
  const session = system.spawn(PsiSession, { name, input: { config } });
  const unhook = system.onShutdown('stop-intake', name, () => {
    session.tell({ type: 'abort', reason: new PsiInterruptedError('the actor system is shutting down') });
    return system.stop(session);
  });
  try {
    const port = await session.ask<ActorRef<PeerMsg>>({ type: 'get-port' });
    const result = session.ask<SideSummary>({ type: 'result' }, { timeoutMs: 7 * 24 * 3_600_000 });
    session.tell({ type: 'connect', peer: await connect(port) });
    return await result;
  } finally {
    unhook();
    await system.stop(session);
  }
}

const n = (v: number) => v.toLocaleString('en');
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;

/** The summary a party prints: what it learned (and what it did not), the peer link, the stages. */
export function formatPartySummary(s: SideSummary): string {
  const learned =
    s.learned === 'rows'
      ? `the intersection: ${n(s.matchedKeys ?? 0)} keys; ${n(s.matchedRows)} rows written to ${s.outFile}`
      : s.learned === 'size'
        ? `only the intersection's size: ${n(s.matchedKeys ?? 0)} keys (cardinality only: no rows written)`
        : 'nothing of the intersection (the other side learns it); no rows written';
  const st = s.stages;
  const lines = [
    `psi party ${s.side} (session ${s.session}): ${n(s.rows)} rows, ${n(s.uniqueKeys)} unique keys`,
    `  learned: ${learned}`,
    `  of the peer: its number of unique keys (${n(s.peerUniqueKeys)}, in ${n(s.peerBatches)} batches), as the protocol must reveal`,
    `  peer link: sent ${mb(s.bytesSent)} in ${n(s.messagesSent)} messages, received ${mb(s.bytesReceived)} in ${n(s.messagesReceived)}`,
    `  stages: handshake ${secs(st.handshake)}, read ${secs(st.read)}, exchange ${secs(st.exchange)}, write ${secs(st.write)}, commit ${secs(st.commit)}; total ${secs(s.elapsedMs)}, ${n(Math.round(s.itemsPerSecond))} items/s`,
  ];
  if (s.resumed) {
    lines.push(
      `  resumed: ${n(s.reusedOwnBatches)} own and ${n(s.reusedPeerBatches)} peer batches taken from the checkpoint`,
    );
  }
  if (!s.peerConfirmed) {
    lines.push(
      `  note: the peer did not confirm its own commit; the checkpoint is kept in ${s.checkpoint ?? '(none)'}: ` +
        'if the peer resumes, resume this side too (it only serves the peer, nothing is recomputed)',
    );
  }
  return lines.join('\n');
}
