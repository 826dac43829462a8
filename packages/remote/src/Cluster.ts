/**
 * An actor system's membership in a cluster: `joinCluster(system, options)`.
 *
 * Joining makes the system a node ({@link Node}: one NATS connection,
 * heartbeats, failure detector, registry) and plugs it into core's wire
 * layer (`system.remoting`): the system's refs carry its node address
 * `{ cluster, node, incarnation }`, a ref naming another node's actor routes
 * over a link to that node's incarnation ({@link NodeLinks}), refs travel
 * inside messages in any direction, and the semantics are a worker actor's:
 *
 * - `tell` is at-most-once and FIFO per pair of actors; what cannot be sent
 *   (link down, node dead) becomes a dead letter, counted by reason;
 * - `ask` fails in three distinct ways besides its own error reply:
 *   `NotDeliveredError` (no route, dead incarnation, link closed before the
 *   reply), `AskTimeoutError` (outcome unknown), `DisconnectedError` (the
 *   NATS connection dropped while it was in flight: outcome unknown);
 * - a watch ends with `Terminated` exactly once: with the actor's own reason,
 *   or `address-terminated` when its node is declared dead by the failure
 *   detector (within {@link Cluster.detectionBoundMs}), restarts, or leaves
 *   before the actor's own end was reported;
 * - messages are checked at the sender (`UnserializableMessageError`), large
 *   ones are chunked under the server's `max_payload` with credits.
 *
 * Shutdown: the system's coordinated shutdown removes this node's registry
 * entries as it stops intake (peers stop finding it), refuses messages from
 * other nodes from then on (tells become `shutting-down` dead letters, asks
 * reject with `ShuttingDownError`), stops its actors (peers watching them get
 * `Terminated` with reason `stopped`), and leaves the cluster in its
 * `before-exit` phase: it waits for peers to acknowledge the tells sent to
 * them, publishes what is queued, and closes every pair (peers see `closed`).
 *
 * @example
 * const system = await ActorSystem.start({ name: 'pricing' });
 * const cluster = await joinCluster(system, { servers: 'nats://127.0.0.1:4222', cluster: 'shop', node: 'pricing' });
 * await cluster.register('pricing', system.spawn(Pricing, { name: 'pricing' }));
 * // in another process, joined as node 'web':
 * const pricing = await cluster.lookup<PricingMsg>('pricing');
 * const price = await pricing?.ask({ type: 'quote', sku: 'A-1' }, { timeoutMs: 1_000 });
 */
import {
  type ActorDefinition,
  type ActorRef,
  ActorSystem,
  type HostSite,
  type Message,
  type SpawnOptions,
} from '@troupe/core';
import { type ClusterOptions, checkLeaveTimeout } from './ClusterOptions.js';
import { checkKeys } from './checks.js';
import { Definitions } from './Definitions.js';
import { joinKeys } from './JoinOptions.js';
import { type LeaveReport, type MemberHealth, Node, type NodeStats } from './Node.js';
import { NodeLinks } from './NodeLinks.js';
import type { Registry, RemoteAddress } from './Registry.js';

/** Options of {@link Cluster.spawnAt}: a spawn's options, and who supervises the remote actor. */
export interface RemoteSpawnOptions<I = undefined> extends SpawnOptions<I> {
  /** The local actor whose child the remote actor is (its supervisor); default the system's `/user` guardian. */
  // biome-ignore lint/suspicious/noExplicitAny: a parent of any protocol
  parent?: ActorRef<any>;
}

/** What {@link Cluster.leave} did. */
export interface ClusterLeaveReport extends LeaveReport {
  /** Every tell sent to a peer was acknowledged before the pairs closed (none was counted lost by mistake). */
  acknowledged: boolean;
}

/** One link's state, in {@link ClusterStats}. */
export interface LinkStats {
  /** The peer, e.g. `node b (incarnation 3f9a…)`. */
  peer: string;
  /** The NATS connection is up (false: posts are refused and counted as `disconnected` dead letters). */
  up: boolean;
  /** Tells sent over it that the peer has not acknowledged yet. */
  unacknowledged: number;
  /** Actors this side supervises there, plus asks waiting for a reply. */
  load: number;
}

/** Counters of a {@link Cluster}: the node's (drops by reason, members, heartbeats) and each link's. */
export interface ClusterStats extends NodeStats {
  links: LinkStats[];
}

