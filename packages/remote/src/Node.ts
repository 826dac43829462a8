/**
 * A process's membership in a Troupe cluster on NATS: `Node.join(...)`.
 *
 * A node has a name (unique in the cluster) and, per process start, a fresh
 * random incarnation. It holds one NATS connection with two subscriptions:
 * the cluster's heartbeat subject and its own node subject (see
 * {@link Subjects}). On that it runs
 *
 * - **membership**: heartbeats every `heartbeatIntervalMs`; a hello at join
 *   that members answer at once; a graceful `leave()` announced to all;
 * - **failure detection** ({@link FailureDetector}): a peer silent for
 *   `deadAfterMs` is declared dead within `deadAfterMs + checkIntervalMs`; a
 *   heartbeat from a new incarnation of a known name ends the old one at once
 *   (a restart); a peer that declared us dead tells us (quarantine);
 * - **transports** ({@link NatsTransport}): one per peer incarnation, made on
 *   first use from either side (`transport(peer)` here, or the first frame from
 *   the peer, announced by the `transport` event); closed with `peer-dead` when
 *   the peer dies, `closed` when it leaves or either side closes it;
 * - **bad input**: every message that is not a usable frame is dropped with a
 *   counter and a `dropped` event ({@link DroppedFrame}), never thrown;
 * - **the registry** ({@link Registry}) on the cluster's KV bucket.
 *
 * @example
 * const node = await Node.join({ servers: 'nats://127.0.0.1:4222', cluster: 'prod', node: 'a' });
 * node.on('member-up', (m) => console.log('up', m.node));
 * const peer = await node.whenMember('b', { timeoutMs: 5_000 });
 * const t = node.transport(peer);
 * t.onBatch((batch) => console.log(batch));
 * t.post([1, 'hello']);
 * await node.leave();
 */
import { randomBytes } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import {
  type Authenticator,
  connect,
  credsAuthenticator,
  type NatsConnection,
  type NodeConnectionOptions,
  nkeyAuthenticator,
  type Subscription,
} from '@nats-io/transport-node';
import { DropCounters, type DroppedFrame, type DropReason } from './DroppedFrame.js';
import {
  clusterTag,
  controlFrame,
  decodeHeader,
  detailOf,
  HELLO,
  type Header,
  headerTemplate,
  isIncarnation,
  Kind,
  NO_INCARNATION,
} from './Envelope.js';
import { ClusterJoinError, UnknownNodeError } from './errors.js';
import { FailureDetector } from './FailureDetector.js';
import { type JoinOptions, type ResolvedJoinOptions, resolveJoinOptions } from './JoinOptions.js';
import { type DownReason, type MemberInfo, Membership } from './Membership.js';
import { NatsTransport, type TransportStats } from './NatsTransport.js';
import { type Liveness, Registry } from './Registry.js';
import { Subjects } from './Subjects.js';

/** Events of a {@link Node}. */
export interface NodeEvents {
  /** A new peer incarnation was heard from (members found during `join` are in `members()` when it resolves). */
  'member-up': (member: MemberInfo) => void;
  /** A peer incarnation is gone for good: declared dead, left, restarted (replaced) or quarantined us. */
  'member-down': (member: MemberInfo, reason: DownReason, detail: string) => void;
  /** A transport to a peer was made (by `transport()` or by the peer's first frame): attach a receiver. */
  transport: (transport: NatsTransport) => void;
  /** A frame or batch from the network was dropped (counted in `stats().drops`). */
  dropped: (frame: DroppedFrame) => void;
  /** This node's NATS connection went down or came back. */
  status: (up: boolean, detail: string) => void;
  /** This node left the cluster, or its connection closed for good. */
  closed: (detail: string) => void;
}

/** A live peer and how long ago it was last heard. */
export interface MemberHealth extends MemberInfo {
  /** Milliseconds since its last heartbeat (undefined before the first check has tracked it). */
  heartbeatAgeMs: number | undefined;
}

/** Counters of a node. */
export interface NodeStats {
  drops: Partial<Record<DropReason, number>>;
  droppedTotal: number;
  members: number;
  transports: number;
  heartbeatsSent: number;
  heartbeatsReceived: number;
}

/** What {@link Node.leave} did. */
export interface LeaveReport {
  /** Every transport's queue was published and credited before the deadline. */
  drained: boolean;
  /** Registry entries this node removed. */
  unregistered: number;
}

