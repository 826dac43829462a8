/**
 * The named errors of `@troupe/remote`. Each has a stable `name`, a message
 * that names what was wrong, the limit or the peer, and the likely fix, and
 * keeps its `cause`.
 */
import { registerError } from '@troupe/core';

/** Joining a cluster failed: bad options, the server refused the credentials, or it could not be reached. */
export class ClusterJoinError extends Error {
  override name = 'ClusterJoinError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A batch could not be serialised (`node:v8`, structured-clone rules); nothing was sent. */
export class UnserializableBatchError extends Error {
  override name = 'UnserializableBatchError';
  constructor(
    /** The transport's label, naming the peer. */
    readonly target: string,
    cause: unknown,
  ) {
    super(
      `Cannot send a batch to ${target}: it cannot be serialised (${cause instanceof Error ? cause.message : String(cause)}). ` +
        'Only structured-cloneable data crosses the network (no functions, symbols or class instances).',
      { cause },
    );
  }
}

/** Why a node is not reachable as a peer. */
export type UnknownNodeReason =
  | 'never-seen'
  | 'dead'
  | 'left'
  | 'replaced'
  | 'quarantined'
  | 'pair-closed'
  | 'self'
  /** This node itself is no longer in the cluster (it left, or its connection closed for good). */
  | 'not-joined';

/** There is no live member with this name or incarnation (never seen, declared dead, left or restarted). */
export class UnknownNodeError extends Error {
  override name = 'UnknownNodeError';
  constructor(
    readonly node: string,
    readonly incarnation: string | undefined,
    readonly reason: UnknownNodeReason,
    cluster: string,
  ) {
    const who = incarnation === undefined ? `node ${node}` : `node ${node} (incarnation ${incarnation})`;
    const why: Record<UnknownNodeReason, string> = {
      'never-seen': 'no heartbeat from it has been seen; is it started and joined to the same cluster and server?',
      dead: 'it was declared dead by the failure detector',
      left: 'it left the cluster',
      replaced: 'it restarted: a newer incarnation of it has joined',
      quarantined: 'it declared this node dead, so the pair is quarantined until one of the two restarts',
      'pair-closed':
        'the link to it was closed; a pair is one-shot, so a new link needs a new incarnation of either node',
      self: 'that is this node itself',
      'not-joined': 'this node is no longer in the cluster (it left, or its NATS connection closed for good)',
    };
    super(`No live member ${who} in cluster ${cluster}: ${why[reason]}`);
  }
}

/** A registry name is already held by a live owner. */
export class NameTakenError extends Error {
  override name = 'NameTakenError';
  constructor(
    readonly registryName: string,
    readonly owner: string,
  ) {
    super(
      `Registry name "${registryName}" is already registered by ${owner}, which is alive. ` +
        'Unregister it first, or pass { replace: true }.',
    );
  }
}

/** A peer asked this node to host a definition it does not offer (see `definitions` in the cluster options). */
export class UnknownDefinitionError extends Error {
  override name = 'UnknownDefinitionError';
  constructor(
    readonly node: string,
    readonly module: string,
    readonly definition: string,
    offered: readonly string[],
  ) {
    super(
      module === 'troupe:definition'
        ? `Node ${node} has no actor definition named [${definition}] (it offers: ${offered.join(', ') || 'none'}). ` +
            `Register it on node ${node}: joinCluster(system, { definitions: { ${definition} } }) or cluster.define('${definition}', ${definition}).`
        : `Node ${node} does not load modules for peers (asked for [${definition}] from ${module}); ` +
            'remote deployment names definitions registered on the target node: cluster.spawnAt(node, name).',
    );
  }
}

// Remote errors keep their class when they cross a link (both ends load this package).
for (const errorClass of [
  ClusterJoinError,
  UnserializableBatchError,
  UnknownNodeError,
  NameTakenError,
  UnknownDefinitionError,
])
  registerError(errorClass);