/**
 * A node as a status page shows it: this one, or a live peer with the age of
 * its last heartbeat. The shape is the inspector's `NodeInfo`, so
 * `inspector.addSection(nodesSection(() => cluster.nodes()))` shows it.
 */
export interface NodeStatus {
  /** The node's name. */
  id: string;
  /** `name/incarnation`: one process start of the node. */
  address: string;
  incarnation: string;
  /**
   * This node: `up`, `down` (NATS connection lost) or `leaving` (left, or
   * leaving). A peer: `up`, or `suspect` once silent for more than half of
   * `deadAfterMs` (it is declared dead, and gone from the list, after all of it).
   */
  status: 'up' | 'suspect' | 'down' | 'leaving';
  /** Milliseconds since its last heartbeat (0 for this node). */
  heartbeatAgeMs: number | undefined;
  self: boolean;
}

const joined = new WeakMap<ActorSystem, Cluster | 'joining'>();

/**
 * Join `system` to a cluster (see {@link Cluster}). Without it nothing
 * changes: the system stays one process and needs no server.
 */
export function joinCluster(system: ActorSystem, options: ClusterOptions): Promise<Cluster> {
  return Cluster.join(system, options);
}

export class Cluster {
  /** This system's node: membership, failure detector, transports, registry, drop counters and events. */
  readonly node: Node;
  private readonly links: NodeLinks;
  private leaving: Promise<ClusterLeaveReport> | undefined;

  /** Join `system` to a cluster; fails with `ClusterJoinError` (or a TypeError for bad options). */
  static async join(system: ActorSystem, options: ClusterOptions): Promise<Cluster> {
    if (!(system instanceof ActorSystem)) throw new TypeError('joinCluster: the first argument must be an ActorSystem');
    if (options === null || typeof options !== 'object') throw new TypeError('joinCluster: options must be an object');
    checkKeys(options, [...joinKeys, 'definitions', 'leaveTimeoutMs'], 'joinCluster');
    const held = joined.get(system);
    if (held !== undefined)
      throw new TypeError(
        `joinCluster: system ${system.name} ${held === 'joining' ? 'is already joining' : `has already joined cluster ${held.node.cluster} as node ${held.node.name}`}`,
      );
    if (system.isShuttingDown) throw new TypeError(`joinCluster: system ${system.name} is shutting down`);
    const { definitions: offered, leaveTimeoutMs, ...join } = options;
    const leaveMs = checkLeaveTimeout(leaveTimeoutMs);
    const definitions = new Definitions(String(options.node));
    for (const [name, def] of Object.entries(offered ?? {})) definitions.define(name, def);
    joined.set(system, 'joining');
    let node: Node;
    try {
      node = await Node.join({ logger: system.logger, ...join });
    } catch (e) {
      joined.delete(system);
      throw e;
    }
    try {
      system.remoting.setAddress({ cluster: node.cluster, node: node.name, incarnation: node.incarnation });
    } catch (e) {
      joined.delete(system);
      await node.leave({ timeoutMs: 1_000 });
      throw e;
    }
    const cluster = new Cluster(system, node, definitions, leaveMs);
    joined.set(system, cluster);
    return cluster;
  }

  private constructor(
    readonly system: ActorSystem,
    node: Node,
    private readonly definitions: Definitions,
    private readonly leaveTimeoutMs: number,
  ) {
    this.node = node;
    this.links = new NodeLinks(node, system.remoting, definitions);
    system.onShutdown('stop-intake', 'remote: unregister this node', () => this.unbind());
    system.onShutdown('before-exit', 'remote: leave the cluster', () => this.leave());
    node.on('closed', (detail) => {
      if (this.leaving === undefined)
        system.logger.error(
          `remote: node ${node.name} is out of cluster ${node.cluster} (${detail}); its links are closed`,
        );
    });
  }

  /** This node's address; every ref of this system carries it. */
  get address(): { cluster: string; node: string; incarnation: string } {
    return { cluster: this.node.cluster, node: this.node.name, incarnation: this.node.incarnation };
  }

  /** At most this long after a peer dies, it is declared dead and watchers of its actors get `Terminated`. */
  get detectionBoundMs(): number {
    return this.node.detectionBoundMs;
  }

  /** Offer `definition` for remote deployment under `name` (as `definitions` in the options does). */
  // biome-ignore lint/suspicious/noExplicitAny: a definition of any protocol, state and input
  define(name: string, definition: ActorDefinition<any, any, any>): void {
    this.definitions.define(name, definition);
  }

  // ---- refs as data ------------------------------------------------------