type Listener = (...args: never[]) => void;

export class Node {
  /** This process's incarnation: 16 hex digits, fresh at every join. */
  readonly incarnation: string;
  readonly name: string;
  readonly cluster: string;
  readonly subjects: Subjects;
  /** The registry (undefined when joined with `registry: false`). */
  registry: Registry | undefined;

  private readonly tag: number;
  private readonly detector: FailureDetector;
  private readonly membership = new Membership();
  private readonly transports = new Map<string, NatsTransport>();
  /** Peer incarnations whose pair was closed: a pair is one-shot. */
  private readonly closedPairs = new Set<string>();
  private readonly listeners = new Map<keyof NodeEvents, Set<Listener>>();
  private readonly drops = new DropCounters();
  private readonly heartbeatTemplate: Buffer;
  private readonly subs: Subscription[] = [];
  private readonly quarantineSentAt = new Map<string, number>();
  private connected = true;
  private state: 'joined' | 'leaving' | 'closed' = 'joined';
  private leaving: Promise<LeaveReport> | undefined;
  private heartbeatTimer: unknown;
  private checkTimer: unknown;
  private lastHelloAnswer = Number.NEGATIVE_INFINITY;
  private readonly joinedAt: number;
  private sweptRegistry = false;
  private heartbeatsSent = 0;
  private heartbeatsReceived = 0;

  /**
   * Join a cluster: connect, subscribe, say hello, open the registry, and wait
   * `discoveryMs` for the members' answers. Fails with {@link ClusterJoinError}.
   */
  static async join(options: JoinOptions): Promise<Node> {
    const o = resolveJoinOptions(options);
    let nc: NatsConnection;
    try {
      nc = await connect(connectionOptions(o));
    } catch (e) {
      throw new ClusterJoinError(
        `Cannot join cluster ${o.cluster} as node ${o.node}: connecting to ${o.servers.join(', ')} failed: ${
          e instanceof Error ? e.message : String(e)
        }. Is nats-server running there, and are the TLS settings and credentials right?`,
        { cause: e },
      );
    }
    const node = new Node(nc, o);
    try {
      await node.start();
    } catch (e) {
      await nc.close().catch(() => {});
      node.stopTimers();
      throw e instanceof ClusterJoinError
        ? e
        : new ClusterJoinError(`Cannot join cluster ${o.cluster} as node ${o.node}: ${String(e)}`, { cause: e });
    }
    return node;
  }

  private constructor(
    private readonly nc: NatsConnection,
    private readonly o: ResolvedJoinOptions,
  ) {
    this.incarnation = randomBytes(8).toString('hex');
    this.name = o.node;
    this.cluster = o.cluster;
    this.subjects = new Subjects(o.cluster);
    this.tag = clusterTag(o.cluster);
    this.detector = new FailureDetector(o.deadAfterMs, o.checkIntervalMs);
    this.heartbeatTemplate = headerTemplate(o.cluster, this.incarnation, NO_INCARNATION, o.node);
    this.joinedAt = o.clock.now();
  }

  /** The detection bound in ms: a dead peer is declared dead at most this long after it died. */
  get detectionBoundMs(): number {
    return this.detector.boundMs;
  }

  /** True once this node has left the cluster or its connection closed for good. */
  get isClosed(): boolean {
    return this.state === 'closed';
  }

  /** Is this node's NATS connection up? */
  get up(): boolean {
    return this.connected && this.state !== 'closed';
  }

  /** The live peers (not this node). */
  members(): MemberInfo[] {
    return this.membership.all();
  }

  /**
   * The live peers with the age of their last heartbeat, oldest first
   * (what a status page shows; a peer is declared dead once its age passes
   * `deadAfterMs`, at the next check).
   */
  memberHealth(): MemberHealth[] {
    const now = this.o.clock.now();
    return this.membership
      .all()
      .map((m) => {
        const heard = this.detector.lastHeard(m.incarnation);
        return { ...m, heartbeatAgeMs: heard === undefined ? undefined : Math.max(0, now - heard) };
      })
      .sort((a, b) => (b.heartbeatAgeMs ?? 0) - (a.heartbeatAgeMs ?? 0));
  }

