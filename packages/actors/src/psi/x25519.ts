/**
 * X25519 masking for ECDH-PSI, on contiguous buffers.
 *
 * An item becomes a curve point by hashing: `u = SHA-256(item)`, used as an
 * RFC 7748 u-coordinate. A party masks a point with its secret scalar `k` as
 * `X25519(k, u)`. Masking commutes, `X25519(b, X25519(a, u)) ==
 * X25519(a, X25519(b, u))`, because both are the u-coordinate of `[a*b]P`
 * (with `a`, `b` clamped), which is what lets two parties compare
 * double-masked items without revealing the others.
 *
 * Batches are `n * 32` byte `Uint8Array`s, so a batch (its `.buffer`) can move
 * to and from worker threads as a transferable `ArrayBuffer` with no copy.
 *
 * The scalar multiplication runs on libsodium (`sodium-native`) when its
 * prebuilt binary loads, and on Node's OpenSSL otherwise; both compute the
 * same RFC 7748 function. See `bench/x25519.bench.ts` for why.
 */
import crypto from 'node:crypto';
import { LowOrderPointError } from './errors.js';
import { getX25519Backend, type X25519BackendName } from './x25519Backend.js';

/** Size in bytes of an X25519 scalar, point (u-coordinate) and result. */
export const X25519_BYTES = 32;

/** Options of {@link generateKey}. */
export interface GenerateKeyOptions {
  /** Source of randomness; defaults to `crypto.randomBytes`. Inject a fixed one only in tests. */
  readonly randomBytes?: (size: number) => Uint8Array;
}

/** Options of {@link maskBatch}. */
export interface MaskBatchOptions {
  /** Which implementation to use; by default the fastest one that loads here ({@link x25519BackendName}). */
  readonly backend?: X25519BackendName;
}

function checkBytes(name: string, value: Uint8Array, size: number): void {
  if (!(value instanceof Uint8Array) || value.byteLength !== size) {
    const got = value instanceof Uint8Array ? `${value.byteLength} bytes` : typeof value;
    throw new TypeError(`${name} must be a Uint8Array of ${size} bytes, got ${got}`);
  }
}

/**
 * Clamps an X25519 scalar in place, as RFC 7748 section 5 decodes one: clears
 * the three low bits (a multiple of the cofactor 8, so low-order components
 * vanish) and the top bit, and sets bit 254 (constant-time ladder length).
 *
 * @returns the same array, clamped.
 */
export function clampScalar(scalar: Uint8Array): Uint8Array {
  checkBytes('scalar', scalar, X25519_BYTES);
  scalar[0]! &= 248;
  scalar[31]! &= 127;
  scalar[31]! |= 64;
  return scalar;
}

/**
 * Draws a fresh, clamped X25519 secret key. Draw one per PSI run, never log
 * it, and {@link zeroKey} it when the run ends.
 *
 * @example
 * ```ts
 * const key = generateKey();
 * try {
 *   const masked = maskBatch(key, hashToPoint(['alice@example.com', 'bob@example.com']));
 * } finally {
 *   zeroKey(key);
 * }
 * ```
 */
export function generateKey(options: GenerateKeyOptions = {}): Uint8Array {
  const random = options.randomBytes ?? crypto.randomBytes;
  const drawn = random(X25519_BYTES);
  checkBytes('randomBytes(32) result', drawn, X25519_BYTES);
  // Copy into a buffer of our own: the drawn one may be a view into a shared pool.
  const key = new Uint8Array(X25519_BYTES);
  key.set(drawn);
  drawn.fill(0);
  return clampScalar(key);
}

/** Overwrites a secret key with zeros (libsodium's `sodium_memzero` when it is loaded). */
export function zeroKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array)) throw new TypeError(`key must be a Uint8Array, got ${typeof key}`);
  try {
    getX25519Backend().zero(key);
  } catch {
    key.fill(0);
  }
}

const encoder = new TextEncoder();

/**
 * Hashes items to curve points: slot `i` of the result is `SHA-256(items[i])`
 * (a string is hashed as its UTF-8 bytes), the 32 bytes used as the X25519
 * u-coordinate. X25519 ignores the top bit of u, as RFC 7748 requires.
 *
 * Join multi-column keys with {@link joinKeyColumns} first, so both parties
 * encode them the same, unambiguous way.
 *
 * @param out where to write, `items.length * 32` bytes or more; a new array by default.
 * @returns `out`.
 */
