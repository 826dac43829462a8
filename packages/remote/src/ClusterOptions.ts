/**
 * How an actor system joins a cluster: everything a node needs to join
 * ({@link JoinOptions}: servers, names, credentials, failure-detector timing)
 * plus what the actor layer adds.
 */
import type { ActorDefinition } from '@troupe/core';
import { ms } from './checks.js';
import type { JoinOptions } from './JoinOptions.js';

export interface ClusterOptions extends JoinOptions {
  /**
   * Actor definitions this node offers for remote deployment, by name: a peer's
   * `cluster.spawnAt(thisNode, name)` starts one here, supervised by the peer.
   * Nothing else can be started here by a peer. More can be added with `cluster.define`.
   */
  // biome-ignore lint/suspicious/noExplicitAny: definitions of any protocol, state and input
  definitions?: Readonly<Record<string, ActorDefinition<any, any, any>>>;
  /**
   * How long leaving may take (at `leave()`, or in the system's shutdown):
   * waiting for peers to acknowledge the tells sent to them, publishing what
   * is queued, removing this node's registry entries. Default 3 000 ms; keep
   * it under the `before-exit` phase timeout (5 000 ms by default).
   */
  leaveTimeoutMs?: number;
}

/** @internal */
export function checkLeaveTimeout(value: unknown): number {
  return ms('leaveTimeoutMs', value, 3_000);
}
