/**
 * `psi party`: one party of a two-party PSI, run by each organisation on its
 * own data, meeting the other party by session name.
 *
 *   psi party --side left|right --file a.csv --key id[,col2] --out result/ --session NAME --nats URL
 *             [--reveal both|left|right] [--cardinality-only] [--threads N] [--batch 4096]
 *             [--delimiter ,] [--peer-timeout 30] [--json] [--resume]
 *
 * The party is a `PsiSession` of `@troupe/actors`; the two sessions find
 * each other over NATS (`--nats`, `@troupe/remote`): see natsParty.ts.
 *
 * Exit codes: 0 done; 2 bad input, usage, or the parties disagree (nothing
 * written); 4 the peer was lost; 5 the peer broke the protocol or aborted;
 * 6 NATS could not be reached (server down, TLS or credentials refused);
 * 130/143/129 interrupted by SIGINT/SIGTERM/SIGHUP; 1 anything else.
 */

import { mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  CsvInputError,
  CsvReader,
  checkPartyOutput,
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
  type SessionProgress,
  type SideSummary,
} from '@troupe/actors';
import { type ActorRef, ActorSystem, type Logger } from '@troupe/core';
import { ClusterJoinError } from '@troupe/remote';
import { joinPartyCluster, NATS_FLAG_OPTIONS, natsConnector, natsFlags } from './natsParty.js';

export const PARTY_USAGE = `usage:
  psi party --side left|right --file <a.csv> --key <col>[,<col>...] --out <dir> --session <name> --nats <url>[,<url>...]
            [--reveal both|left|right] [--cardinality-only] [--threads N] [--batch 4096] [--delimiter ,]
            [--peer-timeout <seconds>] [--json] [--resume]
            [--nats-cluster psi] [--nats-ca <ca.pem>] [--nats-cert <cert.pem> --nats-key <key.pem>]
            [--nats-user <user>] [--nats-creds <file.creds>] [--nats-js-domain <domain>]

  Runs one party of a two-party PSI on its own file; the other party runs the same command
  with the other --side, the same --session, --key column count, --batch, --reveal and
  --cardinality-only (the handshake refuses any difference, naming it). The two find each
  other by session name in the registry of the NATS cluster they join.

  --reveal both|left|right   who learns the result (default both); the other side writes nothing
  --cardinality-only         no rows: the revealed side(s) learn only the intersection's size
  --peer-timeout <s>         a peer silent this long is lost (default 30; a dead peer's
                             node is noticed within 3.25 s)
  --resume                   continue an interrupted run from <out>/.psi-<session>-<side>.state
  --nats <url>               NATS server(s): nats://host:4222, or tls://host:4222 for TLS
  --nats-ca / --nats-cert / --nats-key   TLS: the CA to trust, a client certificate and its key
  --nats-user <user>         user name; the password is read from PSI_NATS_PASSWORD
                             (a token from PSI_NATS_TOKEN), never from the command line
  --nats-creds <file>        a NATS .creds file (JWT and NKey seed)
  --nats-js-domain <domain>  the JetStream domain holding the registry, when each party's
                             server is a leaf of a hub (both parties give the same)
  exit codes: 0 done; 2 bad input or usage, or the parties disagree; 4 peer lost;
              5 the peer broke the protocol or aborted; 6 cannot reach NATS (server, TLS
              or credentials refused); 130/143 interrupted; 1 other`;

/** The exit code of a party that ended with `error`. */
export function partyExitCode(error: unknown): number {
  if (error instanceof PsiPeerLostError) return 4;
  if (error instanceof ClusterJoinError) return 6;
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
): { config: SessionConfig; nats: Partial<Record<keyof typeof NATS_FLAG_OPTIONS, string>>; json: boolean } | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      side: { type: 'string' },
      file: { type: 'string' },
      key: { type: 'string' },
      out: { type: 'string' },
      session: { type: 'string' },
      ...NATS_FLAG_OPTIONS,
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
  const nats: Partial<Record<keyof typeof NATS_FLAG_OPTIONS, string>> = {};
  for (const k of Object.keys(NATS_FLAG_OPTIONS) as (keyof typeof NATS_FLAG_OPTIONS)[]) {
    const v = values[k];
    if (typeof v === 'string') nats[k] = v;
  }
  return { config, nats, json: values.json };
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
  const { config, json } = parsed;
  const party = config.party;
  // Fail on bad input before anyone else is involved.
  const csv = await CsvReader.open(party.file, { delimiter: party.delimiter });
  try {
    csv.columnIndices(party.keyColumns);
  } finally {
    await csv.close();
  }
  await checkPartyOutput(config);
  const nats = await natsFlags(parsed.nats);
  // The system owns the signals from here on: a signal shuts it down, which aborts the session and tells the peer.
  const system = await ActorSystem.start({
    name: `psi-${party.side}`,
    logger: partyLogger,
    workers: { size: party.threads },
    signals: ['SIGTERM', 'SIGINT', 'SIGHUP'],
    exitOnSignal: false,
    exitCodeOnSignal: (signal) => 128 + (SIGNAL_NUMBERS[signal] ?? 0),
  });
  let summary: SideSummary | undefined;
  let failure: unknown;
  try {
    const cluster = await joinPartyCluster(system, nats, party.side);
    summary = await runParty(system, config, natsConnector(cluster, config));
  } catch (error) {
    failure = error;
  }
  const report = await system.shutdown();
  if (report.cause === 'signal' && summary === undefined) {
    const message = `psi party ${party.side}: interrupted by ${report.signal}; nothing written (the peer is told)`;
    if (json)
      process.stdout.write(
        `${JSON.stringify(partyErrorJson(new PsiInterruptedError(String(report.signal)), report.exitCode))}\n`,
      );
    process.stderr.write(`${message}\n`);
    return report.exitCode;
  }
  if (failure !== undefined) {
    if (json) process.stdout.write(`${JSON.stringify(partyErrorJson(failure, partyExitCode(failure)))}\n`);
    throw failure;
  }
  const s = summary as SideSummary;
  // The process's peak resident memory (KiB from the kernel), as `psi --json` reports it: one party's own footprint.
  const maxRssMb = process.resourceUsage().maxRSS / 1024;
  if (json) process.stdout.write(`${JSON.stringify({ ...s, maxRssMb, exitCode: report.exitCode })}\n`);
  else process.stdout.write(`${formatPartySummary(s)}\n`);
  return report.exitCode;
}

