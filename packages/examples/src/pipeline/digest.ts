import { createHash } from 'node:crypto';
import type { EnrichedReading } from './protocol.js';

/**
 * The hash stage's work, shared by the hasher actor (on a worker thread) and
 * the tests (which recompute the checksum on their own).
 */

/** The canonical text of a reading that gets hashed: `ts,site,celsius`. */
export function canonicalText(r: Pick<EnrichedReading, 'ts' | 'site' | 'celsius'>): string {
  return `${r.ts},${r.site},${r.celsius}`;
}

/** SHA-256 of `text`, then of that digest again, `rounds` times in all; lowercase hex. */
export function digestOf(text: string, rounds: number): string {
  let h: Buffer = createHash('sha256').update(text).digest();
  for (let i = 1; i < rounds; i++) h = createHash('sha256').update(h).digest();
  return h.toString('hex');
}

/** Fold a digest into an order-independent 32-bit checksum (XOR of the digests' first 32 bits). */
export function foldChecksum(checksum: number, digest: string): number {
  return (checksum ^ Number.parseInt(digest.slice(0, 8), 16)) >>> 0;
}

/** A checksum as 8 hex digits. */
export function formatChecksum(checksum: number): string {
  return checksum.toString(16).padStart(8, '0');
}
