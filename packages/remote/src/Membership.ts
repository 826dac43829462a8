/**
 * Who is in the cluster, as this node sees it: live members by incarnation
 * and by name, and tombstones for incarnations that are gone for good.
 *
 * An incarnation is one process start of a node (16 random hex digits). It
 * goes `up` at its first heartbeat and, once down, never comes back: a
 * restarted node is a new incarnation, and the old one's late heartbeats and
 * frames are dropped (`dead-sender`). Tombstones are bounded (oldest evicted).
 */

/** Why a member went down. */
export type DownReason = 'dead' | 'left' | 'replaced' | 'quarantined';

/** A member as reported in events and by {@link Node.members}. */
export interface MemberInfo {
  node: string;
  incarnation: string;
  /** Clock time of its first heartbeat here. */
  upSince: number;
}

interface Tombstone {
  node: string;
  reason: DownReason;
}

export class Membership {
  private readonly byIncarnation = new Map<string, MemberInfo>();
  private readonly byName = new Map<string, MemberInfo>();
  private readonly tombstones = new Map<string, Tombstone>();

  constructor(private readonly maxTombstones = 4096) {}

  /** The live member with this incarnation. */
  get(incarnation: string): MemberInfo | undefined {
    return this.byIncarnation.get(incarnation);
  }

  /** The live incarnation of the node with this name. */
  named(node: string): MemberInfo | undefined {
    return this.byName.get(node);
  }

  /** Why this incarnation is gone, if it is. */
  tombstone(incarnation: string): Tombstone | undefined {
    return this.tombstones.get(incarnation);
  }

  all(): MemberInfo[] {
    return [...this.byIncarnation.values()];
  }

  get size(): number {
    return this.byIncarnation.size;
  }

  /**
   * A heartbeat from `node`/`incarnation`. Returns the new member when it is
   * new, plus the previous incarnation of that name it replaces (a restart).
   * Returns undefined for a known or tombstoned incarnation.
   */
  join(node: string, incarnation: string, now: number): { member: MemberInfo; replaces?: MemberInfo } | undefined {
    if (this.byIncarnation.has(incarnation) || this.tombstones.has(incarnation)) return undefined;
    const member: MemberInfo = { node, incarnation, upSince: now };
    const previous = this.byName.get(node);
    this.byIncarnation.set(incarnation, member);
    this.byName.set(node, member);
    return previous === undefined ? { member } : { member, replaces: previous };
  }

  /** Take `incarnation` down for good; returns the member if it was live. */
  down(incarnation: string, reason: DownReason, node?: string): MemberInfo | undefined {
    const member = this.byIncarnation.get(incarnation);
    if (member !== undefined) {
      this.byIncarnation.delete(incarnation);
      if (this.byName.get(member.node) === member) this.byName.delete(member.node);
    }
    if (!this.tombstones.has(incarnation)) {
      this.tombstones.set(incarnation, { node: member?.node ?? node ?? '?', reason });
      if (this.tombstones.size > this.maxTombstones) {
        const oldest = this.tombstones.keys().next().value;
        if (oldest !== undefined) this.tombstones.delete(oldest);
      }
    }
    return member;
  }
}
