/**
 * How `psi party` meets its peer over NATS (`@troupe/remote`): the party's
 * actor system joins a cluster (default `psi`) as a node of its own, registers
 * its session's port under `psi.<session>.<side>` in the cluster's registry,
 * and looks for the other side's port under `psi.<session>.<other side>`.
 * Whoever finds the other first says hello; the session does the rest
 * (handshake, exchange, commit, liveness).
 *
 * A second party claiming a side that is registered by a live party is
 * refused ({@link PsiSideTakenError}); an entry left by a dead party (a crash)
 * is taken over, so a `--resume` after a crash finds its way back.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { type PeerMsg, PsiOptionsError, PsiSideTakenError, type SessionConfig, type Side } from '@troupe/actors';
import type { ActorRef, ActorSystem } from '@troupe/core';
import {
  type Cluster,
  ClusterJoinError,
  type ClusterOptions,
  joinCluster,
  NameTakenError,
  type TlsOptions,
} from '@troupe/remote';

/** Where and how a party reaches NATS (from the `--nats*` flags and the environment). */
export interface NatsFlags {
  /** Server URLs (`nats://host:4222`, `tls://host:4222`), one or more. */
  servers: string[];
  /** The cluster both parties join (default `psi`). */
  cluster: string;
  /** TLS: `true` (the system's CAs) or certificate files. */
  tls: true | TlsOptions | undefined;
  user: string | undefined;
  pass: string | undefined;
  token: string | undefined;
  /** The text of a `.creds` file. */
  credentials: string | undefined;
  /** The JetStream domain of the registry (two organisations' servers joined by a leaf link). */
  jetstreamDomain: string | undefined;
}

/** The flags `psi party` takes for NATS, for `parseArgs`. */
export const NATS_FLAG_OPTIONS = {
  nats: { type: 'string' },
  'nats-cluster': { type: 'string' },
  'nats-ca': { type: 'string' },
  'nats-cert': { type: 'string' },
  'nats-key': { type: 'string' },
  'nats-user': { type: 'string' },
  'nats-creds': { type: 'string' },
  'nats-js-domain': { type: 'string' },
} as const;

/** The registry name of one side's port in a session. */
export function portName(session: string, side: Side): string {
  return `psi.${session}.${side}`;
}

/**
 * Check the NATS flags (throws naming the flag). The password and the token
 * come from the environment (`PSI_NATS_PASSWORD`, `PSI_NATS_TOKEN`), never
 * from the command line, where other users of the machine could read them.
 */
export async function natsFlags(
  values: Partial<Record<keyof typeof NATS_FLAG_OPTIONS, string | undefined>>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<NatsFlags> {
  const raw = values.nats;
  if (raw === undefined) {
    throw new PsiOptionsError(
      '--nats',
      'is needed: the two parties meet over a NATS server (e.g. --nats nats://127.0.0.1:4222); ' +
        'to run both parties in one process, use psi --left ... --right ...',
    );
  }
  const servers = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const s of servers) {
    if (!/^(nats|tls|wss?):\/\/[^\s/]+(:\d+)?\/?$/.test(s) && !/^[^\s/:]+:\d+$/.test(s)) {
      throw new PsiOptionsError('--nats', `must be server URLs such as nats://host:4222, got ${JSON.stringify(s)}`);
    }
  }
  if (servers.length === 0) throw new PsiOptionsError('--nats', `names no server, got ${JSON.stringify(raw)}`);
  const cluster = values['nats-cluster'] ?? 'psi';
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(cluster)) {
    throw new PsiOptionsError(
      '--nats-cluster',
      `must be 1-64 letters, digits, '_' or '-', got ${JSON.stringify(cluster)}`,
    );
  }
  let tls: true | TlsOptions | undefined;
  const files = { caFile: values['nats-ca'], certFile: values['nats-cert'], keyFile: values['nats-key'] };
  if ((files.certFile === undefined) !== (files.keyFile === undefined)) {
    throw new PsiOptionsError(
      '--nats-cert',
      'and --nats-key must be given together (a client certificate and its key)',
    );
  }
  if (files.caFile !== undefined || files.certFile !== undefined) {
    tls = {};
    if (files.caFile !== undefined) tls.caFile = files.caFile;
    if (files.certFile !== undefined && files.keyFile !== undefined) {
      tls.certFile = files.certFile;
      tls.keyFile = files.keyFile;
    }
  } else if (servers.some((s) => s.startsWith('tls://'))) {
    tls = true;
  }
  const user = values['nats-user'];
  const pass = env.PSI_NATS_PASSWORD === '' ? undefined : env.PSI_NATS_PASSWORD;
  if (user !== undefined && pass === undefined) {
    throw new PsiOptionsError('--nats-user', 'needs its password in the environment variable PSI_NATS_PASSWORD');
  }
  let credentials: string | undefined;
  if (values['nats-creds'] !== undefined) {
    try {
      credentials = await readFile(values['nats-creds'], 'utf8');
    } catch (error) {
      throw new PsiOptionsError('--nats-creds', `${values['nats-creds']}: ${(error as Error).message}`);
    }
  }
  const token = env.PSI_NATS_TOKEN === '' ? undefined : env.PSI_NATS_TOKEN;
  const ways = [
    user === undefined ? undefined : '--nats-user',
    token === undefined ? undefined : 'PSI_NATS_TOKEN',
    credentials === undefined ? undefined : '--nats-creds',
  ].filter((w): w is string => w !== undefined);
  if (ways.length > 1) {
    throw new PsiOptionsError(
      ways[0] as string,
      `cannot be combined with ${ways.slice(1).join(' and ')}: give one way to authenticate to NATS`,
    );
  }
  const jetstreamDomain = values['nats-js-domain'];
  if (jetstreamDomain !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(jetstreamDomain)) {
    throw new PsiOptionsError(
      '--nats-js-domain',
      `must be 1-64 letters, digits, '_' or '-', got ${JSON.stringify(jetstreamDomain)}`,
    );
  }
  return {
    servers,
    cluster,
    tls,
    user,
    pass: user === undefined ? undefined : pass,
    token,
    credentials,
    jetstreamDomain,
  };
}

