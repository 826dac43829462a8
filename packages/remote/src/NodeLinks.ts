/**
 * The links of one actor system to its peers: one core `Link` per peer
 * incarnation, over that pair's {@link NatsTransport}, and the routes core
 * asks for when a ref names a node it has no link to.
 *
 * - A link is made for every transport the node makes, whichever side spoke
 *   first (this side resolving a ref, or the peer's first frame), so refs and
 *   messages flow both ways over the one pair. Each link hosts actors its
 *   peer deploys here, but only definitions offered by name ({@link Definitions}).
 * - A link closes with its transport: `peer-dead` when the failure detector
 *   declares the peer dead (or it restarted, or quarantined us), `closed` when
 *   it left or either side closed the pair. Core then settles what waited on
 *   it: asks reject, unacknowledged tells become dead letters, every watch
 *   ends with `address-terminated`.
 * - A ref to an incarnation that is not live (dead, left, restarted, never
 *   heard of, another cluster) gets a link over a {@link ClosedTransport}:
 *   tells become `link-closed` dead letters and asks reject with
 *   `NotDeliveredError` saying why; nothing waits.
 */
import type { Link, NodeAddress, Remoting, TransportClosed } from '@troupe/core';
import { ClosedTransport } from './ClosedTransport.js';
import type { Definitions } from './Definitions.js';
import { UnknownNodeError } from './errors.js';
import type { NatsTransport } from './NatsTransport.js';
import type { Node } from './Node.js';

export class NodeLinks {
  /** Open links, by peer incarnation. */
  private readonly links = new Map<string, Link>();
  private closedReason: string | undefined;

  constructor(
    private readonly node: Node,
    private readonly remoting: Remoting,
    private readonly definitions: Definitions,
  ) {
    node.on('transport', (t) => this.attach(t));
    // Transports made while joining, before this listener existed.
    for (const t of node.openTransports()) this.attach(t);
    node.on('closed', (detail) => {
      this.closedReason ??= detail;
    });
    remoting.resolveNodesWith((address) => this.route(address));
  }

  /** The open links. */
  all(): Link[] {
    return [...this.links.values()];
  }

  /** The link over `t`, connected on first use. */
  attach(t: NatsTransport): Link {
    const existing = this.links.get(t.peerIncarnation);
    if (existing !== undefined && existing.transport === t) return existing;
    const link = this.remoting.connect(t, {
      address: { cluster: this.node.cluster, node: t.peerNode, incarnation: t.peerIncarnation },
      host: { load: this.definitions.load },
      external: true,
    });
    if (link.isOpen) {
      this.links.set(t.peerIncarnation, link);
      link.onClose(() => {
        if (this.links.get(t.peerIncarnation) === link) this.links.delete(t.peerIncarnation);
      });
    }
    return link;
  }

  /**
   * The link to the live incarnation of the node named `name` (what remote
   * deployment starts and restarts its actors over). Throws
   * {@link UnknownNodeError} when there is none.
   */
  forNode(name: string): Link {
    if (this.closedReason !== undefined) throw new UnknownNodeError(name, undefined, 'not-joined', this.node.cluster);
    return this.attach(this.node.transport(name));
  }

  /** What core routes a ref to `address` over: its live link, or a closed one saying why there is none. */
  route(address: NodeAddress): Link {
    const node = this.node;
    const who = `node ${address.node} (incarnation ${address.incarnation})`;
    if (address.cluster !== node.cluster)
      return this.closed(
        who,
        'closed',
        `no route: the ref names cluster ${address.cluster}, this node is in ${node.cluster}`,
      );
    if (this.closedReason !== undefined)
      return this.closed(
        who,
        'closed',
        `no route: node ${node.name} is no longer in the cluster (${this.closedReason})`,
      );
    const live = this.links.get(address.incarnation);
    if (live !== undefined) return live;
    if (address.node === node.name)
      return this.closed(
        who,
        'peer-dead',
        `no route: incarnation ${address.incarnation} is an earlier run of this node (now ${node.incarnation})`,
      );
    try {
      return this.attach(node.transport({ node: address.node, incarnation: address.incarnation }));
    } catch (e) {
      if (!(e instanceof UnknownNodeError)) throw e;
      const dead = e.reason === 'dead' || e.reason === 'replaced' || e.reason === 'quarantined';
      return this.closed(who, dead ? 'peer-dead' : 'closed', `no route: ${e.message}`);
    }
  }

  /**
   * Resolves once no link has tells waiting for the peer's acknowledgement
   * (so closing the pairs loses none that arrived), or when `timeoutMs` is up.
   */
  async acknowledged(timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const waiting = this.all().filter((l) => l.isOpen && l.transport.up && l.unacknowledged > 0);
      if (waiting.length === 0) return true;
      if (Date.now() >= until) return false;
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /**
   * Take no more input from peers and post what is queued (among it the
   * acknowledgements of what was taken): the step before the pairs close, so
   * that every tell a peer sent is either taken here and acknowledged, or
   * never taken and counted lost by the peer, never both.
   */
  quiesce(): void {
    for (const link of this.all()) {
      link.transport.pause();
      link.flush();
    }
  }

  private closed(label: string, reason: TransportClosed['reason'], detail: string): Link {
    return this.remoting.connect(new ClosedTransport(label, { reason, detail }), {
      address: { cluster: '', node: '', incarnation: '' },
      host: false,
      external: true,
    });
  }
}
