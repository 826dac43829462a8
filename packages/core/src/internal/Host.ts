import type { ActorDefinition } from '../ActorDefinition.js';
import type { Message } from '../ActorRef.js';
import { typeOf } from '../DeadLetters.js';
import { ActorNotFoundError, describe, serializeError, WorkerActorLoadError } from '../errors.js';
import { resolveMailboxOptions } from '../Mailbox.js';
import { ActorCell } from './ActorCell.js';
import type { HostedCount, Link, LinkHost } from './Link.js';
import type { ReplyTarget, SystemInternals } from './SystemInternals.js';
import { Op, type SpawnFrame } from './wire.js';

/**
 * How a host finds the definition a spawn frame names (module and export):
 * by default it imports the module; a host serving other nodes is given a
 * loader of definitions registered by name instead (no code loading on a
 * peer's request).
 * @internal
 */
export type DefinitionLoader = (
  module: string,
  exportName: string,
) => Promise<ActorDefinition<Message, unknown, unknown>>;

/** Modules loaded by any host of this runtime, by URL (an import is paid once). */
const modules = new Map<string, Promise<Record<string, unknown>>>();

/** One hosted actor and the flow-control bookkeeping of its channel. */
interface Hosted {
  readonly cell: ActorCell;
  readonly handle: number;
  /** Messages that arrived over the link for it. */
  delivered: number;
  /** Messages reported taken so far (granted back as credit). */
  reported: number;
  /** Credit granted so far (the window, then what was taken). */
  granted: number;
  /** Report at least every this many taken messages while it is busy. */
  readonly threshold: number;
  /** What the last report said about its having work. */
  busyReported: boolean;
}

/**
 * The hosting side of a link: runs actors that proxies on the far side asked
 * for, each a real {@link ActorCell} (own mailbox, children, timers,
 * supervision of its children) whose supervisor is its proxy. A host loads
 * the definition by module URL and export name, since functions cannot
 * cross; it reports `Started` / `Failed` / `Stopped` back, and obeys
 * `Restart` / `Resume` / `Stop` from the proxy.
 *
 * The same host runs inside a worker thread (over the thread's port) and, for
 * remote deployment, on another node (over its network link).
 *
 * Flow control: the host grants each proxy a window of credit when its actor
 * starts (the smaller of the proxy's window and the actor's own mailbox
 * capacity), then grants back as the actor takes messages, reporting what it
 * took (so the proxy side can forget those tells) and whether it still has
 * work (so the proxy side's drain can wait for it). Taken is counted as
 * "arrived over the link minus still queued": an actor's own timers and
 * thread-local senders only make it report later, never too much.
 * @internal
 */
export class Host implements LinkHost {
  /** Hosted actors by handle (the proxy side's numbering). */
  private readonly cells = new Map<number, Hosted>();
  /** Messages that arrived while their actor's module was still loading. */
  private readonly early = new Map<number, unknown[]>();

  constructor(
    private readonly link: Link,
    private readonly internals: SystemInternals,
    private readonly loader: DefinitionLoader = loadDefinition,
  ) {
    link.host = this;
  }

  /** The actors hosted now. */
  get hosted(): readonly ActorCell[] {
    return [...this.cells.values()].map((h) => h.cell);
  }

  pathOf(handle: number): string {
    return this.cells.get(handle)?.cell.path ?? `${this.link.label} handle ${handle}`;
  }

  recount(handle: number): HostedCount | undefined {
    const hosted = this.cells.get(handle);
    const early = this.early.get(handle);
    if (hosted === undefined && early === undefined) return undefined;
    return {
      received: (hosted?.delivered ?? 0) + (early === undefined ? 0 : early.length / 2),
      reported: hosted?.reported ?? 0,
      granted: hosted?.granted ?? 0,
      busy: hosted?.busyReported === true,
    };
  }

  deliver(handle: number, message: unknown, env: ReplyTarget | undefined): ActorCell | undefined {
    const hosted = this.cells.get(handle);
    if (hosted !== undefined) {
      hosted.delivered++;
      const cell = hosted.cell;
      try {
        cell.enqueue(message, env);
      } catch (e) {
        // A full `reject` mailbox refuses a tell by throwing; the sender is on the far side.
        this.internals.deadLetters.record(cell.path, message, 'mailbox-full');
        this.internals.logger.warn(`tell to ${cell.path} over ${this.link.label} refused: ${describe(e)}`);
      }
      return cell;
    }
    const pending = this.early.get(handle);
    if (pending !== undefined) {
      pending.push(message, env);
      return undefined;
    }
    const path = `${this.link.label} handle ${handle}`;
    this.internals.deadLetters.record(path, message, 'actor-stopped');
    env?.reject(new ActorNotFoundError(path, typeOf(message)));
    return undefined;
  }

