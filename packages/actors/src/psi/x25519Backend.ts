/**
 * The two X25519 implementations behind `maskBatch`, both computing exactly
 * RFC 7748 `X25519(k, u)`:
 *
 * - `sodium-native`: libsodium's `crypto_scalarmult` through its N-API
 *   binding. No allocation per point, the key stays in a buffer we can zero,
 *   and it runs at the speed of OpenSSL's own `speed ecdhx25519` on this
 *   machine (see `bench/x25519.bench.ts`). The default when its prebuilt
 *   binary loads.
 * - `node-crypto`: Node's OpenSSL via `crypto.diffieHellman`, one public
 *   `KeyObject` per point built from JWK. About 30% slower (key import and
 *   EVP setup per point) but needs nothing beyond Node, so it is the fallback.
 *   JWK beats DER here: OpenSSL 3's generic DER decoder costs ~3x the
 *   multiplication itself.
 *
 * @internal Not exported from the package entry; the bench and tests import it.
 */
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import { X25519BackendUnavailableError } from './errors.js';

/** Names of the X25519 implementations `maskBatch` can use. */
export type X25519BackendName = 'sodium-native' | 'node-crypto';

/** @internal One X25519 implementation, working on contiguous 32-byte slots. */
export interface X25519Backend {
  readonly name: X25519BackendName;
  /**
   * `out[i] = X25519(key, input[i])` for the first `count` slots. Returns the
   * index of the first point whose result is all zero (a low-order point; the
   * slots after it are untouched), or -1 when every point was masked.
   * `out` may be `input` itself.
   */
  maskInto(key: Uint8Array, input: Uint8Array, out: Uint8Array, count: number): number;
  /** Overwrites secret bytes so they do not linger in memory. */
  zero(bytes: Uint8Array): void;
  /**
   * `out[i] = SHA-256(items[offsets[i]..offsets[i+1]])` for `offsets.length - 1`
   * packed items. libsodium's one-shot SHA-256 is ~5x cheaper per short item
   * than a Node `Hash` object.
   */
  hashInto(items: Uint8Array, offsets: Uint32Array, out: Uint8Array): void;
}

/** The part of sodium-native's API used here. */
interface SodiumNative {
  crypto_scalarmult(q: Uint8Array, n: Uint8Array, p: Uint8Array): void;
  sodium_memzero(bytes: Uint8Array): void;
  crypto_hash_sha256(out: Uint8Array, input: Uint8Array): void;
}

function createSodiumBackend(sodium: SodiumNative): X25519Backend {
  // One scratch slot per backend: results go there first so `out` may alias
  // `input`, and the binding never sees a partially overlapping view.
  const scratch = new Uint8Array(32);
  const point = new Uint8Array(32);
  const scratch32 = new Uint32Array(scratch.buffer);
  const point32 = new Uint32Array(point.buffer);
  return {
    name: 'sodium-native',
    maskInto(key, input, out, count) {
      // Aligned batches (all of ours) go word by word through two fixed buffers: no view per point.
      const aligned = input.byteOffset % 4 === 0 && out.byteOffset % 4 === 0;
      const in32 = aligned ? new Uint32Array(input.buffer, input.byteOffset, count * 8) : undefined;
      const out32 = aligned ? new Uint32Array(out.buffer, out.byteOffset, count * 8) : undefined;
      for (let i = 0; i < count; i++) {
        const off = i * 32;
        let p: Uint8Array;
        if (in32 !== undefined) {
          for (let k = 0; k < 8; k++) point32[k] = in32[i * 8 + k] as number;
          p = point;
        } else p = input.subarray(off, off + 32);
        try {
          sodium.crypto_scalarmult(scratch, key, p);
        } catch {
          // libsodium returns -1 only for an all-zero result or a point on its
          // small-order blacklist; the binding turns that into a throw.
          return i;
        }
        if (out32 !== undefined) for (let k = 0; k < 8; k++) out32[i * 8 + k] = scratch32[k] as number;
        else out.set(scratch, off);
      }
      return -1;
    },
    zero(bytes) {
      sodium.sodium_memzero(bytes);
    },
    hashInto(items, offsets, out) {
      const n = offsets.length - 1;
      const out32 = out.byteOffset % 4 === 0 ? new Uint32Array(out.buffer, out.byteOffset, n * 8) : undefined;
      for (let i = 0; i < n; i++) {
        const item = items.subarray(offsets[i] as number, offsets[i + 1] as number);
        if (out32 === undefined) {
          sodium.crypto_hash_sha256(out.subarray(i * 32, i * 32 + 32), item);
          continue;
        }
        sodium.crypto_hash_sha256(scratch, item);
        for (let k = 0; k < 8; k++) out32[i * 8 + k] = scratch32[k] as number;
      }
    },
  };
}

const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

function createNodeBackend(): X25519Backend {
  return {
    name: 'node-crypto',
    maskInto(key, input, out, count) {
      const der = Buffer.alloc(PKCS8_X25519_PREFIX.length + 32);
      PKCS8_X25519_PREFIX.copy(der, 0);
      der.set(key, PKCS8_X25519_PREFIX.length);
      const privateKey = crypto.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
      der.fill(0);
      const view = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
      for (let i = 0; i < count; i++) {
        const off = i * 32;
        const x = view.toString('base64url', off, off + 32);
        const publicKey = crypto.createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x }, format: 'jwk' });
        let shared: Buffer;
        try {
          shared = crypto.diffieHellman({ privateKey, publicKey });
        } catch (error) {
          // OpenSSL refuses to derive an all-zero secret (a low-order point).
          if ((error as { code?: unknown }).code === 'ERR_OSSL_FAILED_DURING_DERIVATION') return i;
          throw error;
        }
        out.set(shared, off);
      }
      return -1;
    },
    hashInto(items, offsets, out) {
      const n = offsets.length - 1;
      for (let k = 0; k < n; k++) {
        const digest = crypto
          .createHash('sha256')
          .update(items.subarray(offsets[k] as number, offsets[k + 1] as number))
          .digest();
        out.set(digest, k * 32);
      }
    },
    zero(bytes) {
      bytes.fill(0);
    },
  };
}

let sodiumBackend: X25519Backend | Error | undefined;
let nodeBackend: X25519Backend | undefined;

function loadSodiumBackend(): X25519Backend | Error {
  if (sodiumBackend === undefined) {
    try {
      const sodium = createRequire(import.meta.url)('sodium-native') as SodiumNative;
      sodiumBackend = createSodiumBackend(sodium);
    } catch (error) {
      sodiumBackend = error instanceof Error ? error : new Error(String(error));
    }
  }
  return sodiumBackend;
}

/**
 * @internal The backend with the given name, or the fastest one that loads
 * here when no name is given. Throws {@link X25519BackendUnavailableError}
 * when the named one cannot load.
 */
export function getX25519Backend(name?: X25519BackendName): X25519Backend {
  if (name === undefined || name === 'sodium-native') {
    const sodium = loadSodiumBackend();
    if (!(sodium instanceof Error)) return sodium;
    if (name === 'sodium-native') throw new X25519BackendUnavailableError(name, { cause: sodium });
  } else if (name !== 'node-crypto') {
    throw new TypeError(`x25519 backend must be 'sodium-native' or 'node-crypto', got ${JSON.stringify(name)}`);
  }
  nodeBackend ??= createNodeBackend();
  return nodeBackend;
}
