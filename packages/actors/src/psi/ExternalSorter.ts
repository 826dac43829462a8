/**
 * Sorts records (a key and a payload, both bytes) by key, stably, in bounded
 * memory: records are gathered in an arena of chunks; when it passes
 * `memoryLimit` it is sorted and written out as a run; {@link finish} merges the runs (or, with
 * none, emits the arena) in key order. The PSI writer sorts matched rows by
 * key this way.
 *
 * Keys are UTF-8 and compare in UTF-16 code-unit order, the order of
 * JavaScript's `<` and of `Array.prototype.sort` on the same strings: UTF-8
 * byte order is code-point order, which differs only in putting U+E000..U+FFFF
 * before the characters above U+FFFF; remapping their lead bytes (0xEE, 0xEF)
 * above every other lead byte restores the UTF-16 order. Records with equal
 * keys keep the order they were added in.
 *
 * In memory the sort is an MSD radix sort on the remapped bytes (stable
 * counting passes, insertion sort for short ranges); runs are merged with a
 * binary heap, ties going to the earlier run.
 *
 * The arena is a list of chunks (up to {@link CHUNK_BYTES} each; a record
 * never spans two), not one buffer that doubles: a doubling arena holds up to
 * twice what it needs, and each growth copies it and leaves the old copy to
 * the garbage collector, so at the last growth three times the data can be
 * resident at once. Both parties of a single-process run sort at the same
 * time, at the end of the run, so that was the peak of the whole run
 * (issue 12: at 1M x 1M, ~40 MB of matched rows per side made a 64 MB arena,
 * plus a 32 MB copy, per side). Chunks are kept for the next run of the same
 * sorter.
 *
 * @internal
 */
import { type FileHandle, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeAll } from './AtomicFileWriter.js';

/** Sort weight of each byte: UTF-8 lead bytes 0xEE and 0xEF go after 0xF0..0xF4. */
const WEIGHT = new Uint16Array(256);
for (let b = 0; b < 256; b++) WEIGHT[b] = b + 1;
WEIGHT[0xee] = 0xf6;
WEIGHT[0xef] = 0xf7;
// 0 means "the key has ended", so every real byte weighs at least 1.

/** Compares two byte ranges in UTF-16 code-unit order of the UTF-8 they hold. */
export function compareUtf8AsUtf16(
  a: Uint8Array,
  as: number,
  ae: number,
  b: Uint8Array,
  bs: number,
  be: number,
): number {
  const la = ae - as;
  const lb = be - bs;
  const n = Math.min(la, lb);
  for (let i = 0; i < n; i++) {
    const x = a[as + i] as number;
    const y = b[bs + i] as number;
    if (x !== y) return (WEIGHT[x] as number) - (WEIGHT[y] as number);
  }
  return la - lb;
}

/** Options of {@link ExternalSorter}. */
export interface SorterOptions {
  /** Folder for the runs (must exist). */
  readonly dir: string;
  readonly name: string;
  /** Arena bytes above which a run is written. */
  readonly memoryLimit: number;
  /** Fault injection for tests: fail (throw) or die (SIGKILL) half-way through the merge. */
  readonly crash?: 'throw' | 'kill';
  /**
   * Once aborted, writing a run or emitting stops at the next chunk (about
   * 1 MiB) and throws the signal's reason; {@link dispose} then deletes the runs.
   */
  readonly signal?: AbortSignal;
}

/** Where sorted payloads go, in order. */
export type SortSink = (bytes: Uint8Array) => Promise<void>;

const RUN_BUFFER = 1 << 20;
const INSERTION = 24;
/** The largest arena chunk (a longer record gets a chunk of its own size); the first is {@link FIRST_CHUNK}, each next one twice the last. */
const CHUNK_BYTES = 1 << 20;
const FIRST_CHUNK = 1 << 16;
/** Words of `meta` per record: chunk, start in the chunk, key length, payload length (the payload follows the key). */
const META = 4;

/** @internal */
export class ExternalSorter {
  /** The arena: chunks [0, cur] hold the records; later ones are kept from an earlier run, for reuse. */
  private chunks: Uint8Array[] = [];
  private cur = -1;
  /** Bytes used in chunk `cur`. */
  private fill = 0;
  /** Bytes of the records held (what `memoryLimit` bounds). */
  private used = 0;
  /** Per record, {@link META} words: chunk, start, key length, payload length. */
  private meta = new Uint32Array(META * 1024);
  private count = 0;
  private runs: string[] = [];
  private disposed = false;
  /** Records added so far. */
  total = 0;
  /** Bytes written to runs. */
  spilledBytes = 0;

  constructor(private readonly o: SorterOptions) {}

  /** True once the arena holds more than the memory limit: call {@link flushRun}. */
  get full(): boolean {
    return this.used > this.o.memoryLimit;
  }

