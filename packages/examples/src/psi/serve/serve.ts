/**
 * `psi serve`: PSI jobs over HTTP, on the same actors as the `psi` command.
 *
 *   psi serve [--port 8640] [--host 127.0.0.1] [--data psi-jobs] [--max-running 1] [--threads N]
 *             [--on-sigterm interrupt|finish] [--drain-timeout 600] [--inspect <port>]
 *             [--nats <url> [--nats-cluster psi] [--nats-ca ...] [--nats-user ...] ...]
 *
 * With `--nats` (the flags of `psi party`, and its environment for a password
 * or token) the service joins that NATS cluster at start and also runs party
 * jobs: one side of a two-party session each (partyJob.ts).
 * Jobs are records in `<data>/jobs/` and survive a restart (one that was
 * running is then reported `interrupted`; queued ones run). POSTs need the
 * token: `PSI_SERVE_TOKEN`, or one is generated and printed to stderr. On
 * SIGTERM / SIGINT the service takes no new jobs and either interrupts the
 * running ones (default) or lets them finish (`--on-sigterm finish`, bounded
 * by `--drain-timeout` seconds); a second signal interrupts, a third exits at once.
 * Prints one JSON line to stdout once listening: `{ "api": url, "inspector": url | null }`.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { PsiOptionsError } from '@troupe/actors';
import { ActorSystem, consoleLogger } from '@troupe/core';
import { inspect } from '@troupe/inspector';
import type { Cluster } from '@troupe/remote';
import { joinPartyCluster, NATS_FLAG_OPTIONS, type NatsFlags, natsFlags } from '../natsParty.js';
import { jobApi } from './api.js';
import type { JobRecord } from './JobRecord.js';
import { JobService } from './JobService.js';
import { JobStore } from './JobStore.js';
import { jobsSection } from './jobsSection.js';
import { partyRunner } from './partyJob.js';

export const SERVE_USAGE = `usage:
  psi serve [--port 8640] [--host 127.0.0.1] [--data psi-jobs] [--max-running 1] [--threads N]
            [--on-sigterm interrupt|finish] [--drain-timeout 600] [--inspect <port>]
            [--nats <url>[,<url>...] [--nats-cluster psi] [--nats-ca <ca.pem>] [--nats-cert <cert.pem> --nats-key <key.pem>]
             [--nats-user <user>] [--nats-creds <file.creds>] [--nats-js-domain <domain>]]

  --nats ...   join this NATS cluster (as psi party does; a password from PSI_NATS_PASSWORD, a token
               from PSI_NATS_TOKEN) and also run party jobs: POST /jobs { party: { side, file, key,
               out, session, ... } }. Without it, party jobs are refused.`;

/** A bad flag: exit 2 with the usage. */
export class ServeUsageError extends Error {
  override name = 'ServeUsageError';
}

