import type { ActorDefinition } from '../ActorDefinition.js';
import type { AskOptions, Message, TellOptions } from '../ActorRef.js';
import { typeOf } from '../DeadLetters.js';
import { ActorStoppedError, serializeError } from '../errors.js';
import { resolveMailboxOptions } from '../Mailbox.js';
import type { SpawnOptions } from '../SpawnOptions.js';
import type { WorkerActorSpec } from '../WorkerActor.js';
import { type ActorCell, Status } from './ActorCell.js';
import { type Channel, DEFAULT_WINDOW, type Link, type LinkProxy, outbound } from './Link.js';
import { LocalActorRef } from './LocalActorRef.js';
import type { ProxyRoute } from './RefProvider.js';
import type { RemoteAdapter, ReplyTarget } from './SystemInternals.js';
import { Op, type SpawnFrame } from './wire.js';

/**
 * Where a proxy's actor is hosted: hands out a live link to a host. The same
 * one while that link lives; after it closed, a fresh one (a new worker
 * thread on the same slot), or a throw when none can be had (the node is
 * unreachable), which fails the proxy's start like any init failure.
 * @internal
 */
export interface HostSite {
  /** Names the place in errors, e.g. "worker host 0" or "node b". */
  readonly label: string;
  acquire(): Link;
}

/**
 * Stands for one hosted actor in this runtime's tree, so supervision, watch,
 * stop order and dead letters work exactly as for a local actor. Its cell's
 * definition is a forwarder: `init` starts (or restarts) the real actor on the
 * far side of a link and waits until it runs, `receive` forwards each
 * message, and the cell's stop stops it there (its hooks run where it lives).
 * While the proxy is suspended or restarting, messages wait in its mailbox
 * here and go to the restarted actor.
 *
 * Flow control: each message spends one credit of the proxy's channel; with
 * none left, the proxy waits (its cell is busy with that message), so later
 * messages stay in its mailbox here, where its capacity and overflow policy
 * apply: a `backpressure` mailbox makes `send` wait, end to end.
 * @internal
 */
export class RemoteProxy implements LinkProxy, RemoteAdapter, ProxyRoute {
  readonly isProxy = true;
  cell!: ActorCell;
  link: Link | undefined = undefined;
  /** The proxy's channel on `link` while the hosted actor exists. */
  channel: Channel | undefined = undefined;
  private remoteExists = false;
  private lastError: unknown;
  private waiting: { resolve: () => void; reject: (e: unknown) => void } | undefined;
  private stopWaiter: (() => void) | undefined;

  constructor(
    readonly site: HostSite,
    readonly spec: WorkerActorSpec,
    /** The spawn input, encoded and snapshotted at the spawn call (the proxy's own copy). */
    readonly input: unknown,
  ) {}

  get path(): string {
    return this.cell.path;
  }

  /** The link to the hosted actor while it lives (refs below this proxy's path route through it). */
  current(): Link | undefined {
    const link = this.link;
    return link?.isOpen && this.channel !== undefined ? link : undefined;
  }

  /** Messages sent that the hosted actor has not taken yet (and its work in flight). */
  get outstanding(): number {
    return this.channel?.outstanding ?? 0;
  }

  /** The proxy's definition. */
  definition(): ActorDefinition<Message, undefined, unknown> {
    return {
      name: `worker:${this.spec.exportName}`,
      init: () => this.start(),
      receive: (_s, message) => {
        const env = this.cell.takeReplyTarget();
        const channel = this.channel as Channel;
        if (channel.credit > 0) {
          this.forward(channel, message, env);
          return undefined;
        }
        // Out of credit: wait here, one message in hand; the rest wait in the mailbox.
        return channel.whenCredit().then(() => this.forwardAfterWait(channel, message, env));
      },
    };
  }

  private forward(channel: Channel, message: unknown, env: ReplyTarget | undefined): void {
    const link = this.link as Link;
    if (env === undefined) link.tell(channel, message);
    else link.ask(channel, message, env, this.cell.path);
  }

  private forwardAfterWait(channel: Channel, message: unknown, env: ReplyTarget | undefined): undefined {
    const link = this.link;
    if (this.channel === channel && link?.isOpen && channel.credit > 0 && this.cell.status < Status.Stopping) {
      this.forward(channel, message, env);
      return undefined;
    }
    // Never sent: the proxy is stopping, or the hosted actor's link closed while this message waited.
    const sys = this.cell.system;
    const type = typeOf(message);
    if (this.cell.status >= Status.Stopping || link === undefined) {
      sys.deadLetters.record(this.cell.path, message, 'actor-stopped');
      env?.reject(new ActorStoppedError(this.cell.path, type));
    } else {
      sys.deadLetters.record(this.cell.path, message, link.policy.lostReason);
      env?.reject(link.policy.notDeliveredError(this.cell.path, type, link.closed));
    }
    return undefined;
  }

