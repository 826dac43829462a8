/**
 * Limits of a {@link NatsTransport}: flow control, chunking and reassembly.
 * The same values should be used on every node of a cluster (a receiver
 * enforces its own `maxBatchBytes`, a sender checks its own before sending).
 */
import { checkKeys, ms } from './checks.js';
export interface TransportOptions {
  /**
   * Bytes of payload in flight (published, not yet credited) per peer. Keep
   * (number of peers sending to one node) x windowBytes under the server's
   * `max_pending` (64 MiB by default), or the server may cut the receiver off
   * as a slow consumer. Default 8 MiB.
   */
  windowBytes?: number;
  /** Largest serialised batch a sender may send and a receiver will reassemble. Default 64 MiB. */
  maxBatchBytes?: number;
  /** Largest NATS message (header + chunk); the server's `max_payload` caps it. Default: `max_payload`. */
  maxMessageBytes?: number;
  /** Bytes a sender may queue per peer while waiting for credit; past it `post` returns false until the queue is down to half. Default 256 MiB. */
  maxQueuedBytes?: number;
  /** A partial batch older than this is dropped (`reassembly-timeout`). Default 10 000 ms. */
  reassemblyTimeoutMs?: number;
  /** A sender that waited this long for credit sends a SYNC to ask for one. Default 1000 ms. */
  stallMs?: number;
}

/** Options with defaults applied and checked. */
export type ResolvedTransportOptions = Required<Omit<TransportOptions, 'maxMessageBytes'>> & {
  maxMessageBytes: number | undefined;
};

const MiB = 1024 * 1024;

function positiveInt(name: string, value: unknown, min = 1): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min)
    throw new TypeError(`transport.${name} must be an integer >= ${min}, got ${String(value)}`);
  return value;
}

/** Apply defaults and validate; throws a `TypeError` naming the option. */
const transportKeys = [
  'windowBytes',
  'maxBatchBytes',
  'maxMessageBytes',
  'maxQueuedBytes',
  'reassemblyTimeoutMs',
  'stallMs',
];

export function resolveTransportOptions(o: TransportOptions = {}): ResolvedTransportOptions {
  if (o === null || typeof o !== 'object') throw new TypeError(`transport must be an object, got ${String(o)}`);
  checkKeys(o, transportKeys, 'join: transport');
  const resolved = {
    windowBytes: positiveInt('windowBytes', o.windowBytes ?? 8 * MiB, 1024),
    maxBatchBytes: positiveInt('maxBatchBytes', o.maxBatchBytes ?? 64 * MiB),
    maxMessageBytes:
      o.maxMessageBytes === undefined ? undefined : positiveInt('maxMessageBytes', o.maxMessageBytes, 256),
    maxQueuedBytes: positiveInt('maxQueuedBytes', o.maxQueuedBytes ?? 256 * MiB),
    reassemblyTimeoutMs: ms('transport.reassemblyTimeoutMs', o.reassemblyTimeoutMs, 10_000),
    stallMs: ms('transport.stallMs', o.stallMs, 1_000),
  };
  // A batch the queue can never hold would be refused for good (and the link retry it for good).
  if (resolved.maxQueuedBytes < resolved.maxBatchBytes) {
    throw new TypeError(
      `transport.maxQueuedBytes (${resolved.maxQueuedBytes}) must be at least transport.maxBatchBytes ` +
        `(${resolved.maxBatchBytes}): a batch up to maxBatchBytes must fit in the send queue. Raise maxQueuedBytes or lower maxBatchBytes.`,
    );
  }
  return resolved;
}
