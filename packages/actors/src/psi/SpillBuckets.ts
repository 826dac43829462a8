/**
 * Fixed-size records in B buckets, in memory up to a limit and on disk past
 * it: the out-of-core store behind the PSI data path (the key index, the
 * shuffle, the matcher). Records are `recordWords` 32-bit words; a bucket is
 * read back whole, in the order its records were appended.
 *
 * When the bytes held in memory pass `memoryLimit`, every bucket's buffer is
 * appended to ONE spill file as a segment (one file per store, so a store
 * never holds more than one descriptor) and the buffers start over. Reading a
 * bucket gathers its segments with positioned reads, then the in-memory tail.
 * The file lives in a private temporary folder that {@link dispose} removes.
 *
 * @internal
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { type FileHandle, mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeAll } from './AtomicFileWriter.js';

/** Options of {@link SpillBuckets.create}. */
export interface SpillOptions {
  /** Folder under which the spill file goes (created if missing). */
  readonly dir: string;
  /** For the file name and error messages. */
  readonly name: string;
  readonly buckets: number;
  readonly recordWords: number;
  /** Bytes of buffered records above which they go to disk. */
  readonly memoryLimit: number;
}

interface Segment {
  bucket: number;
  position: number;
  words: number;
}

/** Temporary folders to remove if the process exits with them still there. */
const liveDirs = new Set<string>();
let hooked = false;
function track(dir: string): void {
  if (!hooked) {
    hooked = true;
    process.on('exit', () => {
      for (const d of liveDirs) {
        try {
          rmSync(d, { recursive: true, force: true });
        } catch {
          // Best effort at exit.
        }
      }
    });
  }
  liveDirs.add(dir);
}

/**
 * The name of a folder made by {@link makeScratchDir}: `.psi-<label>-<pid>-<8 hex>.tmp`
 * (group 1 the label, group 2 the pid), so a later run can tell a dead run's folder.
 * @internal
 */
export const SCRATCH_DIR = /^\.psi-(left|right|client|cache)-(\d+)-[0-9a-f]{8}\.tmp$/;

/**
 * A private temporary folder for a run's scratch files, inside `parent`
 * (same file system as the outputs). Its name starts with `.psi-` and ends in
 * `.tmp`, and it is removed at exit if still there.
 * @internal
 */
