/**
 * The files of unbalanced PSI:
 *
 * - **Key file** (the server's OPRF key): `TRPSIOK1`, the 32-byte scalar and
 *   a 16-byte check, mode 0600. Refused when group or others may read it,
 *   or when it is not a key file (wrong magic, bad check).
 * - **Cache** (the server's set under its key, made offline once):
 *   `TRPSIOC1`, the entries (12 bytes each, in a random order), a JSON
 *   header, its length, and an HMAC-SHA256 of everything before it under a
 *   key derived from the OPRF key. Mode 0600, written atomically. Opening it
 *   checks the format version, the suite, that it was made with the key
 *   given (by key id), its size, and the HMAC: a tampered, truncated or
 *   mismatched cache is refused with an error that says which.
 * - **Replica** (the client's copy of the entries, so the next query needs no
 *   transfer): `TRPSIOR1`, the entries, a JSON header and a SHA-256 of
 *   everything before it. The client cannot check an HMAC without the key; it
 *   checks the digest the server announces instead.
 *
 * @internal
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { type FileHandle, open, stat } from 'node:fs/promises';
import { AtomicFileWriter } from './AtomicFileWriter.js';
import { OprfCacheError, OprfKeyFileError } from './errors.js';
import { isOprfKey, OPRF_OUTPUT_BYTES, OPRF_SUITE, zeroSecret } from './oprf.js';

const KEY_MAGIC = Buffer.from('TRPSIOK1');
const CACHE_MAGIC = Buffer.from('TRPSIOC1');
const REPLICA_MAGIC = Buffer.from('TRPSIOR1');
const KEY_FILE_BYTES = 8 + 32 + 16;
const TRAILER = 4 + 32;
/** Format version of caches and replicas this build writes and reads. */
export const CACHE_VERSION = 1;

/** A short public name of the key: caches record it, so a cache made under another key is refused. */
export function keyId(key: Uint8Array): string {
  return createHash('sha256').update('troupe-psi-oprf-v1/key-id\0').update(key).digest('hex').slice(0, 32);
}

function macKey(key: Uint8Array): Buffer {
  return createHash('sha256').update('troupe-psi-oprf-v1/cache-mac\0').update(key).digest();
}

function keyCheck(key: Uint8Array): Buffer {
  return createHash('sha256').update(KEY_MAGIC).update(key).digest().subarray(0, 16);
}

/** Writes a new key file (mode 0600); refuses to replace an existing one. */
export async function writeKeyFile(path: string, key: Uint8Array): Promise<void> {
  let file: FileHandle;
  try {
    file = await open(path, 'wx', 0o600);
  } catch (error) {
    if ((error as { code?: string }).code === 'EEXIST') {
      throw new OprfKeyFileError(path, 'already exists; it is not replaced (caches made with it would no longer open)');
    }
    throw error;
  }
  try {
    const bytes = Buffer.concat([KEY_MAGIC, key, keyCheck(key)]);
    await file.write(bytes);
    bytes.fill(0);
    await file.sync();
  } finally {
    await file.close();
  }
}

/** Reads a key file; the caller zeroes the key when done. */
export async function readKeyFile(path: string): Promise<Uint8Array> {
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    st = await stat(path);
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') throw new OprfKeyFileError(path, 'does not exist');
    throw error;
  }
  if ((st.mode & 0o077) !== 0) {
    throw new OprfKeyFileError(
      path,
      `may be read by others (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}); it holds a secret key: chmod 600 it`,
    );
  }
  if (st.size !== KEY_FILE_BYTES)
    throw new OprfKeyFileError(path, `is not a PSI key file (${st.size} bytes, expected ${KEY_FILE_BYTES})`);
  const file = await open(path, 'r');
  const bytes = Buffer.alloc(KEY_FILE_BYTES);
  try {
    await file.read(bytes, 0, KEY_FILE_BYTES, 0);
  } finally {
    await file.close();
  }
  const key = new Uint8Array(bytes.subarray(8, 40));
  const ok = bytes.subarray(0, 8).equals(KEY_MAGIC) && bytes.subarray(40).equals(keyCheck(key)) && isOprfKey(key);
  bytes.fill(0);
  if (!ok) {
    zeroSecret(key);
    throw new OprfKeyFileError(path, 'is not a PSI key file, or it is corrupted (its check does not match)');
  }
  return key;
}

