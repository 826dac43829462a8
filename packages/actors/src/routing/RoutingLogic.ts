import type { ActorRef, Message } from '@troupe/core';
import { HashRing } from './HashRing.js';

/** One routee of a pool: the slot it occupies and its ref. */
export interface Routee<M extends Message = Message> {
  /**
   * A small stable number (0, 1, 2...). A replacement takes over the slot of
   * the routee it replaces, which is what keeps consistent-hash keys in place.
   */
  readonly slot: number;
  readonly ref: ActorRef<M>;
}

/** The per-pool, stateful half of a {@link RoutingLogic}: picks the routee of each message. */
export interface Router<M extends Message = Message> {
  /**
   * The index in `routees` (never empty, ordered by slot) of the routee that gets
   * `message`. `loadOf` gives a routee's queued plus in-flight messages.
   */
  select(message: M, routees: readonly Routee<M>[], loadOf: (ref: ActorRef<M>) => number): number;
  /** Called whenever the set of routees changes (start, resize, replacement). */
  routeesChanged?(routees: readonly Routee<M>[]): void;
}

/**
 * How a pool picks routees: an immutable value, shared freely between pools;
 * each pool incarnation gets its own {@link Router} from {@link RoutingLogic.createRouter}.
 * Build one with {@link roundRobin}, {@link leastLoaded}, {@link consistentHash} or {@link broadcast}.
 */
export interface RoutingLogic<M extends Message = Message> {
  /** Shown in logs and in `troupe.pool.routees` replies. */
  readonly kind: string;
  /** Deliver every message to every routee (the router is then never asked). */
  readonly broadcast: boolean;
  createRouter(): Router<M>;
}

/** The names accepted by `pool({ routing })` as shortcuts. */
export type RoutingKind = 'round-robin' | 'least-loaded' | 'consistent-hash' | 'broadcast';

/**
 * Each message to the next routee in slot order. Even spread for uniform work;
 * with one routee, the order of each sender's messages is kept.
 */
export function roundRobin<M extends Message = Message>(): RoutingLogic<M> {
  return Object.freeze({
    kind: 'round-robin',
    broadcast: false,
    createRouter: (): Router<M> => {
      let next = 0;
      return {
        select: (_message, routees) => {
          const i = next % routees.length;
          next = i + 1;
          return i;
        },
      };
    },
  });
}

/**
 * Each message to the routee with the fewest queued plus in-flight messages
 * (`system.loadOf`). Ties are broken by a rotating start, so idle routees share
 * the work instead of the first one getting all of it. Good for uneven work;
 * a restarting routee is avoided naturally since its queue grows.
 */
export function leastLoaded<M extends Message = Message>(): RoutingLogic<M> {
  return Object.freeze({
    kind: 'least-loaded',
    broadcast: false,
    createRouter: (): Router<M> => {
      let start = 0;
      return {
        select: (_message, routees, loadOf) => {
          const n = routees.length;
          const first = start % n;
          start = first + 1;
          let best = first;
          let bestLoad = Number.POSITIVE_INFINITY;
          for (let k = 0; k < n; k++) {
            const i = (first + k) % n;
            const load = loadOf((routees[i] as Routee<M>).ref);
            if (load < bestLoad) {
              best = i;
              bestLoad = load;
              if (load === 0) break;
            }
          }
          return best;
        },
      };
    },
  });
}

/** Every message to every routee. An ask is answered by whichever routee replies first. */
export function broadcast<M extends Message = Message>(): RoutingLogic<M> {
  return Object.freeze({
    kind: 'broadcast',
    broadcast: true,
    createRouter: (): Router<M> => ({ select: () => 0 }),
  });
}

/** Options of {@link consistentHash}. */
export interface ConsistentHashOptions {
  /** Points per routee on the hash ring; more spreads keys more evenly. Default 100. */
  virtualNodes?: number;
}

/**
 * Messages with equal keys go to the same routee (as long as the pool keeps its
 * size), so per-key state can live in one routee and each key's messages keep
 * their order. Resizing moves few keys: growing from n to n+1 routees moves
 * about 1/(n+1) of them, all to the new routee.
 *
 * `hashKey` must return a string (a number is converted); a message whose key
 * cannot be computed is refused (an ask rejects with the error) without failing the pool.
 *
 * @example
 * pool({ size: 4, routee: Account, routing: consistentHash((m: AccountMsg) => m.accountId) })
 */
export class ConsistentHash<M extends Message = Message> implements RoutingLogic<M> {
  readonly kind = 'consistent-hash';
  readonly broadcast = false;
  readonly virtualNodes: number;

  constructor(
    readonly hashKey: (message: M) => string | number,
    options: ConsistentHashOptions = {},
  ) {
    if (typeof hashKey !== 'function') {
      throw new TypeError(`consistentHash: hashKey must be a function (message) => string, got ${typeof hashKey}`);
    }
    const virtualNodes = options.virtualNodes ?? 100;
    if (!Number.isInteger(virtualNodes) || virtualNodes < 1 || virtualNodes > 10_000) {
      throw new TypeError(`consistentHash: virtualNodes must be an integer in [1, 10000], got ${String(virtualNodes)}`);
    }
    this.virtualNodes = virtualNodes;
    Object.freeze(this);
  }

  /** The same logic with `n` points per routee on the ring. */
  withVirtualNodes(n: number): ConsistentHash<M> {
    return new ConsistentHash(this.hashKey, { virtualNodes: n });
  }

  createRouter(): Router<M> {
    const { hashKey, virtualNodes } = this;
    let ring = new HashRing([], virtualNodes);
    let indexOfSlot = new Map<number, number>();
    return {
      routeesChanged: (routees) => {
        ring = new HashRing(
          routees.map((r) => r.slot),
          virtualNodes,
        );
        indexOfSlot = new Map(routees.map((r, i) => [r.slot, i]));
      },
      select: (message) => {
        const key = hashKey(message);
        if (typeof key !== 'string' && typeof key !== 'number') {
          throw new TypeError(
            `consistentHash: hashKey returned ${key === null ? 'null' : typeof key} for a message of type ${message.type}; it must return a string`,
          );
        }
        const index = indexOfSlot.get(ring.slotOf(String(key)));
        if (index === undefined) throw new Error('consistentHash: routeesChanged was not called before select');
        return index;
      },
    };
  }
}

/** Shorthand for `new ConsistentHash(hashKey, options)`. */
export function consistentHash<M extends Message = Message>(
  hashKey: (message: M) => string | number,
  options?: ConsistentHashOptions,
): ConsistentHash<M> {
  return new ConsistentHash(hashKey, options);
}