function intFlag(name: string, raw: string | undefined, dflt: number, min: number, max: number): number {
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ServeUsageError(`--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

const signalNumbers: Record<string, number> = { SIGINT: 2, SIGTERM: 15 };

/** Run the service until a signal; resolves with the exit code. */
export async function serve(argv: string[], base: string): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      data: { type: 'string' },
      'max-running': { type: 'string' },
      threads: { type: 'string' },
      'on-sigterm': { type: 'string' },
      'drain-timeout': { type: 'string' },
      inspect: { type: 'string' },
      ...NATS_FLAG_OPTIONS,
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${SERVE_USAGE}\n`);
    return 0;
  }
  const port = intFlag('port', values.port, 8640, 0, 65535);
  const host = values.host ?? '127.0.0.1';
  if (!/^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|::1)$/.test(host)) {
    throw new ServeUsageError(`--host must be a loopback address (the API runs jobs on server files), got ${host}`);
  }
  const maxRunning = intFlag('max-running', values['max-running'], 1, 1, 64);
  const threads = intFlag('threads', values.threads, availableParallelism(), 1, 256);
  const drainTimeoutS = intFlag('drain-timeout', values['drain-timeout'], 600, 1, 7 * 24 * 3600);
  const onSigterm = values['on-sigterm'] ?? 'interrupt';
  if (onSigterm !== 'interrupt' && onSigterm !== 'finish') {
    throw new ServeUsageError(`--on-sigterm must be interrupt or finish, got ${JSON.stringify(onSigterm)}`);
  }
  const inspectPort = values.inspect === undefined ? undefined : intFlag('inspect', values.inspect, 0, 0, 65535);
  const dataDir =
    values.data === undefined
      ? resolve(base, 'psi-jobs')
      : isAbsolute(values.data)
        ? values.data
        : resolve(base, values.data);

  let nats: NatsFlags | undefined;
  if (values.nats !== undefined || Object.keys(NATS_FLAG_OPTIONS).some((k) => values[k as 'nats'] !== undefined)) {
    try {
      nats = await natsFlags(values);
    } catch (error) {
      if (error instanceof PsiOptionsError) throw new ServeUsageError(error.message);
      throw error;
    }
  }

  let token = process.env.PSI_SERVE_TOKEN;
  if (token !== undefined && token.length < 16)
    throw new ServeUsageError('PSI_SERVE_TOKEN must be at least 16 characters');
  if (token === undefined) {
    token = randomBytes(18).toString('base64url');
    process.stderr.write(`psi serve: token for POST requests (set PSI_SERVE_TOKEN to choose one): ${token}\n`);
  }

  const store = await JobStore.open(dataDir);
  const loaded = await store.load((file, why) => process.stderr.write(`psi serve: skipping ${file}: ${why}\n`));
  // Signals are the service's: it drains its jobs first, then shuts the system down.
  const system = await ActorSystem.start({
    name: 'psi-serve',
    signals: false,
    logger: consoleLogger('warn'),
    workers: { size: threads },
  });
  // Party jobs meet their peers over this one connection (a join that fails ends the start: exit 1).
  let cluster: Cluster | undefined;
  if (nats !== undefined) {
    try {
      cluster = await joinPartyCluster(system, nats, 'serve');
    } catch (error) {
      await system.shutdown();
      throw error;
    }
  }
  let latest: readonly JobRecord[] = loaded;
  // The records and the queue; the runs are its PsiService child's (/user/jobs/psi).
  const service = system.spawn(JobService, {
    name: 'jobs',
    input: {
      store,
      loaded,
      maxRunning,
      publish: (jobs) => {
        latest = jobs;
      },
      ...(cluster === undefined ? {} : { runParty: partyRunner(system, cluster) }),
    },
  });
  // Started: interrupted jobs recorded, queued ones picked up (a big folder of records may take a while).
  await service.ask({ type: 'list' }, { timeoutMs: 120_000 });

  const server = createServer({ keepAliveTimeout: 5_000 });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => ok());
  });
  const bound = (server.address() as AddressInfo).port;
  const hostName = host.includes(':') ? `[${host}]` : host;
  const hosts = new Set([`${hostName}:${bound}`, `localhost:${bound}`, `127.0.0.1:${bound}`, `[::1]:${bound}`]);
  server.on('request', jobApi({ service, token, base, maxThreads: threads, hosts, partyJobs: cluster !== undefined }));

  const inspector = inspectPort === undefined ? undefined : await inspect(system, { port: inspectPort, host, token });
  inspector?.addSection(jobsSection(() => latest, service));

  process.stdout.write(
    `${JSON.stringify({ api: `http://${hostName}:${bound}/`, inspector: inspector?.url ?? null, data: dataDir })}\n`,
  );

  const stopped = new Promise<number>((resolveStopped) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals === 1) {
        process.stderr.write(
          `psi serve: ${signal}: taking no new jobs; ${onSigterm === 'finish' ? 'letting running jobs finish' : 'interrupting running jobs'}\n`,
        );
        void (async () => {
          const timer =
            onSigterm === 'finish'
              ? setTimeout(() => {
                  process.stderr.write(`psi serve: drain timeout (${drainTimeoutS} s); interrupting running jobs\n`);
                  service.tell({ type: 'drain', mode: 'interrupt' });
                }, drainTimeoutS * 1000)
              : undefined;
          const { queued } = await service.ask<{ queued: number }>(
            { type: 'drain', mode: onSigterm },
            { timeoutMs: (drainTimeoutS + 60) * 1000 },
          );
          clearTimeout(timer);
          process.stderr.write(`psi serve: drained; ${queued} queued job(s) stay queued for the next start\n`);
          await new Promise<void>((ok) => {
            server.close(() => ok());
            server.closeAllConnections();
          });
          const report = await system.shutdown();
          resolveStopped(report.exitCode);
        })().catch((error: unknown) => {
          process.stderr.write(`psi serve: shutdown failed: ${(error as Error).message}\n`);
          resolveStopped(1);
        });
      } else if (signals === 2) {
        process.stderr.write(`psi serve: second ${signal}: interrupting running jobs\n`);
        service.tell({ type: 'drain', mode: 'interrupt' });
      } else {
        process.exit(128 + (signalNumbers[signal] ?? 0));
      }
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  return stopped;
}

/** `psi serve` as a command: bad flags exit 2 with the usage, other failures 1. */
export async function serveCommand(argv: string[], base: string): Promise<number> {
  let code: number;
  try {
    code = await serve(argv, base);
  } catch (error) {
    const usage =
      error instanceof ServeUsageError || String((error as { code?: unknown }).code ?? '').startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`psi serve: ${(error as Error).message}\n${usage ? `${SERVE_USAGE}\n` : ''}`);
    // The flags are checked before anything starts, so a usage error leaves nothing running.
    if (usage) return 2;
    code = 1;
  }
  // Everything has been closed; should a stray handle remain, it does not hold the exit.
  setTimeout(() => process.exit(code), 3_000).unref();
  return code;
}
