/**
 * The channel a link talks through: batches of frames out, batches in. The
 * interface is `@troupe/core`'s (its extension point for transports);
 * {@link NatsTransport} is its NATS implementation.
 */
export type { Batch, Transport, TransportClosed } from '@troupe/core';