  /** The serialised form of a ref: `{ cluster, node, incarnation, path }` (what the registry stores). */
  // biome-ignore lint/suspicious/noExplicitAny: a ref of any protocol
  addressOf(ref: ActorRef<any>): RemoteAddress {
    const r = this.system.remoting.toWire(ref).$troupeRef;
    if (r.cluster === undefined || r.node === undefined || r.incarnation === undefined)
      throw new TypeError(`addressOf: ${String(ref)} carries no node address`);
    return { cluster: r.cluster, node: r.node, incarnation: r.incarnation, path: r.path };
  }

  /**
   * The working ref a serialised ref names (whatever lives at its path on that
   * node incarnation). A ref to an incarnation that is not live is still a
   * ref: its tells become dead letters and its asks reject with `NotDeliveredError`.
   */
  // biome-ignore lint/suspicious/noExplicitAny: any protocol
  refOf<M extends Message = any>(address: RemoteAddress): ActorRef<M> {
    if (address === null || typeof address !== 'object')
      throw new TypeError('refOf: expected { cluster, node, incarnation, path }');
    for (const key of ['cluster', 'node', 'incarnation', 'path'] as const)
      if (typeof address[key] !== 'string' || address[key] === '')
        throw new TypeError(`refOf: ${key} must be a non-empty string, got ${JSON.stringify(address[key])}`);
    const { cluster, node, incarnation, path } = address;
    return this.system.remoting.resolve({ $troupeRef: { path, cluster, node, incarnation } }) as ActorRef<M>;
  }

  // ---- the registry -------------------------------------------------------

  /**
   * Register `ref` under `name` in the cluster's registry (NATS KV). Fails with
   * `NameTakenError` when a live owner holds the name, unless `replace`. The
   * entry goes when this node leaves or is declared dead.
   */
  // biome-ignore lint/suspicious/noExplicitAny: a ref of any protocol
  register(name: string, ref: ActorRef<any>, options?: { replace?: boolean }): Promise<void> {
    return this.registry('register').register(name, this.addressOf(ref), options);
  }

  /** Remove `name` (only if it still names `ref`, when given); resolves whether an entry was removed. */
  // biome-ignore lint/suspicious/noExplicitAny: a ref of any protocol
  unregister(name: string, ref?: ActorRef<any>): Promise<boolean> {
    return this.registry('unregister').unregister(name, ref === undefined ? undefined : this.addressOf(ref));
  }

  /**
   * The ref registered under `name`, or undefined (also when its owner is dead,
   * including an earlier run of this very node). An owner this node has not
   * heard from yet (this node joined a moment ago) is waited for until it is
   * heard, or until this node has been joined for `deadAfterMs + discoveryMs`
   * (then an owner never heard of is dead: undefined); `timeoutMs` caps the
   * wait, and an owner still unknown when it ends is returned as is.
   */
  // biome-ignore lint/suspicious/noExplicitAny: any protocol
  async lookup<M extends Message = any>(
    name: string,
    options: { timeoutMs?: number } = {},
  ): Promise<ActorRef<M> | undefined> {
    const registry = this.registry('lookup');
    let address = await registry.lookup(name);
    if (address === undefined) return undefined;
    if (this.node.liveness(address.incarnation, address.node) === 'unknown') {
      // Joined too recently to know its owner: wait for that incarnation's heartbeat, at most until this node
      // has been joined long enough that an owner never heard of is dead (then the registry removes the entry).
      const wait = Math.min(options.timeoutMs ?? Number.POSITIVE_INFINITY, this.node.settlesInMs());
      const heard = await this.node.whenIncarnation(address.incarnation, wait);
      if (!heard) address = await registry.lookup(name);
    }
    return address === undefined ? undefined : this.refOf<M>(address);
  }

  /**
   * Call `listener` with the ref registered under `name` now, and again at
   * every change (`undefined` once it is removed, e.g. its owner died).
   * Returns a function that stops watching.
   */
  // biome-ignore lint/suspicious/noExplicitAny: any protocol
  watchName<M extends Message = any>(name: string, listener: (ref: ActorRef<M> | undefined) => void): () => void {
    return this.registry('watchName').watch(name, (address) =>
      listener(address === undefined ? undefined : this.refOf<M>(address)),
    );
  }

  // ---- remote deployment ----------------------------------------------------

