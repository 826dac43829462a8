/**
 * A hash set of 12-byte values (the compared tails of double-masked points),
 * as three 32-bit words per slot with open addressing. The values are
 * uniformly random, so their first word is already a good hash. Much cheaper
 * than a `Set` of 12-character strings: no string per item, no GC pressure.
 * @internal
 */
export class DoubleSet {
  private words: Uint32Array;
  private used: Uint8Array;
  private mask: number;
  size = 0;

  constructor(expected = 1024) {
    let cap = 1024;
    while (cap < expected * 2) cap *= 2;
    this.words = new Uint32Array(cap * 3);
    this.used = new Uint8Array(cap);
    this.mask = cap - 1;
  }

  /** Add every value of a packed `n * 12` byte array. */
  addAll(values: Uint8Array): void {
    const w = words(values);
    for (let i = 0; i < w.length; i += 3) this.add(w[i] as number, w[i + 1] as number, w[i + 2] as number);
  }

  add(a: number, b: number, c: number): void {
    if ((this.size + 1) * 2 > this.mask + 1) this.grow();
    let slot = a & this.mask;
    for (;;) {
      if (this.used[slot] === 0) {
        this.used[slot] = 1;
        const o = slot * 3;
        this.words[o] = a;
        this.words[o + 1] = b;
        this.words[o + 2] = c;
        this.size++;
        return;
      }
      const o = slot * 3;
      if (this.words[o] === a && this.words[o + 1] === b && this.words[o + 2] === c) return;
      slot = (slot + 1) & this.mask;
    }
  }

  has(a: number, b: number, c: number): boolean {
    let slot = a & this.mask;
    for (;;) {
      if (this.used[slot] === 0) return false;
      const o = slot * 3;
      if (this.words[o] === a && this.words[o + 1] === b && this.words[o + 2] === c) return true;
      slot = (slot + 1) & this.mask;
    }
  }

  private grow(): void {
    const oldWords = this.words;
    const oldUsed = this.used;
    const cap = (this.mask + 1) * 2;
    this.words = new Uint32Array(cap * 3);
    this.used = new Uint8Array(cap);
    this.mask = cap - 1;
    this.size = 0;
    for (let s = 0; s < oldUsed.length; s++) {
      if (oldUsed[s] === 1)
        this.add(oldWords[s * 3] as number, oldWords[s * 3 + 1] as number, oldWords[s * 3 + 2] as number);
    }
  }
}

/** A packed `n * 12` byte array as 32-bit words (a view when aligned, else a copy). */
export function words(values: Uint8Array): Uint32Array {
  if (values.byteOffset % 4 === 0) return new Uint32Array(values.buffer, values.byteOffset, values.byteLength / 4);
  return new Uint32Array(values.slice().buffer);
}
