import type { ActorRef, Message, TerminationReason } from '../ActorRef.js';
import { typeOf } from '../DeadLetters.js';
import { UnserializableMessageError } from '../errors.js';
import { type ActorCell, Status } from './ActorCell.js';
import { DataCloneError, decode, Encoder } from './codec.js';
import type { Link, Route } from './Link.js';
import { LocalActorRef } from './LocalActorRef.js';
import { RemoteRef } from './RemoteRef.js';
import type { ReplyTarget, SystemInternals } from './SystemInternals.js';
import { type NodeAddress, Op, type WireRef } from './wire.js';

/** A proxy cell's route to the actor it stands for: what paths below it resolve through. @internal */
export interface ProxyRoute extends Route {
  readonly isProxy: true;
}

/** The key of a node address (all three parts: another incarnation is another node). @internal */
export function addressKey(a: { cluster?: string; node?: string; incarnation?: string }): string {
  return `${a.cluster ?? ''}/${a.node ?? ''}/${a.incarnation ?? ''}`;
}

/**
 * The one place a runtime asks about any ref, local or not: what `stop`,
 * `whenTerminated`, `watch`, `forward`, `select` and load go through, and how
 * refs cross links in both directions.
 *
 * Addressing: a ref on the wire names its actor's home node (cluster, node,
 * incarnation), its path and its uid ({@link WireRef}). Resolving one:
 * - at home: by uid among the cells whose refs were sent out, else by path
 *   from the roots (the guardians on a main thread, the hosted actors in a
 *   worker); a path below a proxy resolves through the proxy's link, so the
 *   children of a worker actor are reachable (and selectable) from anywhere;
 * - another node: over the link registered for that address (or the
 *   resolver `@troupe/remote` installs), else a ref with no route;
 * - inside a worker thread, whatever is not its own goes up its one link to
 *   the main thread (`upstream`), which routes it on.
 * @internal
 */
export class RefProvider {
  private internalsValue: SystemInternals | undefined = undefined;
  /** Cells of this runtime whose refs crossed a link, by uid. */
  private readonly exported = new Map<string, ActorCell>();
  /** Hosted cells stand for their proxy: the proxy's wire ref, by cell. */
  private readonly hostedSelf = new Map<ActorCell, WireRef>();
  /** Where path lookups start: the guardians (`/user`, `/system`), or hosted actors by their path. */
  private readonly roots = new Map<string, ActorCell>();
  /** Links to other nodes, by {@link addressKey}. */
  private readonly nodes = new Map<string, Link>();
  /** Every ref this runtime cannot resolve itself goes over this link (a worker thread's link to its node). */
  upstream: Link | undefined = undefined;
  /** Asked for a node there is no link to yet (`@troupe/remote` connects on demand). */
  nodeResolver: ((address: NodeAddress) => Link | undefined) | undefined = undefined;
  /** Encodes messages leaving this runtime (refs become markers). */
  private readonly encoder = new Encoder((ref) => this.toWire(ref));
  private readonly fromWireBound = (w: WireRef) => this.fromWire(w);

  constructor(
    /** The node this runtime belongs to (a worker thread shares its main thread's). */
    public address: NodeAddress,
  ) {}

  get internals(): SystemInternals {
    return this.internalsValue as SystemInternals;
  }

  /** Set once, when the runtime's internals (which hold this provider) exist. */
  bind(internals: SystemInternals): void {
    this.internalsValue = internals;
  }

  addRoot(cell: ActorCell): void {
    this.roots.set(cell.path, cell);
  }

  // ------------------------------------------------------------ local cells

  /** The cell behind `ref` if it lives in this runtime. */
  // biome-ignore lint/suspicious/noExplicitAny: any protocol
  local(ref: ActorRef<any>): ActorCell | undefined {
    return ref instanceof LocalActorRef ? ref.cell : undefined;
  }

  /** A cell hosted here for a proxy elsewhere: its refs name the proxy, and arrive here by the proxy's uid or path. */
  registerHosted(cell: ActorCell, self: WireRef): void {
    const uid = self.$troupeRef.uid as string;
    this.hostedSelf.set(cell, self);
    this.exported.set(uid, cell);
    this.roots.set(cell.path, cell);
    cell.onTerminated(() => {
      this.hostedSelf.delete(cell);
      if (this.exported.get(uid) === cell) this.exported.delete(uid);
      if (this.roots.get(cell.path) === cell) this.roots.delete(cell.path);
    });
  }

  private export(cell: ActorCell): string {
    const uid = cell.id;
    if (!this.exported.has(uid)) {
      this.exported.set(uid, cell);
      cell.onTerminated(() => this.exported.delete(uid));
    }
    return uid;
  }