  /** Runs written so far. */
  get runCount(): number {
    return this.runs.length;
  }

  /** Bytes the arena has allocated (its chunks, kept or in use): what the records cost in memory. */
  get arenaBytes(): number {
    let n = 0;
    for (const c of this.chunks) n += c.length;
    return n;
  }

  /** Adds a record: `key[ks..ke]` and `payload[ps..pe]` (both copied). */
  add(key: Uint8Array, ks: number, ke: number, payload: Uint8Array, ps: number, pe: number): void {
    const kl = ke - ks;
    const pl = pe - ps;
    const n = kl + pl;
    if (this.cur < 0 || this.fill + n > (this.chunks[this.cur] as Uint8Array).length) this.nextChunk(n);
    if (META * (this.count + 1) > this.meta.length) {
      const m = new Uint32Array(this.meta.length * 2);
      m.set(this.meta);
      this.meta = m;
    }
    const arena = this.chunks[this.cur] as Uint8Array;
    let at = this.fill;
    const m = META * this.count;
    this.meta[m] = this.cur;
    this.meta[m + 1] = at;
    this.meta[m + 2] = kl;
    this.meta[m + 3] = pl;
    if (kl < 64) for (let i = ks; i < ke; i++) arena[at++] = key[i] as number;
    else {
      arena.set(key.subarray(ks, ke), at);
      at += kl;
    }
    if (pl < 64) for (let i = ps; i < pe; i++) arena[at++] = payload[i] as number;
    else {
      arena.set(payload.subarray(ps, pe), at);
      at += pl;
    }
    this.fill = at;
    this.used += n;
    this.count++;
    this.total++;
  }

  /** Moves on to a chunk with room for `n` bytes: the next kept one if it is big enough, else a new one. */
  private nextChunk(n: number): void {
    const last = this.chunks[this.cur]?.length ?? FIRST_CHUNK / 2;
    this.cur++;
    this.fill = 0;
    const kept = this.chunks[this.cur];
    if (kept !== undefined && kept.length >= n) return;
    const chunk = new Uint8Array(Math.max(n, Math.min(CHUNK_BYTES, last * 2)));
    if (kept === undefined) this.chunks.push(chunk);
    else this.chunks[this.cur] = chunk;
  }

  /** Sorts the arena and writes it as a run file; the arena starts over. */
  async flushRun(): Promise<void> {
    if (this.count === 0) return;
    this.o.signal?.throwIfAborted();
    const order = this.sortArena();
    const path = join(this.o.dir, `${this.o.name}.run${this.runs.length}`);
    this.runs.push(path);
    const file = await open(path, 'w', 0o600);
    try {
      const out = new BufferedOut((b) => writeAll(file, b, path));
      const head = new Uint8Array(8);
      const hv = new DataView(head.buffer);
      for (let i = 0; i < this.count; i++) {
        const r = (order[i] as number) * META;
        const ks = this.meta[r + 1] as number;
        const kl = this.meta[r + 2] as number;
        const pl = this.meta[r + 3] as number;
        hv.setUint32(0, kl, true);
        hv.setUint32(4, pl, true);
        out.put(head, 0, 8);
        out.put(this.chunks[this.meta[r] as number] as Uint8Array, ks, ks + kl + pl);
        if (out.ready) await this.drain(out);
        this.spilledBytes += 8 + kl + pl;
      }
      await out.flush();
    } finally {
      await file.close();
    }
    // The chunks stay for the next run (they hold at most memoryLimit plus one record).
    this.used = 0;
    this.count = 0;
    this.cur = -1;
    this.fill = 0;
  }

  /**
   * Emits every payload in key order, each followed by `suffix` (e.g. a line
   * end), through `sink` in chunks of about 1 MiB.
   */
  async finish(sink: SortSink, suffix: Uint8Array): Promise<void> {
    const out = new BufferedOut(sink);
    if (this.runs.length === 0) {
      const order = this.sortArena();
      for (let i = 0; i < this.count; i++) {
        const r = (order[i] as number) * META;
        const ps = (this.meta[r + 1] as number) + (this.meta[r + 2] as number);
        out.put(this.chunks[this.meta[r] as number] as Uint8Array, ps, ps + (this.meta[r + 3] as number));
        out.put(suffix, 0, suffix.length);
        if (out.ready) await this.drain(out);
      }
      await out.flush();
      return;
    }
    await this.flushRun();
    this.o.signal?.throwIfAborted();
    await this.merge(out, suffix);
    await out.flush();
  }

  /** Hands a full buffer on, unless the sort was aborted. */
  private async drain(out: BufferedOut): Promise<void> {
    this.o.signal?.throwIfAborted();
    await out.drain();
  }

