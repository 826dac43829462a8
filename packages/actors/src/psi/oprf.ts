/**
 * The oblivious PRF of unbalanced PSI (2HashDH, as in SecretFlow's ECDH-OPRF
 * mode and RFC 9497's OPRF), on contiguous batches:
 *
 *   F(k, x) = H2(u, k * H1(u))   with u = SHA-256(x)
 *
 * in the prime-order subgroup of edwards25519 (libsodium's `ed25519` core
 * functions through sodium-native: it has no ristretto255 binding, and these
 * functions refuse any point outside the prime-order subgroup, so they act as
 * a prime-order group):
 *
 * - `H1(u)`: SHA-512 of a domain tag and u, each half mapped to the curve by
 *   Elligator 2 with the cofactor cleared (`crypto_core_ed25519_from_uniform`),
 *   the two points added: the random-oracle construction of RFC 9380
 *   (`hash_to_curve`, two maps and a sum), not the one-map encoding.
 * - `k`: a uniformly random non-zero scalar mod L (`crypto_core_ed25519_scalar_random`).
 * - Multiplication: `crypto_scalarmult_ed25519_noclamp`, which refuses a
 *   non-canonical encoding, a point of small order or outside the subgroup,
 *   and an identity result.
 * - Blinding: the client sends `r * H1(u)` with a fresh random scalar r per
 *   item; the server answers `k * (r * H1(u))`; the client multiplies by
 *   `r^-1 mod L` (`crypto_core_ed25519_scalar_invert`) and gets `k * H1(u)`.
 * - `H2`: SHA-256 of a domain tag, u and the point; the first 12 bytes are
 *   compared (as the balanced protocol compares 12 bytes).
 *
 * @internal
 */
import { createRequire } from 'node:module';
import { TroupeError } from '@troupe/core';

/** Bytes of a point, a scalar, and of an OPRF output as compared. */
export const POINT_BYTES = 32;
export const OPRF_OUTPUT_BYTES = 12;
/** Names written into caches and handshakes: a cache made under other choices is refused. */
export const OPRF_SUITE = 'edwards25519-prime-order/sha512-elligator2x2/sha256-12';

const H1_TAG = Buffer.from('troupe-psi-oprf-v1/H1\0');
const H2_TAG = Buffer.from('troupe-psi-oprf-v1/H2\0');

/** A point refused by the group (not canonical, small order, outside the subgroup): a peer misbehaves. */
export class InvalidPointError extends TroupeError {
  constructor(
    readonly index: number,
    readonly where: string,
  ) {
    super(
      'ERR_PSI_INVALID_POINT',
      `point #${index} ${where} is not an element of the prime-order group (not canonical, of small order, or outside the subgroup): ` +
        'the peer is misbehaving or the data was corrupted; nothing was computed from it.',
    );
  }
}

interface SodiumOprf {
  crypto_hash_sha512(out: Uint8Array, input: Uint8Array): void;
  crypto_hash_sha256(out: Uint8Array, input: Uint8Array): void;
  crypto_core_ed25519_from_uniform(p: Uint8Array, r: Uint8Array): void;
  crypto_core_ed25519_add(r: Uint8Array, p: Uint8Array, q: Uint8Array): void;
  crypto_core_ed25519_scalar_random(r: Uint8Array): void;
  crypto_core_ed25519_scalar_invert(recip: Uint8Array, s: Uint8Array): void;
  crypto_core_ed25519_scalar_reduce(r: Uint8Array, s: Uint8Array): void;
  crypto_scalarmult_ed25519_noclamp(q: Uint8Array, n: Uint8Array, p: Uint8Array): void;
  sodium_memzero(b: Uint8Array): void;
}

let sodiumCache: SodiumOprf | undefined;
function sodium(): SodiumOprf {
  sodiumCache ??= createRequire(import.meta.url)('sodium-native') as SodiumOprf;
  return sodiumCache;
}

/** A fresh OPRF key: a uniformly random non-zero scalar mod L, from libsodium's CSPRNG. */
export function generateOprfKey(): Uint8Array {
  const k = new Uint8Array(POINT_BYTES);
  sodium().crypto_core_ed25519_scalar_random(k);
  return k;
}

/** True when `k` is a canonical non-zero scalar (below L): what {@link generateOprfKey} makes. */
export function isOprfKey(k: Uint8Array): boolean {
  if (!(k instanceof Uint8Array) || k.byteLength !== POINT_BYTES || k.every((b) => b === 0)) return false;
  const wide = new Uint8Array(64);
  wide.set(k);
  const reduced = new Uint8Array(POINT_BYTES);
  sodium().crypto_core_ed25519_scalar_reduce(reduced, wide);
  return Buffer.compare(reduced, k) === 0;
}

/** Overwrites secret bytes (sodium_memzero). */
export function zeroSecret(b: Uint8Array): void {
  sodium().sodium_memzero(b);
}

/** `out[i] = H1(u[i])` for n 32-byte inputs. */
export function hashToGroup(us: Uint8Array, out = new Uint8Array(us.byteLength)): Uint8Array {
  const s = sodium();
  const n = us.byteLength / POINT_BYTES;
  const msg = new Uint8Array(H1_TAG.length + POINT_BYTES);
  msg.set(H1_TAG);
  const h = new Uint8Array(64);
  const p1 = new Uint8Array(POINT_BYTES);
  const p2 = new Uint8Array(POINT_BYTES);
  for (let i = 0; i < n; i++) {
    msg.set(us.subarray(i * POINT_BYTES, (i + 1) * POINT_BYTES), H1_TAG.length);
    s.crypto_hash_sha512(h, msg);
    s.crypto_core_ed25519_from_uniform(p1, h.subarray(0, 32));
    s.crypto_core_ed25519_from_uniform(p2, h.subarray(32, 64));
    s.crypto_core_ed25519_add(out.subarray(i * POINT_BYTES, (i + 1) * POINT_BYTES), p1, p2);
  }
  return out;
}

