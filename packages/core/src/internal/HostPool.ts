import { availableParallelism } from 'node:os';
import { WorkerExitedError } from '../errors.js';
import type { TransportClosed } from '../Transport.js';
import type { Placement, WorkerPoolOptions } from '../WorkerActor.js';
import type { ActorCell } from './ActorCell.js';
import { Link, type LinkPolicy } from './Link.js';
import type { HostSite } from './RemoteProxy.js';
import type { SystemInternals } from './SystemInternals.js';
import { WorkerTransport } from './WorkerTransport.js';

/** One host thread: its transport and the link over it. @internal */
export interface WorkerHost {
  readonly index: number;
  readonly transport: WorkerTransport;
  readonly link: Link;
}

/** The worker link names its failures after the thread: `WorkerExitedError`, with exit code and cause. */
function workerPolicy(transport: WorkerTransport): LinkPolicy {
  const exited = (target: string) =>
    new WorkerExitedError(target, transport.threadId, transport.exitCode, transport.exitCause);
  return {
    closedError: (target: string, _type: string, _closed: TransportClosed) => exited(target),
    notDeliveredError: (target: string) => exited(target),
    disconnectedError: (target: string) => exited(target),
    lostReason: 'worker-exited',
  };
}

/**
 * The host threads of a system (main thread side). Threads start lazily, one
 * per slot; a slot whose thread died gets a fresh one the next time an actor
 * is placed there (which happens only through a supervised restart, so a
 * thread that keeps dying is bounded by the restart limits).
 * @internal
 */
export class HostPool {
  readonly size: number;
  private readonly hosts: (WorkerHost | undefined)[];

  constructor(
    readonly internals: SystemInternals,
    /** Counts as the sender of messages arriving from workers. */
    readonly runtimeCell: ActorCell,
    private readonly options: WorkerPoolOptions,
  ) {
    const size = options.size ?? availableParallelism();
    if (!Number.isInteger(size) || size < 1) {
      throw new TypeError(`workers.size must be a positive integer, got ${size}`);
    }
    this.size = size;
    this.hosts = new Array(size).fill(undefined);
  }

  /**
   * Where a new worker actor goes: the host named, or the least loaded one at
   * its first start; its restarts stay on that slot. Throws a TypeError naming
   * `where` for a placement that is not a host of this pool.
   */
  site(placement: Placement | undefined, where: string): HostSite {
    if (placement !== undefined && placement !== 'least-loaded') {
      if (typeof placement !== 'number' || !Number.isInteger(placement) || placement < 0 || placement >= this.size) {
        throw new TypeError(
          `${where}: host must be 'least-loaded' or an index in [0, ${this.size - 1}], got ${String(placement)}`,
        );
      }
    }
    let slot = typeof placement === 'number' ? placement : undefined;
    return {
      label: 'worker host',
      acquire: () => {
        slot ??= this.leastLoaded();
        return this.start(slot).link;
      },
    };
  }

  private leastLoaded(): number {
    let index = 0;
    let best = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.size; i++) {
      const load = this.hosts[i]?.link.load ?? 0;
      if (load < best) {
        best = load;
        index = i;
      }
    }
    return index;
  }

  /** The live host of `index`, started if needed. */
  private start(index: number): WorkerHost {
    const live = this.hosts[index];
    if (live?.link.isOpen) return live;
    const limits = this.options.hosts?.[index]?.resourceLimits ?? this.options.resourceLimits;
    const internals = this.internals;
    const transport = new WorkerTransport(index, internals.provider.address, internals.askTimeoutMs, limits);
    const link = new Link(transport, this.internals, workerPolicy(transport), this.runtimeCell);
    const host: WorkerHost = { index, transport, link };
    this.hosts[index] = host;
    link.onClose(() => {
      if (this.hosts[index] === host) this.hosts[index] = undefined;
    });
    return host;
  }

  /**
   * The host of slot `index` as it is now: its thread's transport and link,
   * or undefined when the slot has no thread (never started, or its thread
   * exited and no actor has been placed there since). For introspection.
   * @internal
   */
  slot(index: number): WorkerHost | undefined {
    return this.hosts[index];
  }

  /** Number of live host threads. */
  get liveThreads(): number {
    return this.hosts.filter((h) => h?.link.isOpen).length;
  }

  /** Terminate every host thread; resolves when all have exited. */
  async terminateAll(): Promise<void> {
    await Promise.all(
      this.hosts.map((h) => {
        if (h === undefined) return undefined;
        h.transport.close();
        return h.transport.exited;
      }),
    );
  }
}