/** What a cache's header says. */
export interface CacheHeader {
  format: 'troupe-psi-oprf-cache';
  version: number;
  suite: string;
  count: number;
  entryBytes: number;
  keyId: string;
  /** SHA-256 of the entries, hex: what clients check their copy and a transfer against. */
  digest: string;
  keyColumns: string[];
  source: { file: string; size: number; mtimeMs: number };
  createdAt: string;
}

/** Writes a cache: entries streamed in, the header and the HMAC at the end; atomic, mode 0600. */
export class CacheWriter {
  private count = 0;
  private readonly mac: Hmac;
  private readonly digest: Hash;
  private constructor(
    private readonly out: AtomicFileWriter,
    key: Uint8Array,
  ) {
    const k = macKey(key);
    this.mac = createHmac('sha256', k);
    k.fill(0);
    this.digest = createHash('sha256');
  }
  static async open(path: string, key: Uint8Array): Promise<CacheWriter> {
    const w = new CacheWriter(await AtomicFileWriter.open(path, { mode: 0o600 }), key);
    await w.put(CACHE_MAGIC, false);
    return w;
  }
  private async put(bytes: Uint8Array, entries: boolean): Promise<void> {
    this.mac.update(bytes);
    if (entries) this.digest.update(bytes);
    await this.out.write(bytes);
  }
  /** Appends entries (n * 12 bytes). */
  async append(entries: Uint8Array): Promise<void> {
    this.count += entries.byteLength / OPRF_OUTPUT_BYTES;
    await this.put(entries, true);
  }
  /** Writes header and HMAC, and commits the file. */
  async finish(fields: Pick<CacheHeader, 'keyId' | 'keyColumns' | 'source'>): Promise<CacheHeader> {
    const header: CacheHeader = {
      format: 'troupe-psi-oprf-cache',
      version: CACHE_VERSION,
      suite: OPRF_SUITE,
      count: this.count,
      entryBytes: OPRF_OUTPUT_BYTES,
      digest: this.digest.digest('hex'),
      createdAt: new Date().toISOString(),
      ...fields,
    };
    const json = Buffer.from(JSON.stringify(header));
    const len = Buffer.alloc(4);
    len.writeUInt32LE(json.length);
    await this.put(json, false);
    await this.put(len, false);
    await this.out.write(this.mac.digest());
    await this.out.commit();
    return header;
  }
  async abort(): Promise<void> {
    await this.out.abort();
  }
}

/** An opened, verified cache: its header and where its entries are. */
export interface OpenedCache {
  path: string;
  header: CacheHeader;
  /** Byte offset of the first entry. */
  entriesAt: number;
}

/** Reads header and trailer of a cache or replica file, checking its shape (not its tag). */
async function readShape(
  path: string,
  magic: Buffer,
  what: string,
): Promise<{ header: Record<string, unknown>; size: number; hlen: number }> {
  let file: FileHandle;
  try {
    file = await open(path, 'r');
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT')
      throw new OprfCacheError(path, 'missing', `${what} does not exist`);
    throw error;
  }
  try {
    const { size } = await file.stat();
    const head = Buffer.alloc(8);
    if (size < 8 + TRAILER) throw new OprfCacheError(path, 'not-a-cache', `is not a PSI ${what} (too short)`);
    await file.read(head, 0, 8, 0);
    if (!head.equals(magic)) throw new OprfCacheError(path, 'not-a-cache', `is not a PSI ${what} (wrong magic bytes)`);
    const tail = Buffer.alloc(TRAILER);
    await file.read(tail, 0, TRAILER, size - TRAILER);
    const hlen = tail.readUInt32LE(0);
    if (hlen < 2 || hlen > size - 8 - TRAILER)
      throw new OprfCacheError(path, 'tampered', `${what} is truncated or was modified (bad header length)`);
    const json = Buffer.alloc(hlen);
    await file.read(json, 0, hlen, size - TRAILER - hlen);
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(json.toString('utf8')) as Record<string, unknown>;
    } catch {
      throw new OprfCacheError(path, 'tampered', `${what} is truncated or was modified (unreadable header)`);
    }
    return { header, size, hlen };
  } finally {
    await file.close();
  }
}