  /** Deletes the runs. Idempotent. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.chunks = [];
    this.cur = -1;
    for (const r of this.runs) await rm(r, { force: true });
    this.runs = [];
  }

  private async merge(out: BufferedOut, suffix: Uint8Array): Promise<void> {
    const readers = await Promise.all(this.runs.map((p) => RunReader.open(p)));
    try {
      // A binary heap of run indices, ordered by their current key (ties: lower run first).
      const heap: number[] = [];
      const less = (x: number, y: number): boolean => {
        const a = readers[x] as RunReader;
        const b = readers[y] as RunReader;
        const c = compareUtf8AsUtf16(a.buf, a.keyStart, a.keyEnd, b.buf, b.keyStart, b.keyEnd);
        return c < 0 || (c === 0 && x < y);
      };
      const down = (at: number) => {
        for (;;) {
          const l = 2 * at + 1;
          if (l >= heap.length) return;
          const r = l + 1;
          const m = r < heap.length && less(heap[r] as number, heap[l] as number) ? r : l;
          if (!less(heap[m] as number, heap[at] as number)) return;
          const t = heap[m] as number;
          heap[m] = heap[at] as number;
          heap[at] = t;
          at = m;
        }
      };
      for (let i = 0; i < readers.length; i++) {
        if (await (readers[i] as RunReader).advance()) {
          heap.push(i);
          let at = heap.length - 1;
          while (at > 0) {
            const p = (at - 1) >> 1;
            if (!less(heap[at] as number, heap[p] as number)) break;
            const t = heap[p] as number;
            heap[p] = heap[at] as number;
            heap[at] = t;
            at = p;
          }
        }
      }
      const half = Math.floor(this.total / 2);
      let emitted = 0;
      while (heap.length > 0) {
        const top = heap[0] as number;
        const r = readers[top] as RunReader;
        out.put(r.buf, r.keyEnd, r.payloadEnd);
        out.put(suffix, 0, suffix.length);
        if (out.ready) await this.drain(out);
        if (++emitted === half && this.o.crash !== undefined) {
          await out.flush();
          if (this.o.crash === 'kill') process.kill(process.pid, 'SIGKILL');
          throw new Error('psi: injected crash in the external sort (test fault)');
        }
        let moved = r.tryAdvance();
        if (moved < 0) moved = (await r.advance()) ? 1 : 0;
        if (moved === 1) down(0);
        else {
          heap[0] = heap[heap.length - 1] as number;
          heap.pop();
          down(0);
        }
      }
    } finally {
      for (const r of readers) await r.close();
    }
  }

  /** The arena's records in key order (stable): an MSD radix sort on remapped bytes. */
  private sortArena(): Uint32Array {
    const n = this.count;
    const chunks = this.chunks;
    const meta = this.meta;
    let a = new Uint32Array(n);
    for (let i = 0; i < n; i++) a[i] = i;
    let aux = new Uint32Array(n);
    const byteAt = (rec: number, d: number): number => {
      const m = rec * META;
      return d < (meta[m + 2] as number)
        ? (WEIGHT[(chunks[meta[m] as number] as Uint8Array)[(meta[m + 1] as number) + d] as number] as number)
        : 0;
    };
    // Ranges [lo, hi) still to sort at depth d; the data for a range lives in `a`.
    const stack: number[] = [0, n, 0];
    const counts = new Uint32Array(258);
    while (stack.length > 0) {
      const d = stack.pop() as number;
      const hi = stack.pop() as number;
      const lo = stack.pop() as number;
      if (hi - lo <= INSERTION) {
        for (let i = lo + 1; i < hi; i++) {
          const x = a[i] as number;
          const xa = chunks[meta[x * META] as number] as Uint8Array;
          const xs = meta[x * META + 1] as number;
          const xe = xs + (meta[x * META + 2] as number);
          let j = i - 1;
          while (j >= lo) {
            const y = a[j] as number;
            const ya = chunks[meta[y * META] as number] as Uint8Array;
            const ys = meta[y * META + 1] as number;
            // Equal prefixes up to d are known; compare from there (strictly less moves: stable).
            if (compareUtf8AsUtf16(xa, xs + d, xe, ya, ys + d, ys + (meta[y * META + 2] as number)) >= 0) break;
            a[j + 1] = y;
            j--;
          }
          a[j + 1] = x;
        }
        continue;
      }
      counts.fill(0);
      let allSame = true;
      const first = byteAt(a[lo] as number, d);
      for (let i = lo; i < hi; i++) {
        const w = byteAt(a[i] as number, d);
        if (w !== first) allSame = false;
        counts[w + 1] = (counts[w + 1] as number) + 1;
      }
      if (allSame) {
        // One bucket: no move needed; go deeper unless every key has ended.
        if (first !== 0) stack.push(lo, hi, d + 1);
        continue;
      }
      for (let w = 1; w < 258; w++) counts[w] = (counts[w] as number) + (counts[w - 1] as number);
      // counts[w] is now the start of bucket w (relative to lo).
      for (let i = lo; i < hi; i++) {
        const x = a[i] as number;
        const w = byteAt(x, d);
        aux[lo + (counts[w] as number)] = x;
        counts[w] = (counts[w] as number) + 1;
      }
      a.set(aux.subarray(lo, hi), lo);
      // counts[w] is now the end of bucket w. Bucket 0 (ended keys) is all equal: already in order.
      let start = counts[0] as number;
      for (let w = 1; w < 257; w++) {
        const end = counts[w] as number;
        if (end - start > 1) stack.push(lo + start, lo + end, d + 1);
        start = end;
      }
    }
    aux = new Uint32Array(0);
    const out = a;
    a = new Uint32Array(0);
    return out;
  }
}