/**
 * `out[i] = k * points[i]`; throws {@link InvalidPointError} for a point the
 * group refuses (`where` names the batch in the message).
 */
export function multiply(
  k: Uint8Array,
  points: Uint8Array,
  where: string,
  out = new Uint8Array(points.byteLength),
): Uint8Array {
  const s = sodium();
  const n = points.byteLength / POINT_BYTES;
  const tmp = new Uint8Array(POINT_BYTES);
  for (let i = 0; i < n; i++) {
    try {
      s.crypto_scalarmult_ed25519_noclamp(tmp, k, points.subarray(i * POINT_BYTES, (i + 1) * POINT_BYTES));
    } catch {
      throw new InvalidPointError(i, where);
    }
    out.set(tmp, i * POINT_BYTES);
  }
  return out;
}

/** Blinds H1(u[i]) with a fresh scalar each: returns the blinded points and the scalars (keep those secret). */
export function blind(us: Uint8Array): { blinded: Uint8Array; blinds: Uint8Array } {
  const s = sodium();
  const n = us.byteLength / POINT_BYTES;
  const h = hashToGroup(us);
  const blinds = new Uint8Array(n * POINT_BYTES);
  const blinded = new Uint8Array(n * POINT_BYTES);
  for (let i = 0; i < n; i++) {
    const r = blinds.subarray(i * POINT_BYTES, (i + 1) * POINT_BYTES);
    s.crypto_core_ed25519_scalar_random(r);
    s.crypto_scalarmult_ed25519_noclamp(
      blinded.subarray(i * POINT_BYTES, (i + 1) * POINT_BYTES),
      r,
      h.subarray(i * POINT_BYTES, (i + 1) * POINT_BYTES),
    );
  }
  return { blinded, blinds };
}

/**
 * Unblinds the server's answers (`r^-1 * evaluated[i]`) and finalizes:
 * returns n OPRF outputs of {@link OPRF_OUTPUT_BYTES}. Zeroes `blinds`.
 */
export function unblindFinalize(us: Uint8Array, evaluated: Uint8Array, blinds: Uint8Array, where: string): Uint8Array {
  const s = sodium();
  const n = us.byteLength / POINT_BYTES;
  if (evaluated.byteLength !== n * POINT_BYTES || blinds.byteLength !== n * POINT_BYTES) {
    throw new TypeError(`${where}: ${evaluated.byteLength / POINT_BYTES} answers for ${n} items`);
  }
  const inv = new Uint8Array(POINT_BYTES);
  const point = new Uint8Array(POINT_BYTES);
  const out = new Uint8Array(n * OPRF_OUTPUT_BYTES);
  const digest = new Uint8Array(32);
  const msg = new Uint8Array(H2_TAG.length + 2 * POINT_BYTES);
  msg.set(H2_TAG);
  try {
    for (let i = 0; i < n; i++) {
      s.crypto_core_ed25519_scalar_invert(inv, blinds.subarray(i * POINT_BYTES, (i + 1) * POINT_BYTES));
      try {
        s.crypto_scalarmult_ed25519_noclamp(point, inv, evaluated.subarray(i * POINT_BYTES, (i + 1) * POINT_BYTES));
      } catch {
        throw new InvalidPointError(i, where);
      }
      finalizeOne(s, msg, us.subarray(i * POINT_BYTES, (i + 1) * POINT_BYTES), point, digest);
      out.set(digest.subarray(0, OPRF_OUTPUT_BYTES), i * OPRF_OUTPUT_BYTES);
    }
  } finally {
    s.sodium_memzero(inv);
    s.sodium_memzero(blinds);
  }
  return out;
}

/** The server's own evaluation, for its cache: `H2(u, k * H1(u))`, n outputs of 12 bytes. */
export function evaluateFull(k: Uint8Array, us: Uint8Array): Uint8Array {
  const s = sodium();
  const n = us.byteLength / POINT_BYTES;
  const h = hashToGroup(us);
  const point = new Uint8Array(POINT_BYTES);
  const out = new Uint8Array(n * OPRF_OUTPUT_BYTES);
  const digest = new Uint8Array(32);
  const msg = new Uint8Array(H2_TAG.length + 2 * POINT_BYTES);
  msg.set(H2_TAG);
  for (let i = 0; i < n; i++) {
    s.crypto_scalarmult_ed25519_noclamp(point, k, h.subarray(i * POINT_BYTES, (i + 1) * POINT_BYTES));
    finalizeOne(s, msg, us.subarray(i * POINT_BYTES, (i + 1) * POINT_BYTES), point, digest);
    out.set(digest.subarray(0, OPRF_OUTPUT_BYTES), i * OPRF_OUTPUT_BYTES);
  }
  return out;
}

function finalizeOne(s: SodiumOprf, msg: Uint8Array, u: Uint8Array, point: Uint8Array, digest: Uint8Array): void {
  msg.set(u, H2_TAG.length);
  msg.set(point, H2_TAG.length + POINT_BYTES);
  s.crypto_hash_sha256(digest, msg);
}