  spawn(frame: SpawnFrame): void {
    void this.load(frame);
  }

  restart(handle: number, error: unknown, frame: SpawnFrame): void {
    const hosted = this.cells.get(handle);
    if (hosted !== undefined) void hosted.cell.restart(error, 0);
    else void this.load(frame);
  }

  resume(handle: number): void {
    this.cells.get(handle)?.cell.resume();
  }

  hold(handle: number, on: boolean): void {
    const cell = this.cells.get(handle)?.cell;
    if (on) cell?.hold();
    else cell?.release();
  }

  stop(handle: number): void {
    const hosted = this.cells.get(handle);
    if (hosted === undefined) {
      this.link.control(Op.Stopped, handle);
      return;
    }
    void hosted.cell.stop().then(() => {
      this.cells.delete(handle);
      this.link.control(Op.Stopped, handle);
    });
  }

  /** Nobody on the far side supervises these actors any more: stop them. */
  linkClosed(): void {
    for (const hosted of this.cells.values()) void hosted.cell.stop({ kind: 'stopped' });
    this.cells.clear();
    this.early.clear();
  }

  /** The actor took messages or went idle: grant credit back and say whether it still has work. */
  private progress(hosted: Hosted): void {
    const cell = hosted.cell;
    const queued = cell.mailboxSize;
    const delta = hosted.delivered - queued - hosted.reported;
    const busy = queued > 0 || cell.isProcessing;
    if (delta >= hosted.threshold || busy !== hosted.busyReported || (delta > 0 && !busy)) {
      const taken = Math.max(delta, 0);
      hosted.reported += taken;
      hosted.granted += taken;
      hosted.busyReported = busy;
      this.link.credit(hosted.handle, taken, taken, busy ? 1 : 0);
    }
  }

  private async load(frame: SpawnFrame): Promise<void> {
    const { handle } = frame;
    this.early.set(handle, this.early.get(handle) ?? []);
    let def: ActorDefinition<Message, unknown, unknown>;
    try {
      def = await this.loader(frame.module, frame.exportName);
    } catch (error) {
      this.early.delete(handle);
      this.link.control(Op.Failed, handle, serializeError(error));
      return;
    }
    const link = this.link;
    const provider = this.internals.provider;
    const mailbox = resolveMailboxOptions(def.mailbox, frame.path);
    const cell = new ActorCell(
      this.internals,
      def,
      undefined,
      // Refs in the input were swapped for markers at the sender, like any message's.
      provider.decode(frame.input),
      this.internals.defaultStrategy,
      frame.name,
      mailbox,
      undefined,
      frame.path,
    );
    const window = Math.max(1, Math.min(frame.window, mailbox.capacity));
    const hosted: Hosted = {
      cell,
      handle,
      delivered: 0,
      reported: 0,
      granted: window,
      threshold: Math.max(1, window >> 2),
      busyReported: false,
    };
    cell.hosted = {
      running: () => link.control(Op.Started, handle),
      failed: (error) => link.control(Op.Failed, handle, serializeError(error)),
      progress: () => this.progress(hosted),
    };
    this.cells.set(handle, hosted);
    provider.registerHosted(cell, frame.self);
    // The window: how much the proxy may send before the actor has taken anything.
    link.credit(handle, window, 0, 0);
    const queued = this.early.get(handle) ?? [];
    this.early.delete(handle);
    for (let i = 0; i < queued.length; i += 2) {
      hosted.delivered++;
      cell.enqueue(queued[i], queued[i + 1] as ReplyTarget | undefined);
    }
    cell.start();
  }
}

/** Import `module` (once) and check that `exportName` is an actor definition. */
async function loadDefinition(module: string, exportName: string): Promise<ActorDefinition<Message, unknown, unknown>> {
  let mod = modules.get(module);
  if (mod === undefined) {
    mod = import(module) as Promise<Record<string, unknown>>;
    modules.set(module, mod);
  }
  const loaded = await mod.catch((e) => {
    modules.delete(module);
    throw new WorkerActorLoadError(module, exportName, `import failed: ${String(e)}`, e);
  });
  const candidate = loaded[exportName] as ActorDefinition<Message, unknown, unknown> | undefined;
  if (candidate === undefined) {
    const names = Object.keys(loaded).join(', ') || 'none';
    throw new WorkerActorLoadError(module, exportName, `no such export (exports: ${names})`);
  }
  if (
    typeof candidate !== 'object' ||
    typeof candidate.init !== 'function' ||
    typeof candidate.receive !== 'function'
  ) {
    throw new WorkerActorLoadError(module, exportName, 'the export is not an actor definition (defineActor(...))');
  }
  return candidate;
}
