/**
 * How a process joins a cluster: where the NATS servers are, how to
 * authenticate, what this node is called, and the failure detector's timing.
 */
import { type Clock, type Logger, systemClock } from '@troupe/core';
import { checkKeys, ms } from './checks.js';
import { checkName } from './Subjects.js';
import { type ResolvedTransportOptions, resolveTransportOptions, type TransportOptions } from './TransportOptions.js';

/** TLS towards the NATS server: PEM file paths or PEM text (client certificate optional). */
export interface TlsOptions {
  caFile?: string;
  ca?: string;
  certFile?: string;
  cert?: string;
  keyFile?: string;
  key?: string;
}

export interface JoinOptions {
  /** NATS server URLs, e.g. `nats://10.0.0.5:4222` or `tls://nats.example:4222`. */
  servers: string | readonly string[];
  /** Cluster name: nodes talk only within their cluster (`[A-Za-z0-9_-]{1,64}`). */
  cluster: string;
  /** This node's name, unique in the cluster (`[A-Za-z0-9_-]{1,64}`). */
  node: string;
  /** TLS: `true` to use the system's CAs, or certificates. */
  tls?: true | TlsOptions;
  /** User and password. */
  user?: string;
  pass?: string;
  /** Token. */
  token?: string;
  /** An NKey seed (`SU...`), for nkey authentication. */
  nkeySeed?: string;
  /** The content of a `.creds` file (JWT and NKey seed), for decentralised auth. */
  credentials?: string;
  /** How often this node publishes a heartbeat. Default 500 ms. */
  heartbeatIntervalMs?: number;
  /** A peer silent for longer than this is declared dead. Default 3 000 ms (six missed heartbeats). */
  deadAfterMs?: number;
  /** How often silence is checked; the detection bound is `deadAfterMs + checkIntervalMs`. Default 250 ms. */
  checkIntervalMs?: number;
  /** After joining, how long to wait for members' answers to our hello before `join` resolves. Default 200 ms. */
  discoveryMs?: number;
  /** Wait between reconnect attempts. Default 250 ms. */
  reconnectTimeWaitMs?: number;
  /** Give up connecting at join after this long. Default 5 000 ms. */
  connectTimeoutMs?: number;
  /** Open the registry (needs JetStream on the server). Default true. */
  registry?: boolean;
  /**
   * The JetStream domain that holds the registry. Needed when nodes connect
   * to different servers joined by leaf-node connections (NATS does not carry
   * the plain JetStream API across a leaf link): give the hub's JetStream a
   * `domain` and pass it here on every node, on both sides. Default: the
   * JetStream of the server this node is connected to.
   */
  jetstreamDomain?: string;
  /** Flow control, chunking and reassembly limits. */
  transport?: TransportOptions;
  /** Injected time (tests). Default: the real clock. */
  clock?: Clock;
  /** Where warnings go. Default: nothing is logged, events still fire. */
  logger?: Logger;
}

/** @internal */
export interface ResolvedJoinOptions {
  servers: string[];
  cluster: string;
  node: string;
  tls: true | TlsOptions | undefined;
  user: string | undefined;
  pass: string | undefined;
  token: string | undefined;
  nkeySeed: string | undefined;
  credentials: string | undefined;
  heartbeatIntervalMs: number;
  deadAfterMs: number;
  checkIntervalMs: number;
  discoveryMs: number;
  reconnectTimeWaitMs: number;
  connectTimeoutMs: number;
  registry: boolean;
  jetstreamDomain: string | undefined;
  transport: ResolvedTransportOptions;
  clock: Clock;
  logger: Logger | undefined;
}

/** The keys of {@link JoinOptions}. @internal */
export const joinKeys = [
  'servers',
  'cluster',
  'node',
  'tls',
  'user',
  'pass',
  'token',
  'nkeySeed',
  'credentials',
  'heartbeatIntervalMs',
  'deadAfterMs',
  'checkIntervalMs',
  'discoveryMs',
  'reconnectTimeWaitMs',
  'connectTimeoutMs',
  'registry',
  'jetstreamDomain',
  'transport',
  'clock',
  'logger',
];