  /**
   * Spawn, on the node named `node`, the definition it offers under
   * `definition`, as a child of `options.parent` here (default `/user`):
   * supervised here, like a local child (a failure there reaches its
   * supervisor here, which restarts, resumes or stops it there), watched,
   * stopped and shut down with this system. A restart goes to the node's
   * current incarnation. Throws `UnknownNodeError` when `node` is not a live member.
   * @example
   * const worker = cluster.spawnAt<JobMsg>('b', 'JobRunner', { name: 'jobs', supervision: restart().withLimit(3, 5_000) });
   */
  // biome-ignore lint/suspicious/noExplicitAny: any protocol
  spawnAt<M extends Message = any, I = undefined>(
    node: string,
    definition: string,
    options?: RemoteSpawnOptions<I>,
  ): ActorRef<M> {
    if (node === this.node.name)
      throw new TypeError(`spawnAt: ${node} is this node; spawn the definition here with system.spawn or ctx.spawn`);
    const spec = Definitions.spec<M, I>(definition);
    this.links.forNode(node);
    const site: HostSite = { label: `node ${node}`, acquire: () => this.links.forNode(node) };
    const { parent, ...spawn } = options ?? {};
    return this.system.remoting.spawnAt(site, spec, spawn as SpawnOptions<unknown>, parent) as unknown as ActorRef<M>;
  }

  // ---- status ---------------------------------------------------------------

  /** This node and the live peers, with the age of each one's last heartbeat (most silent first). */
  nodes(): NodeStatus[] {
    const n = this.node;
    const self: NodeStatus = {
      id: n.name,
      address: `${n.name}/${n.incarnation}`,
      incarnation: n.incarnation,
      status: this.leaving !== undefined || n.isClosed ? 'leaving' : n.up ? 'up' : 'down',
      heartbeatAgeMs: 0,
      self: true,
    };
    const suspectAfter = n.deadAfterMs / 2;
    return [
      self,
      ...n.memberHealth().map(
        (m: MemberHealth): NodeStatus => ({
          id: m.node,
          address: `${m.node}/${m.incarnation}`,
          incarnation: m.incarnation,
          status: (m.heartbeatAgeMs ?? 0) > suspectAfter ? 'suspect' : 'up',
          heartbeatAgeMs: m.heartbeatAgeMs,
          self: false,
        }),
      ),
    ];
  }

  /** The node's counters (drops by reason, members, heartbeats) and each open link's. */
  stats(): ClusterStats {
    return {
      ...this.node.stats(),
      links: this.links.all().map((l) => ({
        peer: l.label,
        up: l.transport.up,
        unacknowledged: l.unacknowledged,
        load: l.load,
      })),
    };
  }

  // ---- leaving ----------------------------------------------------------------

  /**
   * Leave the cluster (the system's shutdown does this in its `before-exit`
   * phase): wait until peers have acknowledged the tells sent to them, then
   * leave as {@link Node.leave} does. Refs to peers' actors stop working
   * (their tells become dead letters); the system itself goes on. Idempotent.
   */
  leave(options: { timeoutMs?: number } = {}): Promise<ClusterLeaveReport> {
    this.leaving ??= this.doLeave(options.timeoutMs ?? this.leaveTimeoutMs);
    return this.leaving;
  }

  private async doLeave(timeoutMs: number): Promise<ClusterLeaveReport> {
    const t0 = Date.now();
    const acknowledged = await this.links.acknowledged(timeoutMs / 2);
    this.links.quiesce();
    const detail = this.system.isShuttingDown ? `shut down (system ${this.system.name})` : 'left the cluster';
    const report = await this.node.leave({ timeoutMs: Math.max(100, timeoutMs - (Date.now() - t0)), detail });
    return { ...report, acknowledged };
  }

  /** Shutdown began: remove this node's registry entries, so peers stop finding its actors. */
  private async unbind(): Promise<void> {
    const registry = this.node.registry;
    if (registry === undefined || !this.node.up) return;
    try {
      // Bounded: a registry that does not answer must not hold the shutdown's first phase.
      await within(registry.removeOwnedBy(this.node.incarnation), this.leaveTimeoutMs);
    } catch (e) {
      this.system.logger.warn(`remote: could not remove node ${this.node.name}'s registry entries: ${String(e)}`);
    }
  }

  private registry(what: string): Registry {
    const registry = this.node.registry;
    if (registry === undefined)
      throw new TypeError(`${what}: node ${this.node.name} joined with registry: false, so it has no registry`);
    return registry;
  }
}

/** `p`, or a rejection after `ms` (the timer is cleared either way). */
function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
