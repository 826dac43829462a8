/**
 * The named errors of `@troupe/remote`. Each has a stable `name`, a message
 * that names what was wrong, the limit or the peer, and the likely fix, and
 * keeps its `cause`.
 */

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
export type UnknownNodeReason = 'never-seen' | 'dead' | 'left' | 'replaced' | 'quarantined' | 'pair-closed' | 'self';

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
