/**
 * Uniform random permutations for PSI, from the OS CSPRNG only.
 *
 * A party shuffles what it sends so that positions say nothing: its masked
 * items within each batch (the row modes), or across the whole set (the
 * cardinality mode, and the double-masked values it returns there). Fisher-Yates
 * with rejection sampling, so every permutation is exactly equally likely
 * (a plain `r % (i + 1)` would favour small indices by up to n / 2^32 per swap,
 * which matters at millions of items).
 * @internal
 */
import { randomFillSync } from 'node:crypto';

/** Random 32-bit words, drawn in blocks (one `randomFillSync` per 4096 words). */
class RandomWords {
  private readonly block = new Uint32Array(4096);
  private next = this.block.length;
  word(): number {
    if (this.next === this.block.length) {
      randomFillSync(this.block);
      this.next = 0;
    }
    return this.block[this.next++] as number;
  }
  /** Uniform in 0..bound-1 (bound <= 2^32), by rejection: no modulo bias. */
  below(bound: number): number {
    // The largest multiple of bound that fits in 32 bits; words at or above it are redrawn.
    const limit = 0x1_0000_0000 - (0x1_0000_0000 % bound);
    for (;;) {
      const r = this.word();
      if (r < limit) return r % bound;
    }
  }
}

/** A uniformly random permutation of `0..n-1`. */
export function randomPermutation(n: number): Uint32Array {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff_ffff) {
    throw new RangeError(`permutation size must be an integer from 0 to 2^32-1, got ${n}`);
  }
  const perm = new Uint32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  const random = new RandomWords();
  for (let i = n - 1; i > 0; i--) {
    const j = random.below(i + 1);
    const t = perm[i] as number;
    perm[i] = perm[j] as number;
    perm[j] = t;
  }
  return perm;
}

/**
 * Shuffles `n = values.byteLength / size` records of `size` bytes in place,
 * uniformly at random (the permutation is not kept anywhere).
 */
export function shuffleRecords(values: Uint8Array, size: number): void {
  if (!Number.isInteger(size) || size < 1 || values.byteLength % size !== 0) {
    throw new RangeError(`cannot shuffle ${values.byteLength} bytes as records of ${size} bytes`);
  }
  const n = values.byteLength / size;
  const random = new RandomWords();
  const tmp = new Uint8Array(size);
  for (let i = n - 1; i > 0; i--) {
    const j = random.below(i + 1);
    if (j === i) continue;
    const a = i * size;
    const b = j * size;
    tmp.set(values.subarray(a, a + size));
    values.copyWithin(a, b, b + size);
    values.set(tmp, b);
  }
}
