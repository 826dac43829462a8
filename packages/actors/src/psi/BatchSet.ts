/**
 * A set of batch indices as a growable bitmap: which batches a party already
 * holds. It crosses to the peer as plain bytes in a resuming hello (bit i of
 * byte i >> 3 is batch i), a few hundred bytes even at millions of items.
 * @internal
 */
export class BatchSet {
  private bits: Uint8Array;
  size = 0;

  constructor(bytes?: Uint8Array) {
    this.bits = bytes === undefined ? new Uint8Array(64) : new Uint8Array(bytes);
    if (bytes !== undefined) for (let i = 0; i < this.bits.length * 8; i++) if (this.has(i)) this.size++;
  }

  has(index: number): boolean {
    const byte = index >>> 3;
    return byte < this.bits.length && ((this.bits[byte] as number) & (1 << (index & 7))) !== 0;
  }

  /** Adds `index`; returns false if it was already there. */
  add(index: number): boolean {
    if (this.has(index)) return false;
    const byte = index >>> 3;
    if (byte >= this.bits.length) {
      let n = this.bits.length * 2;
      while (n <= byte) n *= 2;
      const grown = new Uint8Array(n);
      grown.set(this.bits);
      this.bits = grown;
    }
    this.bits[byte] = (this.bits[byte] as number) | (1 << (index & 7));
    this.size++;
    return true;
  }

  /** The highest index in the set, or -1. */
  max(): number {
    for (let byte = this.bits.length - 1; byte >= 0; byte--) {
      const b = this.bits[byte] as number;
      if (b !== 0) return byte * 8 + (31 - Math.clz32(b));
    }
    return -1;
  }

  /** The bitmap, trimmed to the last set byte. */
  toBytes(): Uint8Array {
    const last = this.max();
    return this.bits.slice(0, last < 0 ? 0 : (last >>> 3) + 1);
  }
}
