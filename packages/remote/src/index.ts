/**
 * `@troupe/remote`: Troupe across processes and machines on NATS.
 *
 * Joining a cluster ({@link Node}), one {@link NatsTransport} per pair of node
 * incarnations (batches of frames, chunked, flow-controlled, FIFO), a heartbeat
 * failure detector, and a registry on NATS KV. Actor refs ride on this once
 * `@troupe/core`'s wire layer (its `Link` and ref provider) is plugged in; see the README.
 */
export { BatchTooLargeError } from './Chunker.js';
export type { DroppedFrame, DropReason } from './DroppedFrame.js';
export {
  ClusterJoinError,
  NameTakenError,
  UnknownNodeError,
  type UnknownNodeReason,
  UnserializableBatchError,
} from './errors.js';
export type { JoinOptions, TlsOptions } from './JoinOptions.js';
export type { DownReason, MemberInfo } from './Membership.js';
export type { NatsTransport, TransportStats } from './NatsTransport.js';
export { type LeaveReport, Node, type NodeEvents, type NodeStats } from './Node.js';
export type { Registry, RemoteAddress } from './Registry.js';
export { Subjects } from './Subjects.js';
export type { Batch, Transport, TransportClosed } from './Transport.js';
export type { TransportOptions } from './TransportOptions.js';