export function hashToPoint(items: readonly (string | Uint8Array)[], out?: Uint8Array): Uint8Array {
  const size = items.length * X25519_BYTES;
  const target = out ?? new Uint8Array(size);
  if (target.byteLength < size) {
    throw new TypeError(`out must hold ${items.length} points (${size} bytes), got ${target.byteLength} bytes`);
  }
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    const digest = crypto
      .createHash('sha256')
      .update(typeof item === 'string' ? encoder.encode(item) : item)
      .digest();
    target.set(digest, i * X25519_BYTES);
  }
  return target;
}

/**
 * {@link hashToPoint} for items packed as one byte array: item `i` is
 * `items[offsets[i]..offsets[i+1]]` (UTF-8 for strings). The form batches take
 * between threads; hashed with libsodium when it loads.
 *
 * @returns `out` (`(offsets.length - 1) * 32` bytes; a new array by default).
 */
export function hashPackedToPoints(items: Uint8Array, offsets: Uint32Array, out?: Uint8Array): Uint8Array {
  const n = offsets.length - 1;
  if (n < 0 || (offsets[n] as number) > items.byteLength) {
    throw new TypeError(`offsets must be n+1 ascending positions within items (${items.byteLength} bytes)`);
  }
  const target = out ?? new Uint8Array(n * X25519_BYTES);
  if (target.byteLength < n * X25519_BYTES) {
    throw new TypeError(`out must hold ${n} points (${n * X25519_BYTES} bytes), got ${target.byteLength} bytes`);
  }
  getX25519Backend().hashInto(items, offsets, target);
  return target;
}

/**
 * The string a row's key columns hash as. One column is taken as is; several
 * are encoded as a JSON array, so `["a,b","c"]` and `["a","b,c"]` differ
 * (a plain join with a separator would make them collide).
 */
export function joinKeyColumns(values: readonly string[]): string {
  if (values.length === 1) return values[0]!;
  return JSON.stringify(values);
}

/**
 * Masks a batch of points with a secret key: `out[i] = X25519(key, input[i])`
 * for every 32-byte slot. Applying two keys in either order gives the same
 * result, which is what ECDH-PSI compares.
 *
 * The key need not be clamped (X25519 clamps it), but {@link generateKey} keys are.
 * `out` may be `input` itself to mask in place.
 *
 * @param input `n * 32` bytes: n points (u-coordinates, little-endian).
 * @param out `n * 32` bytes or more; a new array by default.
 * @returns `out`.
 * @throws LowOrderPointError when a point is one of the low-order points
 *   (X25519 would output all zeros); `out` is then partially written and
 *   must be discarded.
 *
 * @example
 * ```ts
 * const a = generateKey();
 * const b = generateKey();
 * const points = hashToPoint(['alice@example.com']);
 * const ab = maskBatch(b, maskBatch(a, points));
 * const ba = maskBatch(a, maskBatch(b, points));
 * // ab and ba are equal, byte for byte
 * ```
 */
export function maskBatch(
  key: Uint8Array,
  input: Uint8Array,
  out?: Uint8Array,
  options: MaskBatchOptions = {},
): Uint8Array {
  checkBytes('key', key, X25519_BYTES);
  if (!(input instanceof Uint8Array) || input.byteLength % X25519_BYTES !== 0) {
    const got = input instanceof Uint8Array ? `${input.byteLength} bytes` : typeof input;
    throw new TypeError(`input must be a Uint8Array of n * 32 bytes (n points), got ${got}`);
  }
  const target = out ?? new Uint8Array(input.byteLength);
  if (!(target instanceof Uint8Array) || target.byteLength < input.byteLength) {
    const got = target instanceof Uint8Array ? `${target.byteLength} bytes` : typeof target;
    throw new TypeError(`out must be a Uint8Array of at least ${input.byteLength} bytes (as input), got ${got}`);
  }
  const backend = getX25519Backend(options.backend);
  const failed = backend.maskInto(key, input, target, input.byteLength / X25519_BYTES);
  if (failed !== -1) throw new LowOrderPointError(failed);
  return target;
}

/** Masks one point: `X25519(key, point)`. For a batch, use {@link maskBatch}. */
export function mask(key: Uint8Array, point: Uint8Array, options: MaskBatchOptions = {}): Uint8Array {
  checkBytes('point', point, X25519_BYTES);
  return maskBatch(key, point, new Uint8Array(X25519_BYTES), options);
}

/** The implementation {@link maskBatch} uses by default here: `'sodium-native'`, or `'node-crypto'` when its binary does not load. */
export function x25519BackendName(): X25519BackendName {
  return getX25519Backend().name;
}

export type { X25519BackendName };
