import { createHash } from 'node:crypto';

/**
 * The workload both designs run: item `i` is a 1 KiB buffer derived from `i`;
 * its result is SHA-256 applied `rounds` times (the first round over the
 * buffer, each next one over the previous digest), as lowercase hex.
 *
 * The buffer is derived where it is hashed, so a job on the wire is just its
 * index and both designs move the same few bytes per item: what differs is
 * only how jobs reach the threads and results come back.
 */

/** Size of one item's input. */
export const ITEM_BYTES = 1024;

/** The input of item `i`: deterministic, different for every `i`. */
export function itemInput(i: number): Buffer {
  const buf = Buffer.allocUnsafe(ITEM_BYTES);
  let x = (i + 1) * 2654435761;
  for (let k = 0; k < ITEM_BYTES; k += 4) {
    x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + k) >>> 0;
    buf.writeUInt32LE(x, k);
  }
  return buf;
}

/** SHA-256 of item `i`'s input, `rounds` times. */
export function hashItem(i: number, rounds: number): string {
  let h: Buffer = createHash('sha256').update(itemInput(i)).digest();
  for (let r = 1; r < rounds; r++) h = createHash('sha256').update(h).digest();
  return h.toString('hex');
}

/** One digest over all results, in item order: a short fingerprint to print and compare. */
export function fingerprint(digests: readonly string[]): string {
  const h = createHash('sha256');
  for (const d of digests) h.update(d);
  return h.digest('hex');
}