  // ------------------------------------------------------------ refs on the wire

  // biome-ignore lint/suspicious/noExplicitAny: any protocol
  toWire(ref: ActorRef<any>): WireRef {
    if (ref instanceof RemoteRef) return ref.wire;
    const a = this.address;
    if (ref instanceof LocalActorRef) {
      const cell = ref.cell;
      const self = this.hostedSelf.get(cell);
      if (self !== undefined) return self;
      const uid = this.export(cell);
      return {
        $troupeRef: { path: cell.path, uid, cluster: a.cluster, node: a.node, incarnation: a.incarnation },
      };
    }
    // Some other ActorRef implementation: all it offers is a path here.
    return { $troupeRef: { path: ref.path, cluster: a.cluster, node: a.node, incarnation: a.incarnation } };
  }

  /** The ref a marker names (a ref with no route if nothing can be reached). */
  fromWire(w: WireRef): ActorRef<Message> {
    return this.resolve(w, false);
  }

  /**
   * Resolve a wire ref. `inbound`: it names the recipient of a frame that came
   * over a link, so in a worker it is never sent back up (it came from there).
   */
  resolve(w: WireRef, inbound: boolean): ActorRef<Message> {
    const r = w?.$troupeRef;
    if (r === undefined || typeof r.path !== 'string') return new RemoteRef(this, undefined, w);
    // A uid names one actor anywhere: a cell of this runtime whose ref went out (or one hosted
    // here for a proxy, whose refs carry the proxy's node) is found by it first.
    if (r.uid !== undefined) {
      const cell = this.exported.get(r.uid);
      if (cell !== undefined && cell.status < Status.Stopped) return cell.ref;
    }
    const a = this.address;
    const home =
      r.node === undefined || (r.node === a.node && r.incarnation === a.incarnation && r.cluster === a.cluster);
    if (home) {
      const found = this.lookup(r.path);
      if (found instanceof RemoteRef) return found.route === undefined ? found : new RemoteRef(this, found.route, w);
      if (found !== undefined && (r.uid === undefined || found.id === r.uid) && found.status < Status.Stopped) {
        return found.ref;
      }
      // Not here: the main thread may know it (in a worker), else it is gone
      // (one actor, named by its uid, that has stopped; or nothing at that path).
      const up = found === undefined && !inbound ? this.upstream : undefined;
      return new RemoteRef(this, up, w, up === undefined && r.uid !== undefined);
    }
    if (this.upstream !== undefined) return new RemoteRef(this, inbound ? undefined : this.upstream, w);
    const address = { cluster: r.cluster ?? '', node: r.node ?? '', incarnation: r.incarnation ?? '' };
    const link = this.nodes.get(addressKey(address)) ?? this.nodeResolver?.(address);
    return new RemoteRef(this, link, w);
  }

  /**
   * The cell at `path` in this runtime; a path below a proxy gives a
   * {@link RemoteRef} routed through that proxy; undefined when nothing is there.
   */
  private lookup(path: string): ActorCell | RemoteRef | undefined {
    const parts = path.split('/').filter((p) => p.length > 0);
    let cell: ActorCell | undefined;
    let i = 0;
    for (let prefix = ''; i < parts.length; ) {
      prefix += `/${parts[i++] as string}`;
      cell = this.roots.get(prefix);
      if (cell !== undefined) break;
    }
    if (cell === undefined) return undefined;
    for (; i < parts.length; i++) {
      const remote = cell.remote as unknown as ProxyRoute | undefined;
      if (remote?.isProxy === true) {
        const a = this.address;
        return new RemoteRef(this, remote, {
          $troupeRef: { path, cluster: a.cluster, node: a.node, incarnation: a.incarnation },
        });
      }
      const next: ActorCell | undefined = cell.children.get(parts[i] as string);
      if (next === undefined) return undefined;
      cell = next;
    }
    return cell;
  }

  /**
   * The ref at `path`: a live local actor, an actor inside a worker (through
   * its proxy), or a ref whose tells become dead letters. The roots
   * themselves (the guardians) are not handed out.
   */
  select(path: string): ActorRef<Message> {
    const normal = `/${path
      .split('/')
      .filter((p) => p.length > 0)
      .join('/')}`;
    const found = this.roots.has(normal) ? undefined : this.lookup(normal);
    if (found instanceof RemoteRef) return found;
    if (found !== undefined && found.status < Status.Stopping) return found.ref;
    const a = this.address;
    return new RemoteRef(this, undefined, {
      $troupeRef: { path, cluster: a.cluster, node: a.node, incarnation: a.incarnation },
    });
  }

