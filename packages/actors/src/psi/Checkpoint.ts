/**
 * Stage checkpoints of one party, so that `--resume` continues a run that a
 * crash (of either party or of the link) interrupted instead of redoing it.
 *
 * A checkpoint is a folder (mode 0700) of three files, each mode 0600:
 *
 * - `run.json`: what the run is (session, side, input file identity, key
 *   columns, batch size, reveal and cardinality modes), its run id and the
 *   peer's, and whether its output was committed;
 * - `key`: the party's 32-byte secret key. It is needed only while masking,
 *   so it is overwritten and deleted once the output is committed (both
 *   parties were prepared then: neither needs anything masked again);
 * - `log`: append-only records, written as the exchange goes: the
 *   permutation each own batch was sent in (before it is sent), the values
 *   the peer returned for each own batch (un-shuffled), and the
 *   double-masked values of each peer batch (in the peer's order, which is
 *   what is returned to it). A record cut short by a crash is ignored.
 *
 * The records are written with plain `write` calls, so they survive a crash
 * of the process (they are in the OS's cache at once) but not necessarily a
 * power loss. The whole folder is deleted when the run ends with both
 * parties committed; a run that fails for good (bad input, a lying peer)
 * deletes it too; one that is interrupted or loses its peer keeps it.
 * @internal
 */

import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { chmod, mkdir, open, readFile, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writeAll, writeFileAtomic } from './AtomicFileWriter.js';
import { PsiCheckpointError } from './errors.js';
import type { Reveal } from './PeerProtocol.js';
import type { Side } from './protocol.js';
import { X25519_BYTES } from './x25519.js';

/** What a checkpoint must match to be resumed. */
export interface CheckpointParams {
  session: string;
  side: Side;
  file: string;
  keyColumns: readonly string[];
  delimiter: string;
  batchSize: number;
  reveal: Reveal;
  cardinalityOnly: boolean;
}

interface FileIdentity {
  size: number;
  mtimeMs: number;
  ino: number;
}

interface Meta extends Omit<CheckpointParams, 'keyColumns'> {
  version: number;
  keyColumns: string[];
  input: FileIdentity;
  run: string;
  peerRun: string;
  committed: boolean;
  /**
   * Hex of the 32-byte seed of the reader's random order (which unique key
   * goes in which own batch, in what order): a resume must cut the same batches.
   */
  orderSeed: string;
}

/** A checkpoint read back for a resume. */
export interface LoadedCheckpoint {
  checkpoint: Checkpoint;
  run: string;
  peerRun: string;
  committed: boolean;
  /** The key, or undefined once the output was committed (it was deleted then). */
  key: Uint8Array | undefined;
  /** The seed of the reader's random order (see {@link Checkpoint.orderSeed}). */
  orderSeed: Uint8Array;
  perms: Map<number, Uint32Array>;
  ownReturned: Map<number, Uint8Array>;
  peerDoubles: Map<number, Uint8Array>;
}

const VERSION = 2;
const KIND_PERM = 1;
const KIND_OWN_RETURNED = 2;
const KIND_PEER_DOUBLES = 3;
const HEADER = 9;

async function identity(file: string): Promise<FileIdentity> {
  const s = await stat(file);
  return { size: s.size, mtimeMs: s.mtimeMs, ino: s.ino };
}

/** An open checkpoint: appends records as the exchange goes, and moves through the stages. */
export class Checkpoint {
  private fd: number | undefined;

  private constructor(
    /** The folder. */
    readonly dir: string,
    private meta: Meta,
  ) {
    this.fd = openSync(join(dir, 'log'), 'a', 0o600);
  }

  /** The seed of the reader's random order for this run (kept so that a resume cuts the same batches). */
  get orderSeed(): Uint8Array {
    return new Uint8Array(Buffer.from(this.meta.orderSeed, 'hex'));
  }

