/**
 * The cluster's registry of names, on a NATS KV bucket (`troupe-<cluster>`):
 * `register(name, ref)`, `lookup(name)`, `watch(name)`.
 *
 * A value is a serialised ref, `{ cluster, node, incarnation, path }`. An entry
 * belongs to the incarnation in its ref: it is removed when that incarnation
 * leaves (by the node itself, during `leave`) or is declared dead (by every
 * surviving node that notices, with a revision check so a newer registration
 * under the same name is never removed by mistake). An entry whose owner is
 * already dead when it is looked up counts as absent and is removed then.
 * Cleanup scans the bucket's keys: fine for the hundreds of names a cluster
 * registers, not meant as a general database.
 */
import type { KV, KvEntry } from '@nats-io/kv';
import { NameTakenError } from './errors.js';

/** A ref as it crosses the network. */
export interface RemoteAddress {
  cluster: string;
  node: string;
  /** 16 hex digits: the node's incarnation (one process start). */
  incarnation: string;
  /** The actor's path on that node. */
  path: string;
}

/** Is the owner of an entry alive, as far as this node knows? */
export type Liveness = 'alive' | 'dead' | 'unknown';

/** @internal What the registry asks its node. */
export interface RegistryDeps {
  cluster: string;
  /** The liveness of an incarnation of `node`; 'unknown' means no heartbeat seen (yet). */
  liveness: (incarnation: string, node: string) => Liveness;
  /** True once this node has been joined long enough that an unknown owner must be dead. */
  settled: () => boolean;
  /** Resolves when `incarnation` is heard from, or once {@link settled} (whichever comes first). */
  heard: (incarnation: string) => Promise<unknown>;
  warn: (message: string, fields: Record<string, unknown>) => void;
}

const KEY = /^[-/_=a-zA-Z0-9]+(\.[-/_=a-zA-Z0-9]+)*$/;

function checkKey(name: unknown): string {
  if (typeof name !== 'string' || name.length > 256 || !KEY.test(name))
    throw new TypeError(
      `registry name must be 1-256 characters of [-/_=.a-zA-Z0-9], not starting or ending with a dot, got ${JSON.stringify(name)}`,
    );
  return name;
}

function checkAddress(ref: RemoteAddress, cluster: string): RemoteAddress {
  if (ref === null || typeof ref !== 'object') throw new TypeError('ref must be { cluster, node, incarnation, path }');
  const { node, incarnation, path } = ref;
  if (ref.cluster !== cluster)
    throw new TypeError(`ref.cluster is ${JSON.stringify(ref.cluster)}, not this cluster (${cluster})`);
  if (typeof node !== 'string' || node === '') throw new TypeError('ref.node must be a node name');
  if (typeof incarnation !== 'string' || !/^[0-9a-f]{16}$/.test(incarnation))
    throw new TypeError(`ref.incarnation must be 16 hex digits, got ${JSON.stringify(incarnation)}`);
  if (typeof path !== 'string' || path === '') throw new TypeError('ref.path must be an actor path');
  return { cluster, node, incarnation, path };
}

/** Read an entry's value; undefined for deletes and for values that are not refs (logged). */
function parse(entry: KvEntry | null, warn: RegistryDeps['warn']): RemoteAddress | undefined {
  if (entry === null || entry.operation !== 'PUT') return undefined;
  try {
    const v = entry.json<{ ref?: RemoteAddress }>();
    const ref = v?.ref;
    if (ref && typeof ref.incarnation === 'string' && typeof ref.node === 'string' && typeof ref.path === 'string')
      return { cluster: ref.cluster, node: ref.node, incarnation: ref.incarnation, path: ref.path };
  } catch {
    // fall through
  }
  warn('remote: registry entry is not a ref; ignored', { key: entry.key, revision: entry.revision });
  return undefined;
}

export class Registry {
  private readonly watches = new Set<{ stop(): void }>();

  /** @internal Opened by the node at join. */
  constructor(
    private readonly kv: KV,
    private readonly deps: RegistryDeps,
  ) {}