/**
 * Opens and verifies a cache for the key: refuses another format version or
 * suite, a cache made with another key, a wrong size and a bad HMAC (tampered).
 */
export async function openCache(path: string, key: Uint8Array): Promise<OpenedCache> {
  const { header, size, hlen } = await readShape(path, CACHE_MAGIC, 'cache');
  if (header.format !== 'troupe-psi-oprf-cache')
    throw new OprfCacheError(path, 'not-a-cache', 'is not a PSI cache (its header says otherwise)');
  if (header.version !== CACHE_VERSION) {
    throw new OprfCacheError(
      path,
      'version',
      `is format version ${String(header.version)}; this build reads version ${CACHE_VERSION}: make the cache again with this build`,
    );
  }
  if (header.suite !== OPRF_SUITE) {
    throw new OprfCacheError(
      path,
      'mismatch',
      `was made with OPRF suite ${JSON.stringify(header.suite)}, not ${OPRF_SUITE}`,
    );
  }
  const id = keyId(key);
  if (header.keyId !== id) {
    throw new OprfCacheError(
      path,
      'mismatch',
      `was made with another key (key id ${String(header.keyId)}) than the key file given (key id ${id}): use the key file it was made with, or make the cache again`,
    );
  }
  const count = header.count;
  if (
    typeof count !== 'number' ||
    !Number.isInteger(count) ||
    count < 0 ||
    header.entryBytes !== OPRF_OUTPUT_BYTES ||
    8 + count * OPRF_OUTPUT_BYTES + hlen + TRAILER !== size
  ) {
    throw new OprfCacheError(path, 'tampered', 'is truncated or was modified (its size does not match its header)');
  }
  // The tag covers everything before it, the header length included.
  const k = macKey(key);
  const mac2 = createHmac('sha256', k);
  k.fill(0);
  const covered = size - 32;
  const file = await open(path, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    let pos = 0;
    while (pos < covered) {
      const { bytesRead } = await file.read(buf, 0, Math.min(buf.length, covered - pos), pos);
      if (bytesRead === 0) break;
      mac2.update(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
    const stored = Buffer.alloc(32);
    await file.read(stored, 0, 32, covered);
    if (!stored.equals(mac2.digest())) {
      throw new OprfCacheError(
        path,
        'tampered',
        'fails its integrity check (HMAC): it was modified or corrupted after it was made; make it again',
      );
    }
  } finally {
    await file.close();
  }
  return { path, header: header as unknown as CacheHeader, entriesAt: 8 };
}

/** What a replica's header says. */
export interface ReplicaHeader {
  format: 'troupe-psi-oprf-replica';
  version: number;
  suite: string;
  count: number;
  entryBytes: number;
  digest: string;
}

/** An opened, verified replica. */
export interface OpenedReplica {
  path: string;
  header: ReplicaHeader;
  entriesAt: number;
}

/** Opens a client's replica; `undefined` when it does not exist. Refuses a damaged one. */
export async function openReplica(path: string): Promise<OpenedReplica | undefined> {
  try {
    await stat(path);
  } catch {
    return undefined;
  }
  const { header, size, hlen } = await readShape(path, REPLICA_MAGIC, 'cache copy');
  if (header.format !== 'troupe-psi-oprf-replica' || header.version !== CACHE_VERSION || header.suite !== OPRF_SUITE) {
    throw new OprfCacheError(
      path,
      'version',
      'is a cache copy of another format version or suite: delete it to fetch a new one',
    );
  }
  const count = header.count as number;
  if (!Number.isInteger(count) || 8 + count * OPRF_OUTPUT_BYTES + hlen + TRAILER !== size) {
    throw new OprfCacheError(
      path,
      'tampered',
      'cache copy is truncated or was modified (its size does not match its header)',
    );
  }
  const h = createHash('sha256');
  const entries = createHash('sha256');
  const covered = size - 32;
  const file = await open(path, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    let pos = 0;
    while (pos < covered) {
      const { bytesRead } = await file.read(buf, 0, Math.min(buf.length, covered - pos), pos);
      if (bytesRead === 0) break;
      const chunk = buf.subarray(0, bytesRead);
      h.update(chunk);
      // The entries region: [8, 8 + 12 count).
      const s = Math.max(pos, 8);
      const e = Math.min(pos + bytesRead, 8 + count * OPRF_OUTPUT_BYTES);
      if (e > s) entries.update(buf.subarray(s - pos, e - pos));
      pos += bytesRead;
    }
    const stored = Buffer.alloc(32);
    await file.read(stored, 0, 32, covered);
    if (!stored.equals(h.digest()) || entries.digest('hex') !== header.digest) {
      throw new OprfCacheError(
        path,
        'tampered',
        'cache copy fails its integrity check (SHA-256): it was modified or corrupted; delete it to fetch a new one',
      );
    }
  } finally {
    await file.close();
  }
  return { path, header: header as unknown as ReplicaHeader, entriesAt: 8 };
}

/** Writes a client's replica, atomically. */
export class ReplicaWriter {
  private readonly h = createHash('sha256');
  private readonly entries = createHash('sha256');
  private count = 0;
  private constructor(private readonly out: AtomicFileWriter) {}
  static async open(path: string): Promise<ReplicaWriter> {
    const w = new ReplicaWriter(await AtomicFileWriter.open(path, { mode: 0o600 }));
    w.h.update(REPLICA_MAGIC);
    await w.out.write(REPLICA_MAGIC);
    return w;
  }
  async append(entries: Uint8Array): Promise<void> {
    this.count += entries.byteLength / OPRF_OUTPUT_BYTES;
    this.h.update(entries);
    this.entries.update(entries);
    await this.out.write(entries);
  }
  /** Digest of the entries so far (hex). */
  get digest(): string {
    return this.entries.copy().digest('hex');
  }
  async finish(): Promise<void> {
    const header: ReplicaHeader = {
      format: 'troupe-psi-oprf-replica',
      version: CACHE_VERSION,
      suite: OPRF_SUITE,
      count: this.count,
      entryBytes: OPRF_OUTPUT_BYTES,
      digest: this.entries.digest('hex'),
    };
    const json = Buffer.from(JSON.stringify(header));
    const len = Buffer.alloc(4);
    len.writeUInt32LE(json.length);
    this.h.update(json).update(len);
    await this.out.write(json);
    await this.out.write(len);
    await this.out.write(this.h.digest());
    await this.out.commit();
  }
  async abort(): Promise<void> {
    await this.out.abort();
  }
}

/** Reads entries `[from, from + n)` of an opened cache or replica. */
export async function readEntries(file: FileHandle, entriesAt: number, from: number, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n * OPRF_OUTPUT_BYTES);
  let done = 0;
  while (done < out.byteLength) {
    const { bytesRead } = await file.read(
      out,
      done,
      out.byteLength - done,
      entriesAt + from * OPRF_OUTPUT_BYTES + done,
    );
    if (bytesRead === 0) throw new Error('psi: the cache file ended early');
    done += bytesRead;
  }
  return out;
}
