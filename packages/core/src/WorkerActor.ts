import type { ResourceLimits } from 'node:worker_threads';
import type { Message } from './ActorRef.js';

/**
 * Where a worker thread finds an actor definition: a module URL and the name
 * of the export holding the `defineActor(...)` value. Functions cannot cross a
 * thread, so a worker loads the definition itself. The module may be
 * TypeScript when running from sources (tests, `tsx`) or built JavaScript.
 *
 * @example
 * // hasher.ts
 * export const Hasher = defineActor<HashMsg, undefined>({ init: () => undefined, receive: ... });
 * // main.ts
 * const hasher = system.spawnWorker(workerActor<HashMsg>(new URL('./hasher.js', import.meta.url), 'Hasher'));
 */
export interface WorkerActorSpec<M extends Message = Message, I = unknown> {
  readonly module: string;
  readonly exportName: string;
  /** Phantom: the actor's protocol. */
  readonly __protocol?: M;
  /** Phantom: the actor's input. */
  readonly __input?: I;
}

/** Name a worker actor by module URL and export. */
export function workerActor<M extends Message = Message, I = undefined>(
  module: string | URL,
  exportName: string,
): WorkerActorSpec<M, I> {
  const href = module instanceof URL ? module.href : module;
  if (typeof href !== 'string' || !/^(file|data):/.test(href)) {
    throw new TypeError(
      `workerActor: module must be a file: URL (e.g. new URL('./actor.js', import.meta.url)), got ${String(module)}`,
    );
  }
  if (typeof exportName !== 'string' || exportName.length === 0) {
    throw new TypeError(`workerActor: exportName must be a non-empty string, got ${String(exportName)}`);
  }
  return Object.freeze({ module: href, exportName });
}

/** Options of the worker host pool (`ActorSystem.start({ workers })`). */
export interface WorkerPoolOptions {
  /** Number of host threads; default `os.availableParallelism()`. Threads start lazily. */
  size?: number;
  /** Memory limits applied to every host thread (a breach ends it with `ERR_WORKER_OUT_OF_MEMORY`). */
  resourceLimits?: ResourceLimits;
  /** Per-host overrides of `resourceLimits`, by host index. */
  hosts?: ReadonlyArray<{ resourceLimits?: ResourceLimits } | undefined>;
}

/** Which host thread a worker actor goes to: an index, or the least loaded one (default). */
export type Placement = number | 'least-loaded';