  /** The proxy is stopping: a message waiting for credit gives up at once. */
  interrupt(): void {
    this.channel?.interrupt();
  }

  /** An ancestor of the proxy is suspended (or runs again): so is the hosted actor. */
  held(on: boolean): void {
    const link = this.link;
    const channel = this.channel;
    if (link?.isOpen && channel !== undefined) link.control(Op.Hold, channel.handle, on ? 1 : 0);
  }

  private spawnFrame(): SpawnFrame {
    const capacity = this.cell.mailboxCapacity;
    return {
      handle: (this.channel as Channel).handle,
      module: this.spec.module,
      exportName: this.spec.exportName,
      input: this.input,
      name: this.cell.name,
      path: this.cell.path,
      // Registers the proxy, so `ctx.self` sent from the hosted actor routes back here.
      self: this.cell.system.provider.toWire(this.cell.ref),
      // A bounded mailbox bounds what is in flight too; an unbounded one gets the default window.
      window: Number.isFinite(capacity) ? capacity : DEFAULT_WINDOW,
    };
  }

  private async start(): Promise<undefined> {
    const link = this.link;
    const restart = link?.isOpen === true && this.remoteExists;
    if (!restart) {
      // May throw (no host can be had): the start fails like any init, with nothing left waiting.
      const fresh = this.site.acquire();
      this.link = fresh;
      this.channel = fresh.attachProxy(this);
    }
    const started = new Promise<void>((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
    const target = this.link as Link;
    const handle = (this.channel as Channel).handle;
    if (restart) target.control(Op.Restart, handle, serializeError(this.lastError), this.spawnFrame());
    else target.control(Op.Spawn, this.spawnFrame());
    await started;
    return undefined;
  }

  started(): void {
    this.remoteExists = true;
    const w = this.waiting;
    this.waiting = undefined;
    w?.resolve();
  }

  failed(error: unknown): void {
    this.lastError = error;
    const w = this.waiting;
    if (w !== undefined) {
      this.waiting = undefined;
      w.reject(error);
      return;
    }
    this.cell.fail(error, undefined);
  }

  /** The parent resumed the proxy: resume the real actor too. */
  resumed(): void {
    if (this.link?.isOpen && this.channel !== undefined) this.link.control(Op.Resume, this.channel.handle);
  }

  linkClosed(error: Error): void {
    this.lastError = error;
    this.remoteExists = false;
    this.channel = undefined;
    const s = this.stopWaiter;
    this.stopWaiter = undefined;
    s?.();
    const w = this.waiting;
    if (w !== undefined) {
      this.waiting = undefined;
      w.reject(error);
      return;
    }
    if (this.cell.status === Status.Running) this.cell.fail(error, undefined);
  }

  /** Stop the real actor; if it is still starting, let the start settle first. */
  async stop(): Promise<void> {
    if (this.waiting !== undefined) {
      await new Promise<void>((resolve) => {
        const w = this.waiting as NonNullable<RemoteProxy['waiting']>;
        this.waiting = {
          resolve: () => {
            w.resolve();
            resolve();
          },
          reject: (e) => {
            w.reject(e);
            resolve();
          },
        };
      });
    }
    return this.stopRemote();
  }

  private stopRemote(): Promise<void> {
    const link = this.link;
    const channel = this.channel;
    if (link === undefined || !link.isOpen || channel === undefined) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.stopWaiter = () => {
        link.detachProxy(channel);
        resolve();
      };
      link.control(Op.Stop, channel.handle);
    });
  }

  stopped(): void {
    const s = this.stopWaiter;
    this.stopWaiter = undefined;
    s?.();
  }

  /** Whether a message may skip the proxy's mailbox: nothing queued ahead of it, and credit to send it. */
  canSendDirect(): boolean {
    const cell = this.cell;
    if (cell.status !== Status.Running || cell.mailboxSize !== 0 || cell.isProcessing) return false;
    const channel = this.channel;
    if (channel === undefined || channel.credit <= 0) return false;
    const sys = cell.system;
    return sys.intakeOpen || sys.currentCell !== undefined;
  }

  /** Fast path for a tell: straight to the link when nothing is queued ahead of it and there is credit. */
  tryDirect(message: unknown): boolean {
    if (!this.canSendDirect()) return false;
    (this.link as Link).tell(this.channel as Channel, message);
    return true;
  }