/**
 * Collects bytes and hands them to a sink about 1 MiB at a time: `put` is
 * synchronous (the hot path), and callers `await drain()` when `ready` is set.
 */
class BufferedOut {
  private buf = new Uint8Array(RUN_BUFFER);
  private at = 0;
  private chunks: Uint8Array[] = [];
  /** Set when full chunks wait for the sink. */
  ready = false;
  constructor(private readonly sink: SortSink) {}
  put(src: Uint8Array, s: number, e: number): void {
    const n = e - s;
    if (this.at + n > this.buf.length) {
      this.cut();
      if (n > this.buf.length) {
        this.chunks.push(src.slice(s, e));
        this.ready = true;
        return;
      }
    }
    const buf = this.buf;
    let at = this.at;
    if (n < 64) for (let i = s; i < e; i++) buf[at++] = src[i] as number;
    else {
      buf.set(src.subarray(s, e), at);
      at += n;
    }
    this.at = at;
  }
  private cut(): void {
    if (this.at === 0) return;
    this.chunks.push(this.buf.slice(0, this.at));
    this.at = 0;
    this.ready = true;
  }
  /** Hands the full chunks to the sink. */
  async drain(): Promise<void> {
    const chunks = this.chunks;
    this.chunks = [];
    this.ready = false;
    for (const c of chunks) await this.sink(c);
  }
  /** Hands everything to the sink. */
  async flush(): Promise<void> {
    this.cut();
    await this.drain();
  }
}

/** Reads a run record by record through a buffer (synchronously while the buffer has the record). */
class RunReader {
  buf = new Uint8Array(RUN_BUFFER);
  private filled = 0;
  private pos = 0;
  private eof = false;
  keyStart = 0;
  keyEnd = 0;
  payloadEnd = 0;
  private constructor(private readonly file: FileHandle) {}
  static async open(path: string): Promise<RunReader> {
    return new RunReader(await open(path, 'r'));
  }
  /** Moves to the next record; false at the end of the run. */
  async advance(): Promise<boolean> {
    let r = this.tryAdvance();
    while (r < 0) {
      await this.refill();
      r = this.tryAdvance();
    }
    return r === 1;
  }
  /** 1: moved to the next record; 0: the run has ended; -1: the buffer must be refilled first. */
  tryAdvance(): number {
    const p = this.payloadEnd;
    this.pos = p;
    const have = this.filled - p;
    if (have < 8) return have === 0 && this.eof ? 0 : this.short();
    const b = this.buf;
    const kl =
      ((b[p] as number) | ((b[p + 1] as number) << 8) | ((b[p + 2] as number) << 16)) + (b[p + 3] as number) * 2 ** 24;
    const pl =
      ((b[p + 4] as number) | ((b[p + 5] as number) << 8) | ((b[p + 6] as number) << 16)) +
      (b[p + 7] as number) * 2 ** 24;
    if (have < 8 + kl + pl) return this.short();
    this.keyStart = p + 8;
    this.keyEnd = this.keyStart + kl;
    this.payloadEnd = this.keyEnd + pl;
    return 1;
  }
  private short(): number {
    if (this.eof) throw new Error('psi: a sort run ended in the middle of a record');
    return -1;
  }
  /** Moves the unread bytes to the front and reads more (growing the buffer for a record larger than it). */
  private async refill(): Promise<void> {
    if (this.pos > 0) {
      this.buf.copyWithin(0, this.pos, this.filled);
      this.filled -= this.pos;
      this.pos = 0;
      this.payloadEnd = 0;
    }
    if (this.filled === this.buf.length) {
      const b = new Uint8Array(this.buf.length * 2);
      b.set(this.buf);
      this.buf = b;
    }
    const { bytesRead } = await this.file.read(this.buf, this.filled, this.buf.length - this.filled, null);
    if (bytesRead === 0) this.eof = true;
    this.filled += bytesRead;
  }
  async close(): Promise<void> {
    await this.file.close();
  }
}
