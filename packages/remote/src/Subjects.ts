/**
 * The NATS subjects (and the KV bucket) Troupe uses for one cluster.
 *
 * ```
 * troupe.<cluster>.hb            heartbeats, hellos and leave announcements of every node (all subscribe)
 * troupe.<cluster>.node.<node>   data, credit, sync, close and quarantine frames for node <node>
 * KV bucket troupe-<cluster>     the registry (name -> serialised ref)
 * ```
 *
 * A node's subject carries its name, not its incarnation: a restarted node
 * (new incarnation) subscribes to the same subject, so frames still addressed
 * to its previous incarnation reach it and are dropped there with a counter
 * (`stale-target`) instead of vanishing inside the server. The target
 * incarnation in every frame's header is what decides.
 *
 * Cluster and node names are one subject token each, so they are limited to
 * `[A-Za-z0-9_-]{1,64}` (no dots, wildcards or spaces).
 */

const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;

/** Throws a `TypeError` naming the option when `value` cannot be a cluster or node name. */
export function checkName(what: string, value: unknown): string {
  if (typeof value !== 'string' || !TOKEN.test(value))
    throw new TypeError(
      `${what} must be 1-64 characters of [A-Za-z0-9_-] (it is a NATS subject token), got ${JSON.stringify(value)}`,
    );
  return value;
}

/** All subjects of one cluster. */
export class Subjects {
  /** Heartbeats, hellos and leave announcements. */
  readonly heartbeat: string;
  /** Everything under the cluster, for monitoring (`troupe.<cluster>.>`). */
  readonly all: string;
  /** The registry's KV bucket. */
  readonly registryBucket: string;

  constructor(readonly cluster: string) {
    checkName('cluster', cluster);
    this.heartbeat = `troupe.${cluster}.hb`;
    this.all = `troupe.${cluster}.>`;
    this.registryBucket = `troupe-${cluster}`;
  }

  /** The subject node `node` receives its frames on. */
  node(node: string): string {
    return `troupe.${this.cluster}.node.${node}`;
  }
}
