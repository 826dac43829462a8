import type { Timers } from '../ActorContext.js';
import type { Message } from '../ActorRef.js';
import { type ActorCell, Status } from './ActorCell.js';

/**
 * `ctx.timers`: an actor's keyed timers, made on first use (most actors have
 * none). Each fire is a message to self; every timer is cancelled when the
 * actor stops, restarts or fails. Methods on a prototype, not closures per
 * actor.
 * @internal
 */
export class CellTimers implements Timers<Message> {
  private readonly handles = new Map<string, unknown>();
  constructor(private readonly cell: ActorCell) {}

  once(key: string, delayMs: number, message: Message): void {
    this.start(key, delayMs, message, false);
  }

  interval(key: string, everyMs: number, message: Message): void {
    if (!(everyMs > 0)) {
      throw new TypeError(`timer ${key} in [${this.cell.path}]: interval must be positive, got ${everyMs}`);
    }
    this.start(key, everyMs, message, true);
  }

  cancel(key: string): void {
    const handle = this.handles.get(key);
    if (handle !== undefined) {
      this.cell.system.clock.clearTimeout(handle);
      this.handles.delete(key);
    }
  }

  isActive(key: string): boolean {
    return this.handles.has(key);
  }

  cancelAll(): void {
    if (this.handles.size === 0) return;
    const clock = this.cell.system.clock;
    for (const h of this.handles.values()) clock.clearTimeout(h);
    this.handles.clear();
  }

  private start(key: string, delayMs: number, message: unknown, repeat: boolean): void {
    const cell = this.cell;
    if (!(delayMs >= 0) || !Number.isFinite(delayMs)) {
      throw new TypeError(`timer ${key} in [${cell.path}]: delay must be a non-negative finite number, got ${delayMs}`);
    }
    if (cell.status >= Status.Stopping) return;
    this.cancel(key);
    const clock = cell.system.clock;
    const handles = this.handles;
    const fire = () => {
      if (repeat) handles.set(key, clock.setTimeout(fire, delayMs));
      else handles.delete(key);
      cell.selfDeliver(message);
    };
    handles.set(key, clock.setTimeout(fire, delayMs));
  }
}