  // ------------------------------------------------------------ encoding

  /**
   * Check and encode a message leaving this runtime; throws
   * `UnserializableMessageError` naming `target`. {@link swapped} then tells
   * whether the result holds markers.
   */
  encode(message: unknown, target: string, type?: string): unknown {
    try {
      return this.encoder.encode(message);
    } catch (error) {
      if (error instanceof DataCloneError) {
        throw new UnserializableMessageError(target, type ?? typeOf(message), error);
      }
      throw error;
    }
  }

  /** Whether the last {@link encode} swapped anything (the far side must decode). */
  get swapped(): boolean {
    return this.encoder.swapped;
  }

  /** Turn markers in a value that arrived over a link back into refs. */
  decode(value: unknown): unknown {
    return decode(value, this.fromWireBound);
  }

  // ------------------------------------------------------------ nodes

  /** Route refs to `address` over `link` until it closes. */
  attachNode(address: NodeAddress, link: Link): void {
    const key = addressKey(address);
    this.nodes.set(key, link);
    link.onClose(() => {
      if (this.nodes.get(key) === link) this.nodes.delete(key);
    });
  }

  // ------------------------------------------------------------ what the system asks about any ref

  /** Hand `message` (with its reply address) to the actor behind `ref`, wherever it is. */
  // biome-ignore lint/suspicious/noExplicitAny: any protocol
  deliver(ref: ActorRef<any>, message: unknown, env: ReplyTarget | undefined): void {
    if (ref instanceof LocalActorRef || ref instanceof RemoteRef) {
      ref.deliver(message, env);
      return;
    }
    // Another ActorRef implementation: keep the reply address by piping an ask.
    if (env === undefined) ref.tell(message);
    else
      ref.ask(message).then(
        (v) => env.resolve(v),
        (e) => env.reject(e),
      );
  }

  /** Deliver a message that arrived over a link for the actor `target` names (or relay it on). */
  deliverInbound(target: WireRef, message: unknown, env: ReplyTarget | undefined): void {
    this.deliver(this.resolve(target, true), message, env);
  }

  /** Stop the actor behind `ref`; resolves when it has terminated. */
  // biome-ignore lint/suspicious/noExplicitAny: any protocol
  stop(ref: ActorRef<any>): Promise<void> {
    const cell = this.local(ref);
    if (cell !== undefined) return cell.stop({ kind: 'stopped' });
    if (ref instanceof RemoteRef) {
      const link = ref.route?.current();
      if (link === undefined) return Promise.resolve();
      const ended = this.whenTerminated(ref);
      link.control(Op.StopActor, ref.wire);
      return ended.then(() => undefined);
    }
    return Promise.resolve();
  }

  /** Resolves with the reason once the actor behind `ref` has terminated. */
  // biome-ignore lint/suspicious/noExplicitAny: any protocol
  whenTerminated(ref: ActorRef<any>): Promise<TerminationReason> {
    return new Promise((resolve) => {
      this.onEnd(ref, resolve);
    });
  }

  /**
   * Call `listener` once when the actor behind `ref` ends (at once, or soon,
   * if it has). Returns the cancel function.
   */
  // biome-ignore lint/suspicious/noExplicitAny: any protocol
  onEnd(ref: ActorRef<any>, listener: (reason: TerminationReason) => void): () => void {
    const cell = this.local(ref);
    if (cell !== undefined) return cell.onTerminated(listener);
    if (ref instanceof RemoteRef) return this.watchRemote(ref, listener);
    queueMicrotask(() => listener({ kind: 'stopped' }));
    return () => {};
  }

  /** What a watch of a non-local ref is keyed by; throws for a ref this runtime cannot watch. */
  // biome-ignore lint/suspicious/noExplicitAny: any protocol
  watchKey(ref: ActorRef<any>, where: string): string {
    if (ref instanceof RemoteRef) return ref.key;
    throw new TypeError(`${where}: ${String(ref)} is not an ActorRef of this system (it cannot be watched)`);
  }

  /** Watch an actor elsewhere; a ref with no route ends at once (stopped, or address-terminated if its link closed). */
  watchRemote(ref: RemoteRef, listener: (reason: TerminationReason) => void): () => void {
    const link = ref.route?.current();
    if (link !== undefined) return link.watch(ref.wire, listener);
    queueMicrotask(() => listener({ kind: 'stopped' }));
    return () => {};
  }

  /** Queued plus in-flight messages of the actor behind `ref` (0 when this runtime cannot see them). */
  // biome-ignore lint/suspicious/noExplicitAny: any protocol
  load(ref: ActorRef<any>): number {
    return this.local(ref)?.load ?? 0;
  }
}
