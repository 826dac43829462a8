import type { ActorContext, Receive, Replier, Timers } from '../ActorContext.js';
import type { ActorDefinition } from '../ActorDefinition.js';
import type { ActorRef, AskOptions, Message, TellOptions } from '../ActorRef.js';
import type { ActorSystem } from '../ActorSystem.js';
import type { Logger } from '../Logger.js';
import type { SpawnOptions, WorkerSpawnOptions } from '../SpawnOptions.js';
import type { WorkerActorSpec } from '../WorkerActor.js';
import type { ActorCell } from './ActorCell.js';

/** The context handed to an actor's functions: a thin facade on its cell. @internal */
export class CellContext implements ActorContext<Message, unknown> {
  constructor(private readonly cell: ActorCell) {}
  get timers(): Timers<Message> {
    return this.cell.timers;
  }
  get self(): ActorRef<Message> {
    return this.cell.ref;
  }
  // biome-ignore lint/suspicious/noExplicitAny: parents speak any protocol
  get parent(): ActorRef<any> {
    return (this.cell.parent ?? this.cell).ref;
  }
  get system(): ActorSystem {
    const facade = this.cell.system.facade;
    if (facade === undefined) {
      throw new TypeError(
        `ctx.system in [${this.cell.path}]: this actor runs in a worker thread, and the ActorSystem lives on the main thread. ` +
          'Use refs passed by message (or as input) to reach other actors.',
      );
    }
    return facade;
  }
  get input(): unknown {
    return this.cell.input;
  }
  get log(): Logger {
    return this.cell.system.logger;
  }
  // biome-ignore lint/suspicious/noExplicitAny: any protocol
  spawn(definition: ActorDefinition<any, any, any>, options?: SpawnOptions<any>): ActorRef<any> {
    return this.cell.spawnChild(definition, options).ref;
  }
  // biome-ignore lint/suspicious/noExplicitAny: any protocol
  spawnWorker(spec: WorkerActorSpec<any, any>, options?: WorkerSpawnOptions<any>): ActorRef<any> {
    const sys = this.cell.system;
    if (sys.spawnWorker === undefined) {
      throw new TypeError(
        `ctx.spawnWorker in [${this.cell.path}]: worker actors are spawned from the main thread; ` +
          'inside a worker, spawn local children with ctx.spawn',
      );
    }
    return sys.spawnWorker(this.cell, spec, options).ref;
  }
  // biome-ignore lint/suspicious/noExplicitAny: children speak any protocol
  get children(): ActorRef<any>[] {
    return [...this.cell.children.values()].map((c) => c.ref);
  }
  // biome-ignore lint/suspicious/noExplicitAny: children speak any protocol
  child(name: string): ActorRef<any> | undefined {
    return this.cell.children.get(name)?.ref;
  }
  // biome-ignore lint/suspicious/noExplicitAny: any child
  stop(ref?: ActorRef<any>): Promise<void> {
    if (ref === undefined || ref === this.cell.ref) return this.cell.stop();
    const target = this.cell.system.provider.local(ref);
    if (target === undefined || target.parent !== this.cell) {
      throw new TypeError(
        `ctx.stop in [${this.cell.path}]: ${ref.path} is not a child; an actor may stop only itself or its children`,
      );
    }
    return target.stop();
  }
  // biome-ignore lint/suspicious/noExplicitAny: any actor
  watch(ref: ActorRef<any>): void {
    this.cell.watch(ref);
  }
  // biome-ignore lint/suspicious/noExplicitAny: any actor
  unwatch(ref: ActorRef<any>): void {
    this.cell.unwatch(ref);
  }
  reply(value: unknown): void {
    this.cell.reply(value, false);
  }
  replyError(error: unknown): void {
    this.cell.reply(error, true);
  }
  deferReply<R = unknown>(): Replier<R> {
    return this.cell.deferReply() as Replier<R>;
  }
  // biome-ignore lint/suspicious/noExplicitAny: any protocol
  tell(ref: ActorRef<any>, message: unknown, options?: TellOptions): void {
    this.cell.withCurrent(() => ref.tell(message, options));
  }
  // biome-ignore lint/suspicious/noExplicitAny: any protocol
  ask<R>(ref: ActorRef<any>, message: Message, options?: AskOptions): Promise<R> {
    return this.cell.withCurrent(() => ref.ask<R>(message, options));
  }
  // biome-ignore lint/suspicious/noExplicitAny: any protocol
  send(ref: ActorRef<any>, message: unknown, options?: TellOptions): Promise<void> {
    return this.cell.withCurrent(() => ref.send(message, options));
  }
  inFlight<T>(work: Promise<T>): Promise<T> {
    return this.cell.trackInFlight(work);
  }
  get expectsReply(): boolean {
    return this.cell.expectsReply;
  }
  // biome-ignore lint/suspicious/noExplicitAny: any protocol
  forward(ref: ActorRef<any>, message?: unknown): void {
    this.cell.forward(ref, message === undefined ? this.cell.currentMessageValue : message);
  }
  stash(): void {
    this.cell.stash();
  }
  unstashAll(): void {
    this.cell.unstashAll();
  }
  // biome-ignore lint/suspicious/noExplicitAny: behaviour of any protocol
  become(receive: Receive<any, any, any>): void {
    this.cell.become(receive);
  }
}
