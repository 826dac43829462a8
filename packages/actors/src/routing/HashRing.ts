/**
 * A consistent-hash ring with virtual nodes.
 *
 * Each node (a pool slot) is placed on a 32-bit ring at `virtualNodes` points;
 * a key belongs to the first point at or after its own hash, wrapping around.
 * Adding a node only takes keys *to* the new node and removing one only moves
 * *its* keys, so resizing a pool from n to n+1 moves about 1/(n+1) of the keys
 * (a `hash mod n` scheme would move almost all of them). Many virtual nodes per
 * slot keep the shares even: with 100 points the spread is a few percent.
 *
 * Nodes are identified by their slot number, not by the routee's ref, so a
 * routee that is replaced in the same slot keeps its keys.
 */
export class HashRing {
  /** Ring positions, ascending. */
  private readonly points: Uint32Array;
  /** `owners[i]` is the slot owning `points[i]`. */
  private readonly owners: Int32Array;

  constructor(slots: readonly number[], virtualNodes: number) {
    const entries: [number, number][] = [];
    for (const slot of slots) {
      for (let v = 0; v < virtualNodes; v++) entries.push([hash32(`${slot}:${v}`), slot]);
    }
    // Ties (vanishingly rare) are broken by slot so the ring does not depend on insertion order.
    entries.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    this.points = Uint32Array.from(entries, (e) => e[0]);
    this.owners = Int32Array.from(entries, (e) => e[1]);
  }

  /** The slot owning `key`, or -1 for an empty ring. */
  slotOf(key: string): number {
    const n = this.points.length;
    if (n === 0) return -1;
    const h = hash32(key);
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.points[mid] as number) < h) lo = mid + 1;
      else hi = mid;
    }
    return this.owners[lo === n ? 0 : lo] as number;
  }
}

/**
 * FNV-1a over the string's UTF-16 code units, then MurmurHash3's 32-bit
 * finaliser: FNV alone clusters short, similar keys (`user-1`, `user-2`),
 * which would bunch virtual nodes together on the ring.
 */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
