import type { ActorDefinition } from '../ActorDefinition.js';
import type { Message } from '../ActorRef.js';
import { typeOf } from '../DeadLetters.js';
import { ActorNotFoundError, serializeError, WorkerActorLoadError } from '../errors.js';
import { resolveMailboxOptions } from '../Mailbox.js';
import { ActorCell } from './ActorCell.js';
import type { Link, LinkHost } from './Link.js';
import type { ReplyTarget, SystemInternals } from './SystemInternals.js';
import { Op, type SpawnFrame } from './wire.js';

/** Modules loaded by any host of this runtime, by URL (an import is paid once). */
const modules = new Map<string, Promise<Record<string, unknown>>>();

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
 * @internal
 */
export class Host implements LinkHost {
  /** Hosted actors by handle (the proxy side's numbering). */
  private readonly cells = new Map<number, ActorCell>();
  /** Messages that arrived while their actor's module was still loading. */
  private readonly early = new Map<number, unknown[]>();

  constructor(
    private readonly link: Link,
    private readonly internals: SystemInternals,
  ) {
    link.host = this;
  }

  /** The actors hosted now. */
  get hosted(): readonly ActorCell[] {
    return [...this.cells.values()];
  }

  pathOf(handle: number): string {
    return this.cells.get(handle)?.path ?? `${this.link.label} handle ${handle}`;
  }

  deliver(handle: number, message: unknown, env: ReplyTarget | undefined): ActorCell | undefined {
    const cell = this.cells.get(handle);
    if (cell !== undefined) {
      cell.enqueue(message, env);
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
    const cell = this.cells.get(handle);
    if (cell !== undefined) void cell.restart(error, 0);
    else void this.load(frame);
  }

  resume(handle: number): void {
    this.cells.get(handle)?.resume();
  }

  stop(handle: number): void {
    const cell = this.cells.get(handle);
    if (cell === undefined) {
      this.link.control(Op.Stopped, handle);
      return;
    }
    void cell.stop().then(() => {
      this.cells.delete(handle);
      this.link.control(Op.Stopped, handle);
    });
  }

  /** Nobody on the far side supervises these actors any more: stop them. */
  linkClosed(): void {
    for (const cell of this.cells.values()) void cell.stop({ kind: 'stopped' });
    this.cells.clear();
    this.early.clear();
  }

  private async load(frame: SpawnFrame): Promise<void> {
    const { handle } = frame;
    this.early.set(handle, this.early.get(handle) ?? []);
    let def: ActorDefinition<Message, unknown, unknown>;
    try {
      def = await loadDefinition(frame.module, frame.exportName);
    } catch (error) {
      this.early.delete(handle);
      this.link.control(Op.Failed, handle, serializeError(error));
      return;
    }
    const link = this.link;
    const provider = this.internals.provider;
    const cell = new ActorCell(
      this.internals,
      def,
      undefined,
      // Refs in the input were swapped for markers at the sender, like any message's.
      provider.decode(frame.input),
      this.internals.defaultStrategy,
      frame.name,
      resolveMailboxOptions(def.mailbox, frame.path),
      undefined,
      frame.path,
    );
    cell.hosted = {
      running: () => link.control(Op.Started, handle),
      failed: (error) => link.control(Op.Failed, handle, serializeError(error)),
    };
    this.cells.set(handle, cell);
    provider.registerHosted(cell, frame.self);
    const queued = this.early.get(handle) ?? [];
    this.early.delete(handle);
    for (let i = 0; i < queued.length; i += 2) cell.enqueue(queued[i], queued[i + 1] as ReplyTarget | undefined);
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
