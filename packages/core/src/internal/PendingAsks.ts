/**
 * Asks sent over a link and waiting for their replies, by reply id.
 *
 * A link hands out reply ids in sequence, so a ring indexed by id holds the
 * asks in flight with no hashing and no table rebuilds: a `Map` with a
 * thousand asks in flight rebuilt its table about every thousand asks (a
 * tenth of what an ask allocated on the main thread). An id whose slot is
 * still taken by an older ask (one that waits far longer than the rest) goes
 * to a `Map` beside the ring, so one slow ask never makes the ring grow.
 * @internal
 */
export class PendingAsks<T> {
  private ids: Float64Array;
  private slots: (T | undefined)[];
  private mask: number;
  /** Entries in the ring. */
  private inRing = 0;
  private readonly overflow = new Map<number, T>();

  constructor(capacity = 1024) {
    const size = 2 ** Math.ceil(Math.log2(Math.max(2, capacity)));
    this.ids = new Float64Array(size);
    this.slots = new Array<T | undefined>(size).fill(undefined);
    this.mask = size - 1;
  }

  get size(): number {
    return this.inRing + this.overflow.size;
  }

  /** Add the ask `id` (ids are integers; each is added once). */
  set(id: number, value: T): void {
    // `&` takes the id modulo 2^32, and the ring's size divides 2^32.
    let i = id & this.mask;
    if (this.slots[i] !== undefined && this.inRing * 2 >= this.slots.length && this.slots.length < MAX_RING) {
      this.grow();
      i = id & this.mask;
    }
    if (this.slots[i] === undefined) {
      this.slots[i] = value;
      this.ids[i] = id;
      this.inRing++;
    } else {
      this.overflow.set(id, value);
    }
  }

  /** Remove and return the ask `id`, if it is here. */
  take(id: number): T | undefined {
    const i = id & this.mask;
    const value = this.slots[i];
    if (value !== undefined && this.ids[i] === id) {
      this.slots[i] = undefined;
      this.inRing--;
      return value;
    }
    if (this.overflow.size === 0) return undefined;
    const other = this.overflow.get(id);
    if (other !== undefined) this.overflow.delete(id);
    return other;
  }

  /** Remove and return every ask (the link went down or closed). */
  drain(): T[] {
    const all: T[] = [];
    const slots = this.slots;
    if (this.inRing > 0) {
      for (let i = 0; i < slots.length; i++) {
        const value = slots[i];
        if (value !== undefined) {
          all.push(value);
          slots[i] = undefined;
        }
      }
      this.inRing = 0;
    }
    for (const value of this.overflow.values()) all.push(value);
    this.overflow.clear();
    return all;
  }

  private grow(): void {
    const oldIds = this.ids;
    const oldSlots = this.slots;
    const size = oldSlots.length * 2;
    this.ids = new Float64Array(size);
    this.slots = new Array<T | undefined>(size).fill(undefined);
    this.mask = size - 1;
    this.inRing = 0;
    for (let k = 0; k < oldSlots.length; k++) {
      const value = oldSlots[k];
      if (value === undefined) continue;
      const id = oldIds[k] as number;
      const i = id & this.mask;
      if (this.slots[i] === undefined) {
        this.slots[i] = value;
        this.ids[i] = id;
        this.inRing++;
      } else {
        this.overflow.set(id, value);
      }
    }
  }
}

/** The ring stops growing here; beyond it, colliding asks wait in the overflow map. */
const MAX_RING = 1 << 16;