  /** The fast path of an ask (see {@link canSendDirect}): the reply address goes with it over the link. */
  readonly sendAsk = (message: unknown, record: ReplyTarget): void => {
    (this.link as Link).ask(this.channel as Channel, message, record, this.cell.path);
  };
}

/** The ref of a hosted actor: checks and encodes messages at the sender, then behaves like any local ref. @internal */
export class ProxyRef<M extends Message = Message> extends LocalActorRef<M> {
  constructor(
    cell: ActorCell,
    private readonly proxy: RemoteProxy,
  ) {
    super(cell);
  }

  private encoded(message: unknown, transfer: readonly unknown[] | undefined): unknown {
    const provider = this.cell.system.provider;
    const encoded = provider.encode(message, this.cell.path);
    return outbound(encoded, provider.swapped, transfer);
  }

  override tell(message: M, options?: TellOptions): void {
    const encoded = this.encoded(message, options?.transfer);
    if (!this.proxy.tryDirect(encoded)) this.cell.enqueue(encoded, undefined);
  }

  override send(message: M, options?: TellOptions): Promise<void> {
    let encoded: unknown;
    try {
      encoded = this.encoded(message, options?.transfer);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.cell.send(encoded);
  }

  override ask<R = unknown>(message: M, options?: AskOptions): Promise<R> {
    let encoded: unknown;
    try {
      encoded = this.encoded(message, options?.transfer);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.cell.ask<R>(encoded, options, this.proxy.canSendDirect() ? this.proxy.sendAsk : undefined);
  }

  override deliver(message: unknown, env: ReplyTarget | undefined): void {
    let encoded: unknown;
    try {
      encoded = this.encoded(message, undefined);
    } catch (e) {
      if (env === undefined) throw e;
      env.reject(e);
      return;
    }
    this.cell.enqueue(encoded, env);
  }
}

/**
 * Build the proxy cell of an actor hosted at `site`, under `parent`.
 * `where` names the call in errors (e.g. `spawnWorker`).
 * @internal
 */
export function spawnProxy(
  parent: ActorCell,
  site: HostSite,
  spec: WorkerActorSpec,
  options: SpawnOptions<unknown> | undefined,
  where: string,
): { cell: ActorCell; ref: ProxyRef } {
  if (
    spec === null ||
    typeof spec !== 'object' ||
    typeof spec.module !== 'string' ||
    typeof spec.exportName !== 'string'
  ) {
    throw new TypeError(
      `${where} under [${parent.path}]: expected workerActor(moduleUrl, exportName), got ${String(spec)}`,
    );
  }
  // The input is a message on the wire, taken at the call exactly as a tell is:
  // checked (an unserialisable input throws here, nothing spawned), refs swapped
  // for markers, and snapshotted, so what the caller does to its object
  // afterwards (PSI zeroes its key) cannot change what the far side gets, now
  // or at a restart. The snapshot is the proxy's own copy; its binary data is
  // zeroed when the proxy stops for good.
  const input = options?.input;
  const wireInput =
    input === undefined
      ? undefined
      : structuredClone(
          parent.system.provider.encode(input, `${parent.path}/${options?.name ?? spec.exportName}`, 'input'),
        );
  const proxy = new RemoteProxy(site, spec, wireInput);
  resolveMailboxOptions(options?.mailbox, `${where} ${spec.exportName}`);
  let cell: ActorCell;
  try {
    cell = parent.spawnChild(proxy.definition(), options, (c) => {
      proxy.cell = c;
      c.remote = proxy;
      return new ProxyRef(c, proxy);
    });
  } catch (error) {
    zeroBinary(wireInput);
    throw error;
  }
  cell.onTerminated(() => zeroBinary(wireInput));
  return { cell, ref: cell.ref as ProxyRef };
}

/**
 * Overwrite every byte of binary data (typed arrays, ArrayBuffers) inside `value`
 * with zeros: the proxy's snapshot of a spawn input may hold key material,
 * and nothing else references that copy.
 */
function zeroBinary(value: unknown, seen = new Set<unknown>()): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (ArrayBuffer.isView(value)) {
    // Shared memory is not a copy: it still belongs to the caller.
    if (!(value.buffer instanceof ArrayBuffer)) return;
    new Uint8Array(value.buffer, value.byteOffset, value.byteLength).fill(0);
    return;
  }
  if (value instanceof ArrayBuffer) {
    new Uint8Array(value).fill(0);
    return;
  }
  if (value instanceof Map) {
    for (const [k, v] of value) {
      zeroBinary(k, seen);
      zeroBinary(v, seen);
    }
    return;
  }
  if (value instanceof Set) {
    for (const v of value) zeroBinary(v, seen);
    return;
  }
  for (const v of Object.values(value)) zeroBinary(v, seen);
}
