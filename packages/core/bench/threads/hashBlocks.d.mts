/** SHA-256 of `blocks` distinct 1 KiB blocks (numbered from `seed`); the digests' first bytes xored. */
export function hashBlocks(seed: number, blocks: number): number;
