/**
 * Uniform random numbers from the OS CSPRNG (`crypto.randomFillSync`), drawn
 * in blocks so that a shuffle of millions of items costs one system call per
 * 64 KiB of randomness.
 * @internal
 */
import { randomFillSync } from 'node:crypto';

const BLOCK_WORDS = 16_384;

/** @internal */
export class RandomSource {
  private readonly words = new Uint32Array(BLOCK_WORDS);
  private at = BLOCK_WORDS;

  /** A uniformly random 32-bit unsigned integer. */
  u32(): number {
    if (this.at === BLOCK_WORDS) {
      randomFillSync(this.words);
      this.at = 0;
    }
    return this.words[this.at++] as number;
  }

  /**
   * A uniformly random integer in `[0, n)`, for n up to 2^32, from 53 random
   * bits (bias below n / 2^53: for n = 2^26 items, under 2^-27 per draw).
   */
  below(n: number): number {
    const x = (this.u32() >>> 5) * 67_108_864 + (this.u32() >>> 6); // 27 + 26 bits
    return Math.floor((x / 9_007_199_254_740_992) * n);
  }

  /** Shuffles `count` records of `width` words in `a` in place (Fisher–Yates). */
  shuffleRecords(a: Uint32Array, count: number, width: number): void {
    for (let i = count - 1; i > 0; i--) {
      const j = this.below(i + 1);
      if (j === i) continue;
      const x = i * width;
      const y = j * width;
      for (let w = 0; w < width; w++) {
        const t = a[x + w] as number;
        a[x + w] = a[y + w] as number;
        a[y + w] = t;
      }
    }
  }
}
