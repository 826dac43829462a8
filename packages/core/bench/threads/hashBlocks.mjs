// The CPU-bound work of the scaling case, shared by the Troupe actor and the raw worker:
// SHA-256 of `blocks` distinct 1 KiB blocks. Returns the first byte of every digest xored
// together, so the work cannot be optimised away and the answer is small.
import { createHash } from 'node:crypto';

const block = Buffer.alloc(1024, 0x5a);

export function hashBlocks(seed, blocks) {
  let acc = 0;
  for (let i = 0; i < blocks; i++) {
    block.writeUInt32LE((seed + i) >>> 0, 0);
    acc ^= createHash('sha256').update(block).digest()[0];
  }
  return acc;
}