/** An object with each of `methods` a function, or undefined. */
function withMethods<T>(name: string, value: unknown, methods: readonly string[]): T | undefined {
  if (value === undefined) return undefined;
  const missing =
    value === null || typeof value !== 'object'
      ? methods
      : methods.filter((m) => typeof (value as Record<string, unknown>)[m] !== 'function');
  if (missing.length > 0)
    throw new TypeError(
      `${name} must be an object with the methods ${methods.join(', ')}; ${
        value === null || typeof value !== 'object' ? `got ${String(value)}` : `missing ${missing.join(', ')}`
      }`,
    );
  return value as T;
}

function optionalString(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') throw new TypeError(`${name} must be a non-empty string`);
  return value;
}

/** A JetStream domain as nats-server accepts it: no spaces, dots or wildcards. */
function checkDomain(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(value))
    throw new TypeError(`jetstreamDomain must be 1-64 characters of [A-Za-z0-9_-], got ${JSON.stringify(value)}`);
  return value;
}

/** Apply defaults and validate at the door; throws a `TypeError` naming the option. */
export function resolveJoinOptions(o: JoinOptions): ResolvedJoinOptions {
  if (o === null || typeof o !== 'object') throw new TypeError('join options must be an object');
  checkKeys(o, joinKeys, 'join');
  const servers = typeof o.servers === 'string' ? [o.servers] : Array.isArray(o.servers) ? [...o.servers] : [];
  if (servers.length === 0 || servers.some((s) => typeof s !== 'string' || s === ''))
    throw new TypeError(`servers must be a URL or a non-empty list of URLs, got ${JSON.stringify(o.servers)}`);
  const heartbeatIntervalMs = ms('heartbeatIntervalMs', o.heartbeatIntervalMs, 500);
  const deadAfterMs = ms('deadAfterMs', o.deadAfterMs, 3_000);
  if (deadAfterMs < 2 * heartbeatIntervalMs)
    throw new TypeError(
      `deadAfterMs (${deadAfterMs}) must be at least twice heartbeatIntervalMs (${heartbeatIntervalMs}), or one late heartbeat kills a peer`,
    );
  const checkIntervalMs = ms('checkIntervalMs', o.checkIntervalMs, Math.min(250, heartbeatIntervalMs));
  if (checkIntervalMs > deadAfterMs)
    throw new TypeError(
      `checkIntervalMs (${checkIntervalMs}) must be at most deadAfterMs (${deadAfterMs}): the detection bound is their sum, and a check rarer than the silence it looks for only widens it`,
    );
  const user = optionalString('user', o.user);
  const pass = optionalString('pass', o.pass);
  if ((user === undefined) !== (pass === undefined)) throw new TypeError('user and pass must be given together');
  const token = optionalString('token', o.token);
  const nkeySeed = optionalString('nkeySeed', o.nkeySeed);
  const credentials = optionalString('credentials', o.credentials);
  const auths = [user && 'user/pass', token && 'token', nkeySeed && 'nkeySeed', credentials && 'credentials'].filter(
    (a): a is string => typeof a === 'string',
  );
  if (auths.length > 1)
    throw new TypeError(
      `give one way to authenticate, not ${auths.join(' and ')}: the server accepts one per connection`,
    );
  if (o.registry !== undefined && typeof o.registry !== 'boolean')
    throw new TypeError(`registry must be true or false, got ${JSON.stringify(o.registry)}`);
  if (o.tls !== undefined && o.tls !== true && (o.tls === null || typeof o.tls !== 'object'))
    throw new TypeError('tls must be true or an object with caFile/ca, certFile/cert, keyFile/key');
  return {
    servers,
    cluster: checkName('cluster', o.cluster),
    node: checkName('node', o.node),
    tls: o.tls,
    user,
    pass,
    token,
    nkeySeed,
    credentials,
    heartbeatIntervalMs,
    deadAfterMs,
    checkIntervalMs,
    discoveryMs: ms('discoveryMs', o.discoveryMs, 200, 0),
    reconnectTimeWaitMs: ms('reconnectTimeWaitMs', o.reconnectTimeWaitMs, 250),
    connectTimeoutMs: ms('connectTimeoutMs', o.connectTimeoutMs, 5_000),
    registry: o.registry ?? true,
    jetstreamDomain: checkDomain(o.jetstreamDomain),
    transport: resolveTransportOptions(o.transport),
    clock: withMethods<Clock>('clock', o.clock, ['now', 'setTimeout', 'clearTimeout']) ?? systemClock,
    logger: withMethods<Logger>('logger', o.logger, ['debug', 'info', 'warn', 'error']),
  };
}