  /**
   * Register `name` for `ref`. Fails with {@link NameTakenError} when a live
   * owner holds the name (unless `replace`); a dead owner's entry is replaced.
   * An owner this node has not heard of yet (it joined a moment ago) is waited
   * for, at most until this node has been joined long enough to know.
   */
  async register(name: string, ref: RemoteAddress, options: { replace?: boolean } = {}): Promise<void> {
    const key = checkKey(name);
    const value = JSON.stringify({ ref: checkAddress(ref, this.deps.cluster) });
    if (options.replace === true) {
      await this.kv.put(key, value);
      return;
    }
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = await this.kv.get(key);
      const held = parse(current, this.deps.warn);
      if (held === undefined || current === null) {
        try {
          // create() succeeds on a missing or deleted key, atomically.
          await this.kv.create(key, value);
          return;
        } catch (e) {
          if (!isWrongSequence(e)) throw e;
          continue;
        }
      }
      if (held.incarnation === ref.incarnation && held.path === ref.path) return;
      if (this.deps.liveness(held.incarnation, held.node) === 'unknown' && !this.deps.settled()) {
        // This node joined too recently to know whether the holder lives: wait until it is heard or must be
        // dead, then look again (refusing now would refuse a name whose owner crashed a moment ago).
        await this.deps.heard(held.incarnation);
        attempt--;
        continue;
      }
      if (this.ownerGone(held)) {
        try {
          await this.kv.update(key, value, current.revision);
          return;
        } catch (e) {
          if (!isWrongSequence(e)) throw e;
          continue;
        }
      }
      throw new NameTakenError(name, `${held.path} on node ${held.node} (incarnation ${held.incarnation})`);
    }
    throw new Error(`registry: register("${name}") kept racing with other writers; try again`);
  }

  /** Remove `name` (only if it still names `ref`, when given). Returns whether an entry was removed. */
  async unregister(name: string, ref?: RemoteAddress): Promise<boolean> {
    const key = checkKey(name);
    const current = await this.kv.get(key);
    const held = parse(current, this.deps.warn);
    if (held === undefined || current === null) return false;
    if (ref !== undefined && (held.incarnation !== ref.incarnation || held.path !== ref.path)) return false;
    return this.deleteIf(key, current.revision);
  }

  /** The ref registered under `name`, or undefined (also when its owner is dead; the entry is then removed). */
  async lookup(name: string): Promise<RemoteAddress | undefined> {
    const key = checkKey(name);
    const current = await this.kv.get(key);
    const held = parse(current, this.deps.warn);
    if (held === undefined || current === null) return undefined;
    if (this.ownerGone(held)) {
      await this.deleteIf(key, current.revision);
      return undefined;
    }
    return held;
  }

  /**
   * Call `listener` with the current ref for `name` and again on every change
   * (`undefined` when it is removed). Returns a function that stops watching.
   */
  watch(name: string, listener: (ref: RemoteAddress | undefined) => void): () => void {
    const key = checkKey(name);
    let stopped = false;
    let iterator: { stop(): void } | undefined;
    const handle = {
      stop: () => {
        stopped = true;
        iterator?.stop();
        this.watches.delete(handle);
      },
    };
    this.watches.add(handle);
    void (async () => {
      try {
        const it = await this.kv.watch({ key });
        iterator = it;
        if (stopped) it.stop();
        let sawAny = false;
        // An empty key yields nothing at first: tell the listener "absent" once.
        const initial = setTimeout(() => {
          if (!sawAny && !stopped) listener(undefined);
        }, 50);
        for await (const entry of it) {
          sawAny = true;
          clearTimeout(initial);
          if (stopped) break;
          listener(parse(entry, this.deps.warn));
        }
        clearTimeout(initial);
      } catch (e) {
        if (!stopped) this.deps.warn('remote: registry watch ended', { name, error: e });
      }
    })();
    return handle.stop;
  }

  /** @internal Remove every entry owned by `incarnation`. Returns how many were removed. */
  async removeOwnedBy(incarnation: string): Promise<number> {
    let removed = 0;
    for (const key of await this.keys()) {
      const current = await this.kv.get(key);
      const held = parse(current, this.deps.warn);
      if (held !== undefined && current !== null && held.incarnation === incarnation)
        if (await this.deleteIf(key, current.revision)) removed++;
    }
    return removed;
  }

  /** @internal Remove every entry whose owner is dead (or never heard from since this node settled). */
  async sweep(): Promise<number> {
    let removed = 0;
    for (const key of await this.keys()) {
      const current = await this.kv.get(key);
      const held = parse(current, this.deps.warn);
      if (held !== undefined && current !== null && this.ownerGone(held))
        if (await this.deleteIf(key, current.revision)) removed++;
    }
    return removed;
  }

  /** @internal Stop all watches. */
  close(): void {
    for (const w of [...this.watches]) w.stop();
  }

  private ownerGone(owner: RemoteAddress): boolean {
    const l = this.deps.liveness(owner.incarnation, owner.node);
    return l === 'dead' || (l === 'unknown' && this.deps.settled());
  }

  private async keys(): Promise<string[]> {
    const out: string[] = [];
    for await (const k of await this.kv.keys()) out.push(k);
    return out;
  }

  private async deleteIf(key: string, revision: number): Promise<boolean> {
    try {
      await this.kv.delete(key, { previousSeq: revision });
      return true;
    } catch (e) {
      if (isWrongSequence(e)) return false; // someone else removed or replaced it first
      throw e;
    }
  }
}

function isWrongSequence(e: unknown): boolean {
  return e instanceof Error && /wrong last sequence|key exists/i.test(e.message);
}
