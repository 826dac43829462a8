/**
 * `@troupe/remote`: Troupe across processes and machines on NATS.
 *
 * {@link joinCluster} makes an actor system a node of a cluster: its
 * `ActorRef`s work across processes with a worker actor's semantics, a
 * registry on NATS KV names refs, and peers can deploy actors on it from
 * definitions it offers by name. Under it: {@link Node} (membership,
 * heartbeat failure detector, registry) and one {@link NatsTransport} per
 * pair of node incarnations (batches of frames, chunked, flow-controlled, FIFO).
 *
 * @example
 * const cluster = await joinCluster(system, { servers: 'nats://127.0.0.1:4222', cluster: 'shop', node: 'web' });
 * const pricing = await cluster.lookup<PricingMsg>('pricing');
 */
export { BatchTooLargeError } from './Chunker.js';
export {
  Cluster,
  type ClusterLeaveReport,
  type ClusterStats,
  joinCluster,
  type LinkStats,
  type NodeStatus,
  type RemoteSpawnOptions,
} from './Cluster.js';
export type { ClusterOptions } from './ClusterOptions.js';
export type { DroppedFrame, DropReason } from './DroppedFrame.js';
export {
  ClusterJoinError,
  NameTakenError,
  UnknownDefinitionError,
  UnknownNodeError,
  type UnknownNodeReason,
  UnserializableBatchError,
} from './errors.js';
export type { JoinOptions, TlsOptions } from './JoinOptions.js';
export type { DownReason, MemberInfo } from './Membership.js';
export type { NatsTransport, TransportStats } from './NatsTransport.js';
export { type LeaveReport, type MemberHealth, Node, type NodeEvents, type NodeStats } from './Node.js';
export type { Registry, RemoteAddress } from './Registry.js';
export { Subjects } from './Subjects.js';
export type { Batch, Transport, TransportClosed } from './Transport.js';
export type { TransportOptions } from './TransportOptions.js';