export async function makeScratchDir(parent: string, label: string): Promise<string> {
  const dir = join(parent, `.psi-${label}-${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  track(dir);
  return dir;
}

/** Removes a folder made by {@link makeScratchDir}. Idempotent. @internal */
export async function removeScratchDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  liveDirs.delete(dir);
}

/** @internal */
export class SpillBuckets {
  private readonly bufs: (Uint32Array | undefined)[];
  private readonly used: Int32Array;
  private readonly counts: Float64Array;
  private segments: Segment[] = [];
  private heldBytes = 0;
  private file: FileHandle | undefined;
  private filePath: string;
  private fileEnd = 0;
  private disposed = false;
  /** Bytes written to disk so far (for reports). */
  spilledBytes = 0;
  /** The buffer of the bucket last given to {@link reserve}. */
  cur: Uint32Array = new Uint32Array(0);
  private readonly initialWords: number;

  private constructor(private readonly o: SpillOptions) {
    if (!Number.isInteger(o.buckets) || o.buckets < 1) throw new RangeError(`buckets must be >= 1, got ${o.buckets}`);
    if (!Number.isInteger(o.recordWords) || o.recordWords < 1) throw new RangeError('recordWords must be >= 1');
    this.bufs = new Array(o.buckets).fill(undefined);
    this.used = new Int32Array(o.buckets);
    this.counts = new Float64Array(o.buckets);
    this.filePath = join(o.dir, `${o.name}.spill`);
    // Start each bucket near its share of the memory limit (few regrowths), within 1 KiB..256 KiB.
    const share = Math.floor(o.memoryLimit / o.buckets / 4 / 4);
    this.initialWords = Math.max(256, Math.min(65_536, share - (share % o.recordWords)));
  }

  static create(options: SpillOptions): SpillBuckets {
    return new SpillBuckets(options);
  }

  get buckets(): number {
    return this.o.buckets;
  }

  get recordWords(): number {
    return this.o.recordWords;
  }

  /** Records in a bucket (in memory and on disk). */
  count(bucket: number): number {
    return this.counts[bucket] as number;
  }

  /** Records in every bucket. */
  get total(): number {
    let t = 0;
    for (let b = 0; b < this.o.buckets; b++) t += this.counts[b] as number;
    return t;
  }

  /** True when the buffers hold more than the memory limit: call {@link spill} before appending more. */
  get full(): boolean {
    return this.heldBytes > this.o.memoryLimit;
  }

  /**
   * Room for one record in `bucket`: returns the word offset to write
   * `recordWords` words at, in {@link cur}. The hot path: no allocation
   * unless the bucket's buffer grows.
   */
  reserve(bucket: number): number {
    const w = this.o.recordWords;
    let buf = this.bufs[bucket];
    const at = this.used[bucket] as number;
    if (buf === undefined || at + w > buf.length) buf = this.grow(bucket, at + w);
    this.used[bucket] = at + w;
    this.counts[bucket] = (this.counts[bucket] as number) + 1;
    this.cur = buf;
    return at;
  }

  /** Appends `n` records from `src` (n * recordWords words) to `bucket`. */
  appendMany(bucket: number, src: Uint32Array, n: number): void {
    const words = n * this.o.recordWords;
    let buf = this.bufs[bucket];
    const at = this.used[bucket] as number;
    if (buf === undefined || at + words > buf.length) buf = this.grow(bucket, at + words);
    buf.set(words === src.length ? src : src.subarray(0, words), at);
    this.used[bucket] = at + words;
    this.counts[bucket] = (this.counts[bucket] as number) + n;
  }

  private grow(bucket: number, need: number): Uint32Array {
    const old = this.bufs[bucket];
    let cap = old === undefined ? this.initialWords : old.length;
    while (cap < need) cap *= 2;
    const buf = new Uint32Array(cap);
    if (old !== undefined) buf.set(old.subarray(0, this.used[bucket] as number));
    this.heldBytes += (cap - (old?.length ?? 0)) * 4;
    this.bufs[bucket] = buf;
    return buf;
  }

  /** Writes every bucket's buffered records to the spill file and frees the buffers. */
  async spill(): Promise<void> {
    this.assertLive();
    if (this.file === undefined) this.file = await open(this.filePath, 'w+', 0o600);
    for (let b = 0; b < this.o.buckets; b++) {
      const buf = this.bufs[b];
      const words = this.used[b] as number;
      if (buf === undefined) continue;
      if (words > 0) {
        const bytes = new Uint8Array(buf.buffer, buf.byteOffset, words * 4);
        await writeAll(this.file, bytes, this.filePath, this.fileEnd);
        this.segments.push({ bucket: b, position: this.fileEnd, words });
        this.fileEnd += bytes.byteLength;
        this.spilledBytes += bytes.byteLength;
      }
      this.bufs[b] = undefined;
      this.used[b] = 0;
    }
    this.heldBytes = 0;
  }

  /**
   * Every record of `bucket`, in append order (its disk segments, then its
   * buffer), as one array of `count(bucket) * recordWords` words. The bucket
   * is emptied: its memory is released and it can be filled again.
   */
  async take(bucket: number): Promise<Uint32Array> {
    this.assertLive();
    const words = (this.counts[bucket] as number) * this.o.recordWords;
    const buffered = this.bufs[bucket];
    const usedWords = this.used[bucket] as number;
    const mine = this.segments.filter((s) => s.bucket === bucket);
    let out: Uint32Array;
    if (mine.length === 0 && buffered !== undefined) {
      out = usedWords === buffered.length ? buffered : buffered.subarray(0, usedWords);
    } else {
      out = new Uint32Array(words);
      let at = 0;
      for (const s of mine) {
        const view = new Uint8Array(out.buffer, at * 4, s.words * 4);
        await readAll(this.file as FileHandle, view, s.position);
        at += s.words;
      }
      if (buffered !== undefined) out.set(buffered.subarray(0, usedWords), at);
    }
    if (mine.length > 0) this.segments = this.segments.filter((s) => s.bucket !== bucket);
    if (buffered !== undefined) this.heldBytes -= buffered.length * 4;
    this.bufs[bucket] = undefined;
    this.used[bucket] = 0;
    this.counts[bucket] = 0;
    return out;
  }

  /** Closes and deletes the spill file. Idempotent. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.bufs.fill(undefined);
    this.segments = [];
    this.heldBytes = 0;
    const file = this.file;
    this.file = undefined;
    await file?.close().catch(() => undefined);
    await rm(this.filePath, { force: true });
  }

  private assertLive(): void {
    if (this.disposed) throw new Error(`spill store ${this.o.name} is already disposed`);
  }
}

async function readAll(file: FileHandle, into: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < into.byteLength) {
    const { bytesRead } = await file.read(into, done, into.byteLength - done, position + done);
    if (bytesRead === 0) throw new Error(`spill file ended early at ${position + done}`);
    done += bytesRead;
  }
}