/**
 * Join the party's system to the NATS cluster, as a node named after `label`
 * (its side; `serve` for `psi serve`) and a random suffix. Fails with
 * `ClusterJoinError` (exit 6) when the server cannot be reached or refuses the
 * TLS or the credentials.
 */
export async function joinPartyCluster(system: ActorSystem, flags: NatsFlags, label: Side | 'serve'): Promise<Cluster> {
  const options: ClusterOptions = {
    servers: flags.servers,
    cluster: flags.cluster,
    node: `psi-${label}-${randomBytes(6).toString('hex')}`,
    ...(flags.tls === undefined ? {} : { tls: flags.tls }),
    ...(flags.user === undefined || flags.pass === undefined ? {} : { user: flags.user, pass: flags.pass }),
    ...(flags.token === undefined ? {} : { token: flags.token }),
    ...(flags.credentials === undefined ? {} : { credentials: flags.credentials }),
    ...(flags.jetstreamDomain === undefined ? {} : { jetstreamDomain: flags.jetstreamDomain }),
  };
  try {
    return await joinCluster(system, options);
  } catch (error) {
    if (
      error instanceof ClusterJoinError &&
      flags.jetstreamDomain === undefined &&
      /jetstreamDomain/.test(error.message)
    ) {
      throw new ClusterJoinError(`${error.message} (psi party: --nats-js-domain <domain>, the same on both sides)`, {
        cause: error,
      });
    }
    throw error;
  }
}

/** How often the registry is looked at while waiting for the peer (a watch wakes it sooner). */
const LOOK_EVERY_MS = 500;

/**
 * The `connect` of `runParty` over NATS: register this side's port, then wait
 * for the other side's (until `signal` aborts: the session ended first, or
 * found the peer itself).
 */
export function natsConnector(
  cluster: Cluster,
  config: SessionConfig,
): (port: ActorRef<PeerMsg>, signal: AbortSignal) => Promise<ActorRef<PeerMsg>> {
  const side = config.party.side;
  const other: Side = side === 'left' ? 'right' : 'left';
  return async (port, signal) => {
    try {
      await cluster.register(portName(config.session, side), port);
    } catch (error) {
      if (error instanceof NameTakenError) throw new PsiSideTakenError(config.session, side);
      throw error;
    }
    const name = portName(config.session, other);
    return new Promise<ActorRef<PeerMsg>>((resolve, reject) => {
      let looking = false;
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(timer);
        unwatch();
        signal.removeEventListener('abort', onAbort);
      };
      const onAbort = () => {
        done();
        reject(signal.reason);
      };
      const look = async () => {
        if (looking || signal.aborted) return;
        looking = true;
        try {
          // lookup (not the watch's ref): an entry of a dead party (a crash) counts as absent.
          const peer = await cluster.lookup<PeerMsg>(name, { timeoutMs: 2_000 });
          if (peer !== undefined && !signal.aborted) {
            done();
            resolve(peer);
            return;
          }
        } catch {
          // The registry is unreachable for now (the server restarting): look again later.
        } finally {
          looking = false;
        }
        if (!signal.aborted) timer = setTimeout(look, LOOK_EVERY_MS);
      };
      const unwatch = cluster.watchName<PeerMsg>(name, (ref) => {
        if (ref !== undefined) {
          clearTimeout(timer);
          void look();
        }
      });
      signal.addEventListener('abort', onAbort, { once: true });
      void look();
    });
  };
}