  /** Whether a checkpoint folder exists at `dir`. */
  static async exists(dir: string): Promise<boolean> {
    try {
      await stat(join(dir, 'run.json'));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Starts a checkpoint for a new run (after the handshake): writes the key
   * (mode 0600, a new file) and the run's description. Any older checkpoint
   * in `dir` is removed first.
   */
  static async create(
    dir: string,
    params: CheckpointParams,
    run: string,
    peerRun: string,
    key: Uint8Array,
    orderSeed: Uint8Array = randomBytes(32),
  ): Promise<Checkpoint> {
    await Checkpoint.remove(dir);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
    const meta: Meta = {
      version: VERSION,
      ...params,
      keyColumns: [...params.keyColumns],
      input: await identity(params.file),
      run,
      peerRun,
      committed: false,
      orderSeed: Buffer.from(orderSeed).toString('hex'),
    };
    const handle = await open(join(dir, 'key'), 'wx', 0o600);
    try {
      await writeAll(handle, key, join(dir, 'key'));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await writeMeta(dir, meta);
    return new Checkpoint(dir, meta);
  }

  /**
   * Reads the checkpoint in `dir` for a resume; undefined when there is none.
   * Throws {@link PsiCheckpointError} when it was made for another run, input
   * or settings, or cannot be read.
   */
  static async load(dir: string, params: CheckpointParams): Promise<LoadedCheckpoint | undefined> {
    if (!(await Checkpoint.exists(dir))) return undefined;
    let meta: Meta;
    try {
      meta = JSON.parse(await readFile(join(dir, 'run.json'), 'utf8')) as Meta;
    } catch (error) {
      throw new PsiCheckpointError(dir, 'run.json cannot be read; delete the folder and start afresh', {
        cause: error,
      });
    }
    if (meta.version !== VERSION) {
      throw new PsiCheckpointError(
        dir,
        `was made by checkpoint version ${meta.version}, this is ${VERSION}; start afresh`,
      );
    }
    const checks: [string, unknown, unknown][] = [
      ['--session', meta.session, params.session],
      ['--side', meta.side, params.side],
      ['--file', meta.file, params.file],
      ['--key', meta.keyColumns.join(','), params.keyColumns.join(',')],
      ['--delimiter', meta.delimiter, params.delimiter],
      ['--batch', meta.batchSize, params.batchSize],
      ['--reveal', meta.reveal, params.reveal],
      ['--cardinality-only', meta.cardinalityOnly, params.cardinalityOnly],
    ];
    for (const [flag, was, now] of checks) {
      if (was !== now) {
        throw new PsiCheckpointError(
          dir,
          `was made with ${flag} ${JSON.stringify(was)}, this run has ${JSON.stringify(now)}; resume with the same flags, or start afresh without --resume`,
        );
      }
    }
    const input = await identity(params.file);
    if (input.size !== meta.input.size || input.mtimeMs !== meta.input.mtimeMs || input.ino !== meta.input.ino) {
      throw new PsiCheckpointError(
        dir,
        `${params.file} changed since the checkpoint was made (size, modification time or inode differ); a resume needs the same input, so start afresh without --resume`,
      );
    }
    let key: Uint8Array | undefined;
    if (!meta.committed) {
      const keyFile = join(dir, 'key');
      const s = await stat(keyFile).catch((error: unknown) => {
        throw new PsiCheckpointError(dir, 'the key file is missing; start afresh without --resume', { cause: error });
      });
      if ((s.mode & 0o077) !== 0) {
        throw new PsiCheckpointError(
          dir,
          `the key file is readable by others (mode ${(s.mode & 0o777).toString(8)}, must be 600); delete the folder and start afresh`,
        );
      }
      const bytes = await readFile(keyFile);
      if (bytes.byteLength !== X25519_BYTES) throw new PsiCheckpointError(dir, 'the key file is damaged; start afresh');
      key = new Uint8Array(bytes);
      bytes.fill(0);
    }
    const loaded: LoadedCheckpoint = {
      checkpoint: new Checkpoint(dir, meta),
      run: meta.run,
      peerRun: meta.peerRun,
      committed: meta.committed,
      key,
      orderSeed: seedOf(dir, meta.orderSeed),
      perms: new Map(),
      ownReturned: new Map(),
      peerDoubles: new Map(),
    };
    const log = await readFile(join(dir, 'log')).catch(() => Buffer.alloc(0));
    let at = 0;
    while (at + HEADER <= log.byteLength) {
      const kind = log.readUInt8(at);
      const index = log.readUInt32LE(at + 1);
      const length = log.readUInt32LE(at + 5);
      if (at + HEADER + length > log.byteLength) break; // cut short by a crash: ignore the tail
      const body = new Uint8Array(log.subarray(at + HEADER, at + HEADER + length));
      if (kind === KIND_PERM) loaded.perms.set(index, new Uint32Array(body.buffer, body.byteOffset, length / 4));
      else if (kind === KIND_OWN_RETURNED) loaded.ownReturned.set(index, body);
      else if (kind === KIND_PEER_DOUBLES) loaded.peerDoubles.set(index, body);
      else throw new PsiCheckpointError(dir, `the log is damaged (record kind ${kind} at byte ${at}); start afresh`);
      at += HEADER + length;
    }
    return loaded;
  }

  /** Deletes a checkpoint folder (the key overwritten first). */
  static async remove(dir: string): Promise<void> {
    await shredKey(dir);
    await rm(dir, { recursive: true, force: true });
  }

  /** The permutation own batch `index` is sent in (written before it is sent). */
  appendPerm(index: number, perm: Uint32Array): void {
    this.append(KIND_PERM, index, new Uint8Array(perm.buffer, perm.byteOffset, perm.byteLength));
  }

  /** The peer's values for own batch `index`, in own order. */
  appendOwnReturned(index: number, doubles: Uint8Array): void {
    this.append(KIND_OWN_RETURNED, index, doubles);
  }

  /** Peer batch `index` raised to the own key (last bytes), in the peer's order. */
  appendPeerDoubles(index: number, doubles: Uint8Array): void {
    this.append(KIND_PEER_DOUBLES, index, doubles);
  }

  /**
   * The output is committed: both parties were prepared, so nothing will be
   * masked again and the key goes. The rest stays until the peer confirms its
   * own commit (a resume may still have to serve the peer from the log).
   */
  async markCommitted(): Promise<void> {
    // Durable before the key goes: from here the log is all a resume has.
    if (this.fd !== undefined) fsyncSync(this.fd);
    this.meta = { ...this.meta, committed: true };
    await writeMeta(this.dir, this.meta);
    await shredKey(this.dir);
  }

  /** Closes the log (the folder stays). */
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  /** Closes and deletes the folder. */
  async delete(): Promise<void> {
    this.close();
    await Checkpoint.remove(this.dir);
  }

  private append(kind: number, index: number, body: Uint8Array): void {
    if (this.fd === undefined) return;
    const record = Buffer.allocUnsafe(HEADER + body.byteLength);
    record.writeUInt8(kind, 0);
    record.writeUInt32LE(index, 1);
    record.writeUInt32LE(body.byteLength, 5);
    record.set(body, HEADER);
    // One write per record: a crash leaves at most the last one cut short.
    let done = 0;
    while (done < record.byteLength) done += writeSync(this.fd, record, done);
  }

  /** @internal For tests: the log's size in bytes. */
  logBytes(): number {
    return this.fd === undefined ? 0 : fstatSync(this.fd).size;
  }
}

async function writeMeta(dir: string, meta: Meta): Promise<void> {
  await writeFileAtomic(join(dir, 'run.json'), (f) => f.write(`${JSON.stringify(meta, null, 2)}\n`), { mode: 0o600 });
}

/** Overwrites the key file with zeros, then deletes it (a best effort on journaling file systems and SSDs). */
async function shredKey(dir: string): Promise<void> {
  const file = join(dir, 'key');
  try {
    const handle = await open(file, 'r+');
    try {
      await writeAll(handle, new Uint8Array(X25519_BYTES), file, 0);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await unlink(file);
  } catch (error) {
    if ((error as { code?: string }).code !== 'ENOENT') throw error;
  }
}

/** The order seed recorded in run.json (32 bytes as hex), or a clear error. */
function seedOf(dir: string, hex: unknown): Uint8Array {
  if (typeof hex !== 'string' || !/^[0-9a-f]{64}$/.test(hex)) {
    throw new PsiCheckpointError(dir, 'run.json has no valid orderSeed; delete the folder and start afresh');
  }
  return new Uint8Array(Buffer.from(hex, 'hex'));
}
