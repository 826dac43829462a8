/**
 * Uniform random numbers from the OS CSPRNG (`crypto.randomFillSync`), drawn
 * in blocks so that a shuffle of millions of items costs one system call per
 * 64 KiB of randomness. With a 32-byte `seed` the numbers are the ChaCha20
 * key stream of that seed instead: as unpredictable to anyone without the
 * seed, and the same again for the same seed, so a resumed run (which keeps
 * its seed in its checkpoint, mode 0600) cuts the same batches in the same
 * order as the run it continues.
 * @internal
 */
import { type Cipher, createCipheriv, randomFillSync } from 'node:crypto';

const BLOCK_WORDS = 16_384;

/** @internal */
export class RandomSource {
  private readonly words = new Uint32Array(BLOCK_WORDS);
  private at = BLOCK_WORDS;
  private readonly stream: Cipher | undefined;
  private readonly zeros: Uint8Array | undefined;

  constructor(seed?: Uint8Array) {
    if (seed !== undefined) {
      if (seed.byteLength !== 32) throw new TypeError(`a RandomSource seed must be 32 bytes, got ${seed.byteLength}`);
      this.stream = createCipheriv('chacha20', seed, new Uint8Array(16));
      this.zeros = new Uint8Array(BLOCK_WORDS * 4);
    }
  }

  /** A uniformly random 32-bit unsigned integer. */
  u32(): number {
    if (this.at === BLOCK_WORDS) {
      if (this.stream === undefined) randomFillSync(this.words);
      else new Uint8Array(this.words.buffer).set(this.stream.update(this.zeros as Uint8Array));
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