const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

/** Warnings and errors of the runtime on stderr (an actor failing on bad input is reported once, by the command). */
const partyLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (m) => process.stderr.write(`[troupe] WARN ${m}\n`),
  error: (m) => {
    if (/^actor \S+ failed: (Csv\w+Error|Psi\w+Error)\b/.test(m)) return;
    process.stderr.write(`[troupe] ERROR ${m}\n`);
  },
};

/** The `--json` form of an error that ended the party. */
function partyErrorJson(error: unknown, exitCode: number): Record<string, unknown> {
  const e = error as { name?: string; code?: unknown; message?: string; reason?: unknown; option?: unknown };
  return {
    error: {
      name: e?.name ?? 'Error',
      ...(typeof e?.code === 'string' ? { code: e.code } : {}),
      ...(typeof e?.reason === 'string' ? { reason: e.reason } : {}),
      ...(typeof e?.option === 'string' ? { option: e.option } : {}),
      message: e?.message ?? String(error),
    },
    exitCode,
  };
}

/**
 * Run one party: its session, connected to the peer's port that `connect`
 * finds (over NATS, by session name, in the command), to the end. A shutdown
 * of the system aborts it and tells the peer.
 */
export async function runParty(
  system: ActorSystem,
  config: SessionConfig,
  connect: (port: ActorRef<PeerMsg>, signal: AbortSignal) => Promise<ActorRef<PeerMsg>>,
  options: RunPartyOptions = {},
): Promise<SideSummary> {
  const name = options.name ?? `psi-party-${config.party.side}`;
  await mkdir(dirname(config.party.outFile), { recursive: true });
  const session = system.spawn(PsiSession, { name, input: { config } });
  const looking = new AbortController();
  let settled: Promise<unknown> = Promise.resolve();
  // Abort the session, then give it a moment to tell the peer before its port stops (whose end the
  // peer would otherwise see first, as a lost peer); bounded, whoever stops it goes on regardless.
  const abort = async (reason: unknown) => {
    session.tell({ type: 'abort', reason });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([settled, new Promise((r) => (timer = setTimeout(r, 2_000)))]);
    clearTimeout(timer);
  };
  const unhook = system.onShutdown('stop-intake', name, async () => {
    await abort(new PsiInterruptedError('the actor system is shutting down'));
    return system.stop(session);
  });
  const onAbort = () => void abort(options.signal?.reason ?? new PsiInterruptedError('the run was cancelled'));
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });
  const onProgress = options.onProgress;
  const poll =
    onProgress === undefined
      ? undefined
      : setInterval(() => {
          session.ask<SessionProgress>({ type: 'progress-snapshot' }, { timeoutMs: 5_000 }).then(onProgress, () => {
            // Ended meanwhile: the result says how.
          });
        }, options.progressIntervalMs ?? 250);
  try {
    const port = await session.ask<ActorRef<PeerMsg>>({ type: 'get-port' });
    const result = session.ask<SideSummary>({ type: 'result' }, { timeoutMs: 7 * 24 * 3_600_000 });
    settled = result.then(
      () => undefined,
      () => undefined,
    );
    // The session may end before the peer is found (bad input, a timeout, a signal), or find it first.
    void result.then(
      () => looking.abort(new PsiInterruptedError('the session ended')),
      () => looking.abort(new PsiInterruptedError('the session ended')),
    );
    const connected = connect(port, looking.signal).then(
      (peer) => session.tell({ type: 'connect', peer }),
      (error: unknown) => {
        if (looking.signal.aborted) return;
        session.tell({ type: 'abort', reason: error });
      },
    );
    const summary = await result;
    await connected;
    return summary;
  } finally {
    clearInterval(poll);
    options.signal?.removeEventListener('abort', onAbort);
    looking.abort(new PsiInterruptedError('the session ended'));
    unhook();
    await system.stop(session);
  }
}

/** How {@link runParty} runs a session beyond its config (`psi serve` runs several in one system). */
export interface RunPartyOptions {
  /** The session actor's name (default `psi-party-<side>`); unique among the system's top-level actors. */
  name?: string;
  /** Aborting it aborts the session with the signal's reason: the peer is told, nothing is written. */
  signal?: AbortSignal;
  /** Told the session's progress every `progressIntervalMs` (default 250 ms) while it runs. */
  onProgress?: (progress: SessionProgress) => void;
  progressIntervalMs?: number;
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