  /** How many ms a silent peer has before it is declared dead (`deadAfterMs`). */
  get deadAfterMs(): number {
    return this.o.deadAfterMs;
  }

  /** Subscribe to an event; returns a function that unsubscribes. */
  on<E extends keyof NodeEvents>(event: E, listener: NodeEvents[E]): () => void {
    let set = this.listeners.get(event);
    if (set === undefined) this.listeners.set(event, (set = new Set()));
    set.add(listener as Listener);
    return () => set.delete(listener as Listener);
  }

  /** Resolves with the live member named `node` (now, or when it joins), or rejects after `timeoutMs`. */
  whenMember(node: string, options: { timeoutMs?: number } = {}): Promise<MemberInfo> {
    const now = this.membership.named(node);
    if (now !== undefined) return Promise.resolve(now);
    return this.nextMemberUp((m) => m.node === node, options.timeoutMs ?? 10_000).then((m) => {
      if (m === undefined) throw new UnknownNodeError(node, undefined, 'never-seen', this.cluster);
      return m;
    });
  }

  /** The next member up that `match`es, or undefined after `timeoutMs`. */
  private nextMemberUp(match: (m: MemberInfo) => boolean, timeoutMs: number): Promise<MemberInfo | undefined> {
    return new Promise((resolve) => {
      const off = this.on('member-up', (m) => {
        if (!match(m)) return;
        off();
        this.o.clock.clearTimeout(timer);
        resolve(m);
      });
      const timer = this.o.clock.setTimeout(() => {
        off();
        resolve(undefined);
      }, timeoutMs);
    });
  }

  /**
   * The transport to a live peer: by name (its current incarnation) or by
   * `{ node, incarnation }` (exactly that one, as a ref names it). Made on
   * first use and announced by the `transport` event. Throws
   * {@link UnknownNodeError} for a peer that is not live.
   */
  transport(peer: string | { node: string; incarnation?: string }): NatsTransport {
    const node = typeof peer === 'string' ? peer : peer.node;
    const wanted = typeof peer === 'string' ? undefined : peer.incarnation;
    if (node === this.name && (wanted === undefined || wanted === this.incarnation))
      throw new UnknownNodeError(node, wanted, 'self', this.cluster);
    const member = wanted === undefined ? this.membership.named(node) : this.membership.get(wanted);
    if (member === undefined || member.node !== node) {
      const gone = wanted === undefined ? undefined : this.membership.tombstone(wanted);
      throw new UnknownNodeError(node, wanted, gone?.reason ?? 'never-seen', this.cluster);
    }
    if (this.closedPairs.has(member.incarnation))
      throw new UnknownNodeError(node, member.incarnation, 'pair-closed', this.cluster);
    return this.transports.get(member.incarnation) ?? this.makeTransport(member);
  }

  /** Every open transport. */
  openTransports(): NatsTransport[] {
    return [...this.transports.values()];
  }

  /** Counters: drops by reason, members, transports, heartbeats. */
  stats(): NodeStats {
    return {
      drops: this.drops.snapshot(),
      droppedTotal: this.drops.total,
      members: this.membership.size,
      transports: this.transports.size,
      heartbeatsSent: this.heartbeatsSent,
      heartbeatsReceived: this.heartbeatsReceived,
    };
  }

  /** Per-transport counters, by peer label. */
  transportStats(): Record<string, TransportStats> {
    return Object.fromEntries([...this.transports.values()].map((t) => [t.label, t.stats()]));
  }

  /**
   * Leave the cluster gracefully: wait (at most `timeoutMs`) until every
   * transport's queue is published and credited, remove this node's registry
   * entries, close every pair (peers see `closed`, not `peer-dead`), announce
   * the leave, and drain the connection. Idempotent.
   */
  leave(options: { timeoutMs?: number; detail?: string } = {}): Promise<LeaveReport> {
    this.leaving ??= this.doLeave(options.timeoutMs ?? 5_000, options.detail ?? 'left the cluster');
    return this.leaving;
  }

  // ---- lifecycle ---------------------------------------------------------

  private async start(): Promise<void> {
    const callback = (err: Error | null, msg: { subject: string; data: Uint8Array }) => {
      if (err === null) this.onMessage(msg.subject, msg.data);
    };
    this.subs.push(this.nc.subscribe(this.subjects.heartbeat, { callback }));
    this.subs.push(this.nc.subscribe(this.subjects.node(this.name), { callback }));
    void this.watchStatus();
    void this.nc.closed().then((err) => this.connectionClosed(err));
    await this.nc.flush();
    this.sendHeartbeat(true);
    const registry = this.o.registry ? this.openRegistry() : Promise.resolve(undefined);
    const discovery = new Promise<void>((r) => this.o.clock.setTimeout(r, this.o.discoveryMs));
    [this.registry] = await Promise.all([registry, discovery]);
    this.heartbeatTimer = this.every(this.o.heartbeatIntervalMs, () => this.sendHeartbeat(false));
    this.detector.start(this.o.clock.now());
    this.checkTimer = this.every(this.o.checkIntervalMs, () => this.check());
  }

  private async openRegistry(): Promise<Registry> {
    let kv: Awaited<ReturnType<Kvm['create']>>;
    try {
      const domain = this.o.jetstreamDomain;
      kv = await new Kvm(domain === undefined ? this.nc : jetstream(this.nc, { domain })).create(
        this.subjects.registryBucket,
        { history: 1 },
      );
    } catch (e) {
      throw new ClusterJoinError(
        `Cannot open the registry (KV bucket ${this.subjects.registryBucket}) of cluster ${this.cluster}: ${
          e instanceof Error ? e.message : String(e)
        }. The registry needs JetStream: start nats-server with -js (or join with registry: false)${
          this.o.jetstreamDomain === undefined
            ? '; across a leaf-node link, give the hub a JetStream domain and join with jetstreamDomain'
            : `; is JetStream domain ${this.o.jetstreamDomain} reachable from this server?`
        }.`,
        { cause: e },
      );
    }
    return new Registry(kv, {
      cluster: this.cluster,
      liveness: (inc, node) => this.liveness(inc, node),
      settled: () => this.settlesInMs() === 0,
      heard: (inc) => this.whenIncarnation(inc, this.settlesInMs()),
      warn: (m, f) => this.o.logger?.warn(m, f),
    });
  }

  /**
   * What this node knows of an incarnation: alive (this node or a live
   * member), dead (declared dead, left, restarted or quarantined), or unknown.
   * @internal
   */
  liveness(incarnation: string, node?: string): Liveness {
    if (incarnation === this.incarnation || this.membership.get(incarnation) !== undefined) return 'alive';
    if (this.membership.tombstone(incarnation) !== undefined) return 'dead';
    // Another incarnation of this node's own name is an earlier run of it (names are unique in a cluster): it is gone.
    return node === this.name ? 'dead' : 'unknown';
  }

  /**
   * How long until this node has been joined long enough to have heard every
   * live member (`deadAfterMs + discoveryMs`): after that, an incarnation never
   * heard of is dead. 0 once it has.
   * @internal
   */
  settlesInMs(): number {
    return Math.max(0, this.joinedAt + this.o.deadAfterMs + this.o.discoveryMs - this.o.clock.now());
  }

  /** Resolves true once `incarnation` is a live member (now, or when its first heartbeat comes), false after `timeoutMs`. @internal */
  whenIncarnation(incarnation: string, timeoutMs: number): Promise<boolean> {
    if (this.membership.get(incarnation) !== undefined) return Promise.resolve(true);
    return this.nextMemberUp((m) => m.incarnation === incarnation, timeoutMs).then((m) => m !== undefined);
  }

  private every(ms: number, fn: () => void): unknown {
    const clock = this.o.clock;
    let handle: unknown;
    const run = () => {
      if (this.state === 'closed') return;
      handle = clock.setTimeout(run, ms);
      clock.unref?.(handle);
      try {
        fn();
      } catch (e) {
        this.o.logger?.error('remote: periodic task failed', { node: this.name, error: e });
      }
    };
    handle = clock.setTimeout(run, ms);
    clock.unref?.(handle);
    return () => clock.clearTimeout(handle);
  }

  private stopTimers(): void {
    (this.heartbeatTimer as (() => void) | undefined)?.();
    (this.checkTimer as (() => void) | undefined)?.();
  }

  private async watchStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === 'disconnect') this.setConnected(false, `NATS connection lost (${s.server})`);
      else if (s.type === 'reconnect') this.setConnected(true, `NATS connection back (${s.server})`);
      else if (s.type === 'slowConsumer')
        this.o.logger?.warn('remote: NATS slow consumer', { node: this.name, pending: s.pending });
      else if (s.type === 'error') this.o.logger?.warn('remote: NATS error', { node: this.name, error: s.error });
    }
  }

  private setConnected(up: boolean, detail: string): void {
    if (this.state === 'closed' || up === this.connected) return;
    this.connected = up;
    if (up) this.detector.resume(this.o.clock.now());
    else this.detector.suspend();
    for (const t of this.transports.values()) t.setUp(up, detail);
    if (up) this.sendHeartbeat(true);
    this.emit('status', up, detail);
  }

  private connectionClosed(err: void | Error): void {
    if (this.state === 'closed') return;
    const detail = `NATS connection closed${err instanceof Error ? `: ${err.message}` : ''}`;
    this.shutDown({ reason: 'error', detail, cause: err }, detail);
  }

  private shutDown(closed: { reason: 'error' | 'closed'; detail: string; cause?: unknown }, detail: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.stopTimers();
    this.registry?.close();
    for (const t of [...this.transports.values()]) t.terminate(closed);
    this.emit('closed', detail);
  }

  private async doLeave(timeoutMs: number, detail: string): Promise<LeaveReport> {
    if (this.state === 'closed') return { drained: false, unregistered: 0 };
    this.state = 'leaving';
    const deadline = this.o.clock.now() + timeoutMs;
    const drained = (await Promise.all([...this.transports.values()].map((t) => t.drained(timeoutMs)))).every(Boolean);
    let unregistered = 0;
    if (this.registry !== undefined && this.connected) {
      try {
        unregistered = await withTimeout(
          this.registry.removeOwnedBy(this.incarnation),
          Math.max(100, deadline - this.o.clock.now()),
        );
      } catch (e) {
        this.o.logger?.warn('remote: could not remove registry entries at leave', { node: this.name, error: e });
      }
    }
    for (const t of [...this.transports.values()]) t.close(detail);
    if (this.connected) {
      try {
        this.nc.publish(this.subjects.heartbeat, controlFrame(this.heartbeatTemplate, Kind.Leave, {}, detail));
      } catch {
        // the connection is going anyway
      }
    }
    this.shutDown({ reason: 'closed', detail }, `node ${this.name} ${detail}`);
    try {
      await withTimeout(this.nc.drain(), Math.max(100, deadline - this.o.clock.now()));
    } catch {
      await this.nc.close().catch(() => {});
    }
    return { drained, unregistered };
  }

  // ---- heartbeats and failure detection ----------------------------------

  private sendHeartbeat(hello: boolean): void {
    if (!this.connected || this.state === 'closed') return;
    try {
      this.nc.publish(
        this.subjects.heartbeat,
        controlFrame(this.heartbeatTemplate, Kind.Heartbeat, {
          seq: hello ? HELLO : 0,
          total: this.o.heartbeatIntervalMs,
        }),
      );
      this.heartbeatsSent++;
    } catch {
      // closed under us: connectionClosed handles it
    }
  }

  private check(): void {
    const now = this.o.clock.now();
    for (const inc of this.detector.check(now)) {
      const member = this.membership.get(inc);
      const detail = `no heartbeat for more than ${this.o.deadAfterMs} ms (detection bound ${this.detector.boundMs} ms)`;
      if (member !== undefined) this.memberDown(member, 'dead', detail);
      else this.detector.forget(inc);
    }
    for (const t of this.transports.values()) t.tick(now);
    if (!this.sweptRegistry && this.registry !== undefined && this.connected) {
      if (now - this.joinedAt > this.o.deadAfterMs + this.o.discoveryMs) {
        this.sweptRegistry = true;
        this.registry.sweep().catch((e) => this.o.logger?.warn('remote: registry sweep failed', { error: e }));
      }
    }
  }

  private memberDown(member: MemberInfo, reason: DownReason, detail: string): void {
    this.membership.down(member.incarnation, reason);
    this.detector.forget(member.incarnation);
    const t = this.transports.get(member.incarnation);
    const who = `node ${member.node} (incarnation ${member.incarnation})`;
    if (t !== undefined) {
      if (reason === 'left') t.peerClosed(detail);
      else t.terminate({ reason: 'peer-dead', detail: `${who}: ${detail}` });
    }
    this.emit('member-down', member, reason, detail);
    if (reason !== 'left' && this.registry !== undefined && this.connected && this.state === 'joined')
      this.registry
        .removeOwnedBy(member.incarnation)
        .catch((e) => this.o.logger?.warn('remote: registry cleanup failed', { peer: who, error: e }));
  }

  private onHeartbeat(h: Header, subject: string, data: Uint8Array): void {
    this.heartbeatsReceived++;
    const gone = this.membership.tombstone(h.sender);
    if (gone !== undefined) {
      if (h.kind === Kind.Heartbeat && (gone.reason === 'dead' || gone.reason === 'replaced')) this.quarantine(h);
      return;
    }
    if (h.senderNode === this.name) {
      this.drop(
        'duplicate-node',
        `heartbeat from another process also named ${this.name} (incarnation ${h.sender}): node names must be unique`,
        subject,
        data.length,
        h,
      );
      return;
    }
    const now = this.o.clock.now();
    if (h.kind === Kind.Leave) {
      const member = this.membership.get(h.sender);
      if (member !== undefined) this.memberDown(member, 'left', detailOf(data, h) || 'left the cluster');
      else this.membership.down(h.sender, 'left', h.senderNode);
      return;
    }
    const joined = this.membership.join(h.senderNode, h.sender, now);
    this.detector.heard(h.sender, now);
    if (joined !== undefined) {
      if (joined.replaces !== undefined)
        this.memberDown(joined.replaces, 'replaced', `restarted as incarnation ${h.sender}`);
      this.emit('member-up', joined.member);
    }
    if ((h.seq & HELLO) !== 0 && now - this.lastHelloAnswer >= 50) {
      this.lastHelloAnswer = now;
      this.sendHeartbeat(false);
    }
  }

  /** Tell an incarnation we declared dead that it is, so it stops talking to us (at most once a second). */
  private quarantine(h: Header): void {
    const now = this.o.clock.now();
    if (now - (this.quarantineSentAt.get(h.sender) ?? Number.NEGATIVE_INFINITY) < 1_000) return;
    this.quarantineSentAt.set(h.sender, now);
    if (this.quarantineSentAt.size > 1024) this.quarantineSentAt.clear();
    const template = headerTemplate(this.cluster, this.incarnation, h.sender, this.name);
    try {
      this.nc.publish(this.subjects.node(h.senderNode), controlFrame(template, Kind.Quarantine, {}, 'declared dead'));
    } catch {
      // best effort
    }
  }

  // ---- inbound frames ----------------------------------------------------

  private onMessage(subject: string, data: Uint8Array): void {
    try {
      this.handle(subject, data);
    } catch (e) {
      this.drop(
        'internal',
        `error while handling a frame: ${e instanceof Error ? e.stack : String(e)}`,
        subject,
        data.length,
      );
      this.o.logger?.error('remote: error while handling a frame', { node: this.name, subject, error: e });
    }
  }

  private handle(subject: string, data: Uint8Array): void {
    if (this.state === 'closed') return;
    const h = decodeHeader(data);
    if (typeof h === 'string') {
      this.drop(h, `not a Troupe frame (${h}, ${data.length} bytes)`, subject, data.length);
      return;
    }
    if (h.clusterTag !== this.tag) {
      this.drop(
        'foreign-cluster',
        `cluster tag ${h.clusterTag.toString(16)} is not ${this.cluster}'s`,
        subject,
        data.length,
        h,
      );
      return;
    }
    if (h.sender === this.incarnation) return; // our own broadcast (noEcho normally filters it)
    if (h.kind === Kind.Heartbeat || h.kind === Kind.Leave) {
      this.onHeartbeat(h, subject, data);
      return;
    }
    if (h.target !== this.incarnation) {
      this.drop(
        'stale-target',
        `addressed to incarnation ${h.target}; this node is ${this.incarnation}`,
        subject,
        data.length,
        h,
      );
      return;
    }
    const member = this.membership.get(h.sender);
    if (member === undefined || member.node !== h.senderNode) {
      const gone = this.membership.tombstone(h.sender);
      if (gone !== undefined) {
        if (h.kind !== Kind.Close && h.kind !== Kind.Quarantine)
          this.drop(
            'dead-sender',
            `from incarnation ${h.sender}, which ${gone.reason === 'left' ? 'left' : `is ${gone.reason}`}`,
            subject,
            data.length,
            h,
          );
      } else
        this.drop(
          'unknown-sender',
          `from incarnation ${h.sender} of node ${h.senderNode}, never heard from`,
          subject,
          data.length,
          h,
        );
      return;
    }
    if (h.kind === Kind.Quarantine) {
      this.memberDown(
        member,
        'quarantined',
        `node ${member.node} declared this node dead; restart this node to rejoin`,
      );
      return;
    }
    let t = this.transports.get(h.sender);
    if (t === undefined) {
      if (this.closedPairs.has(h.sender)) {
        if (h.kind === Kind.Data)
          this.drop('closed-pair', `data after the pair with ${member.node} closed`, subject, data.length, h);
        return;
      }
      if (h.kind !== Kind.Data || this.state !== 'joined') {
        if (h.kind === Kind.Data) this.drop('closed-pair', 'data while this node is leaving', subject, data.length, h);
        return;
      }
      t = this.makeTransport(member);
    }
    t.receive(h, data);
  }

  private makeTransport(member: MemberInfo): NatsTransport {
    const t = new NatsTransport({
      cluster: this.cluster,
      localNode: this.name,
      localIncarnation: this.incarnation,
      peerNode: member.node,
      peerIncarnation: member.incarnation,
      subject: this.subjects.node(member.node),
      publish: (subject, data) => this.nc.publish(subject, data),
      maxPayload: () => this.nc.info?.max_payload ?? 1024 * 1024,
      up: this.connected,
      options: this.o.transport,
      clock: this.o.clock,
      drop: (reason, detail, bytes) =>
        this.drop(
          reason,
          detail,
          this.subjects.node(this.name),
          bytes,
          undefined,
          `${member.node}/${member.incarnation}`,
        ),
      warn: (m, f) => this.o.logger?.warn(m, f),
      closed: (closed) => {
        this.transports.delete(closed.peerIncarnation);
        this.closedPairs.add(closed.peerIncarnation);
        // Bounded like the tombstones: the oldest closed pairs are forgotten (their peers are long gone).
        if (this.closedPairs.size > 4096) this.closedPairs.delete(this.closedPairs.values().next().value as string);
      },
    });
    this.transports.set(member.incarnation, t);
    this.emit('transport', t);
    return t;
  }

  private drop(reason: DropReason, detail: string, subject: string, bytes: number, h?: Header, from?: string): void {
    this.drops.add(reason);
    const sender = from ?? (h !== undefined && isIncarnation(h.sender) ? `${h.senderNode}/${h.sender}` : undefined);
    const frame: DroppedFrame =
      sender === undefined ? { reason, detail, subject, bytes } : { reason, detail, subject, bytes, from: sender };
    this.emit('dropped', frame);
  }

  private emit<E extends keyof NodeEvents>(event: E, ...args: Parameters<NodeEvents[E]>): void {
    const set = this.listeners.get(event);
    if (set === undefined) return;
    for (const l of [...set]) {
      try {
        (l as unknown as (...a: Parameters<NodeEvents[E]>) => void)(...args);
      } catch (e) {
        this.o.logger?.error(`remote: a '${event}' listener threw`, { node: this.name, error: e });
      }
    }
  }
}

function connectionOptions(o: ResolvedJoinOptions): NodeConnectionOptions {
  const authenticator: Authenticator[] = [];
  if (o.nkeySeed !== undefined) authenticator.push(nkeyAuthenticator(new TextEncoder().encode(o.nkeySeed)));
  if (o.credentials !== undefined) authenticator.push(credsAuthenticator(new TextEncoder().encode(o.credentials)));
  const opts: NodeConnectionOptions = {
    servers: o.servers,
    name: `troupe ${o.cluster}/${o.node}`,
    noEcho: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: o.reconnectTimeWaitMs,
    timeout: o.connectTimeoutMs,
    pingInterval: 10_000,
    maxPingOut: 3,
  };
  if (o.user !== undefined) opts.user = o.user;
  if (o.pass !== undefined) opts.pass = o.pass;
  if (o.token !== undefined) opts.token = o.token;
  if (o.tls !== undefined) opts.tls = o.tls === true ? {} : { ...o.tls };
  if (authenticator.length > 0) opts.authenticator = authenticator;
  return opts;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
