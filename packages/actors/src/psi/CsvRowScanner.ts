/**
 * A fast CSV record scanner for the PSI data path: it works on the file's
 * bytes, makes no object per record, and yields, per chunk of the file, each
 * record's byte range and its key (the key columns' values, packed as UTF-8,
 * joined as {@link joinKeyColumns} does).
 *
 * {@link CsvReader} is the specification: the scanner accepts exactly the
 * files it accepts and yields the same records (the tests compare the two on
 * random input). The scanner only *detects* problems; the error itself (with
 * file, line and column) always comes from running `CsvReader` over the file,
 * so the messages are exactly those of the reader. A delimiter outside ASCII
 * is handled by `CsvReader` itself, through the same interface.
 *
 * @internal
 */
import { isUtf8 } from 'node:buffer';
import { type FileHandle, open } from 'node:fs/promises';
import { CsvReader } from './csv.js';
import { CsvFileNotFoundError, CsvReadError } from './errors.js';
import { joinKeyColumns } from './x25519.js';

/** What one call of {@link CsvRowScanner.next} yields. Valid only until the next call. */
export interface RowBatch {
  /** Records in the batch. */
  count: number;
  /** Keys packed: key `i` is `keys[keyEnds[i]..keyEnds[i+1]]` (UTF-8). */
  keys: Uint8Array;
  keyEnds: Uint32Array;
  /** Bytes the records are in: record `i` is `data[recStart[i]..recEnd[i]]`, as in the file, without its line end. */
  data: Uint8Array;
  recStart: Uint32Array;
  recEnd: Uint32Array;
  /** `empty[i]` is 1 when every key column of record `i` is empty (`""` counts as empty). */
  empty: Uint8Array;
  /** Records of the batch whose key is empty. */
  emptyCount: number;
}

/** Options of {@link CsvRowScanner.open}. */
export interface ScanOptions {
  readonly delimiter: string;
  readonly keyColumns: readonly string[];
  /** Bytes read per chunk; default 1 MiB. */
  readonly chunkSize?: number;
  /** Longest record accepted, as in {@link CsvReader}; default 16 Mi characters. */
  readonly maxRecordLength?: number;
}

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;
const DEFAULT_CHUNK = 1 << 20;
const DEFAULT_MAX_RECORD = 16 << 20;
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
const encoder = new TextEncoder();

/** The scanner found something the reader must explain (or, for a long record, judge). */
class Suspect extends Error {
  constructor(readonly onlyLength = false) {
    super('suspect');
  }
}

/** Grows a typed array to at least `need` elements. */
function grownU32(a: Uint32Array, need: number): Uint32Array<ArrayBuffer> {
  let n = a.length;
  while (n < need) n *= 2;
  const b = new Uint32Array(n);
  b.set(a);
  return b;
}

/**
 * Reads a CSV file as batches of records with their keys. Use {@link open},
 * then {@link next} until it returns `undefined`; {@link close} in a `finally`.
 */
export abstract class CsvRowScanner {
  /** The header's fields and raw text (as {@link CsvReader} has them). */
  abstract readonly header: readonly string[];
  abstract readonly headerRaw: string;
  /** The key columns' indices in the header, in key order. */
  abstract readonly keyIndices: readonly number[];
  /** Records yielded so far. */
  rows = 0;
  /** Bytes of the file covered by the records yielded so far (the file's size once at its end). */
  bytesRead = 0;
  /**
   * When set, a bitmap over row numbers: only those rows' keys are taken (the
   * others yield an empty key). The writer's second pass uses it.
   */
  only: Uint32Array | undefined;

  /** The next batch of records, or `undefined` at the end of the file. Throws the reader's error on bad input. */
  abstract next(): Promise<RowBatch | undefined>;
  abstract close(): Promise<void>;
  /** Where record `i` of the last batch starts in the file (bytes, a UTF-8 BOM included). */
  abstract fileOffset(i: number): number;

  /**
   * Opens `file`; bad input that the header shows (empty file, missing key
   * column...) throws here, as {@link CsvReader.open} does.
   */
  static async open(file: string, options: ScanOptions): Promise<CsvRowScanner> {
    const exact = await CsvReader.open(file, { delimiter: options.delimiter });
    let keyIndices: number[];
    try {
      keyIndices = exact.columnIndices(options.keyColumns);
    } catch (error) {
      await exact.close();
      throw error;
    }
    if (options.delimiter.charCodeAt(0) >= 0x80) return new ReaderScanner(exact, keyIndices);
    await exact.close();
    const s = new ByteScanner(file, options, exact.header, exact.headerRaw, keyIndices);
    await s.start();
    return s;
  }
}

/** The general path (and the tests' reference): {@link CsvReader}'s records, in the same batch form. */
export class ReaderScanner extends CsvRowScanner {
  readonly header: readonly string[];
  readonly headerRaw: string;
  private readonly it: AsyncIterator<import('./csv.js').CsvRecord[]>;
  private keys = new Uint8Array(1 << 16);
  private keyEnds = new Uint32Array(1 << 10);
  private recStart = new Uint32Array(1 << 10);
  private recEnd = new Uint32Array(1 << 10);
  private data = new Uint8Array(1 << 16);
  private empty = new Uint8Array(1 << 10);
  private offsets = new Float64Array(1 << 10);

  constructor(
    private readonly reader: CsvReader,
    readonly keyIndices: number[],
  ) {
    super();
    this.header = reader.header;
    this.headerRaw = reader.headerRaw;
    this.it = reader.batches()[Symbol.asyncIterator]();
  }

  async next(): Promise<RowBatch | undefined> {
    const r = await this.it.next();
    if (r.done) return undefined;
    const records = r.value;
    const n = records.length;
    if (this.keyEnds.length < n + 1) this.keyEnds = grownU32(this.keyEnds, n + 1);
    if (this.recStart.length < n) {
      this.recStart = grownU32(this.recStart, n);
      this.recEnd = grownU32(this.recEnd, n);
      this.empty = new Uint8Array(this.recStart.length);
      this.offsets = new Float64Array(this.recStart.length);
    }
    let k = 0;
    let d = 0;
    let emptyCount = 0;
    for (let i = 0; i < n; i++) {
      const rec = records[i] as import('./csv.js').CsvRecord;
      const values = this.keyIndices.map((c) => rec.fields[c] as string);
      const empty = values.every((v) => v === '') ? 1 : 0;
      this.empty[i] = empty;
      emptyCount += empty;
      this.offsets[i] = rec.byteOffset;
      this.bytesRead = rec.byteOffset + rec.byteLength;
      const key = joinKeyColumns(values);
      const kb = encoder.encode(key);
      const rb = encoder.encode(rec.raw);
      if (k + kb.length > this.keys.length) this.keys = grown8(this.keys, k + kb.length);
      if (d + rb.length > this.data.length) this.data = grown8(this.data, d + rb.length);
      this.keys.set(kb, k);
      k += kb.length;
      this.keyEnds[i + 1] = k;
      this.data.set(rb, d);
      this.recStart[i] = d;
      d += rb.length;
      this.recEnd[i] = d;
    }
    this.keyEnds[0] = 0;
    this.rows += n;
    return {
      count: n,
      keys: this.keys,
      keyEnds: this.keyEnds,
      data: this.data,
      recStart: this.recStart,
      recEnd: this.recEnd,
      empty: this.empty,
      emptyCount,
    };
  }

  fileOffset(i: number): number {
    return this.offsets[i] as number;
  }

  close(): Promise<void> {
    return this.reader.close();
  }
}

function grown8(a: Uint8Array, need: number): Uint8Array<ArrayBuffer> {
  let n = a.length;
  while (n < need) n *= 2;
  const b = new Uint8Array(n);
  b.set(a);
  return b;
}

/** The fast path: bytes, an ASCII delimiter. */
class ByteScanner extends CsvRowScanner {
  private handle: FileHandle | undefined;
  private buf: Uint8Array;
  private filled = 0;
  private eof = false;
  private first = true;
  private expected = -1;
  private headerSeen = false;
  private lengthChecked = false;
  private readonly delim: number;
  /** 1 for the bytes an unquoted field stops at (delimiter, quote, CR, LF). */
  private readonly special = new Uint8Array(256);
  private readonly maxRecord: number;
  /** For each field index: its slot among the key columns, or -1. */
  private readonly keySlot: Int32Array;
  private readonly slots: number;
  private readonly fieldStart: Int32Array;
  private readonly fieldEnd: Int32Array;
  private readonly fieldQuoted: Uint8Array;
  private keys = new Uint8Array(1 << 16);
  private keyEnds = new Uint32Array(1 << 12);
  private recStart = new Uint32Array(1 << 12);
  private recEnd = new Uint32Array(1 << 12);
  private empty = new Uint8Array(1 << 12);
  private emptyCount = 0;
  /** Bytes consumed from the front of `buf` by the last batch (moved out before the next read). */
  private consumed = 0;
  /** Where `buf[0]` is in the file (3 past a UTF-8 BOM at first). */
  private base = 0;

  constructor(
    private readonly file: string,
    options: ScanOptions,
    readonly header: readonly string[],
    readonly headerRaw: string,
    readonly keyIndices: number[],
  ) {
    super();
    this.delim = options.delimiter.charCodeAt(0);
    for (const b of [this.delim, QUOTE, CR, LF]) this.special[b] = 1;
    this.maxRecord = options.maxRecordLength ?? DEFAULT_MAX_RECORD;
    this.buf = new Uint8Array(options.chunkSize ?? DEFAULT_CHUNK);
    const fields = header.length;
    this.keySlot = new Int32Array(Math.max(fields, ...keyIndices.map((k) => k + 1))).fill(-1);
    keyIndices.forEach((k, slot) => {
      this.keySlot[k] = slot;
    });
    this.slots = keyIndices.length;
    this.fieldStart = new Int32Array(this.slots);
    this.fieldEnd = new Int32Array(this.slots);
    this.fieldQuoted = new Uint8Array(this.slots);
  }

  async start(): Promise<void> {
    try {
      this.handle = await open(this.file, 'r');
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ENOENT') throw new CsvFileNotFoundError(this.file, { cause: error });
      throw new CsvReadError(this.file, { cause: error });
    }
  }

  async close(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    this.eof = true;
    await h?.close();
  }

  async next(): Promise<RowBatch | undefined> {
    for (;;) {
      // Drop what the last batch used.
      if (this.consumed > 0) {
        this.buf.copyWithin(0, this.consumed, this.filled);
        this.filled -= this.consumed;
        this.base += this.consumed;
        this.consumed = 0;
      }
      if (!this.eof) await this.read();
      const final = this.eof;
      if (this.filled === 0 && final) return undefined;
      let count: number;
      let done: number;
      try {
        ({ count, done } = this.scan(final));
        // Complete records (and blank lines) only: every character in [0, done) is whole.
        if (done > 0 && !isUtf8(this.buf.subarray(0, done))) throw new Suspect();
        if (final && done < this.filled) throw new Suspect(); // cannot happen on valid input
        if (!final && done === 0 && this.filled === this.buf.length) {
          // One record fills the buffer: grow it (bounded by the record limit).
          if (this.filled > this.maxRecord && !this.lengthChecked) throw new Suspect(true);
          const bigger = new Uint8Array(this.buf.length * 2);
          bigger.set(this.buf.subarray(0, this.filled));
          this.buf = bigger;
          continue;
        }
      } catch (error) {
        if (!(error instanceof Suspect)) throw error;
        await this.explain();
        if (error.onlyLength) {
          // The reader accepts the long record: carry on with a bigger buffer.
          this.lengthChecked = true;
          continue;
        }
        throw new Error(`psi: internal error: the CSV scanner and CsvReader disagree on ${this.file}`);
      }
      this.consumed = done;
      this.bytesRead = this.base + done;
      if (count === 0) {
        if (final) return undefined;
        continue;
      }
      this.rows += count;
      return {
        count,
        keys: this.keys,
        keyEnds: this.keyEnds,
        data: this.buf,
        recStart: this.recStart,
        recEnd: this.recEnd,
        empty: this.empty,
        emptyCount: this.emptyCount,
      };
    }
  }

  fileOffset(i: number): number {
    return this.base + (this.recStart[i] as number);
  }

  private async read(): Promise<void> {
    const h = this.handle;
    if (h === undefined) {
      this.eof = true;
      return;
    }
    while (this.filled < this.buf.length) {
      let bytesRead: number;
      try {
        ({ bytesRead } = await h.read(this.buf, this.filled, this.buf.length - this.filled, null));
      } catch (error) {
        throw new CsvReadError(this.file, { cause: error });
      }
      if (bytesRead === 0) {
        this.eof = true;
        await this.close();
        break;
      }
      if (this.first) {
        this.first = false;
        if (bytesRead >= 3 && this.buf[0] === 0xef && this.buf[1] === 0xbb && this.buf[2] === 0xbf) {
          this.buf.copyWithin(0, 3, bytesRead);
          bytesRead -= 3;
          this.base = 3;
        }
      }
      this.filled += bytesRead;
      // One read per call is enough once there is a chunk's worth to scan.
      if (this.filled >= this.buf.length / 2) break;
    }
  }

  /** Runs the reader over the file: throws its error. Returns when the reader accepts the file. */
  private async explain(): Promise<void> {
    const reader = await CsvReader.open(this.file, { delimiter: String.fromCharCode(this.delim) });
    try {
      for await (const _ of reader.batches()) {
        // Only its verdict matters.
      }
    } finally {
      await reader.close();
    }
  }

  /**
   * Scans complete records in `buf[0..filled)`; returns how many and how far
   * it consumed. The header (first record of the file) is skipped. Any
   * problem throws {@link Suspect}.
   */
  private scan(final: boolean): { count: number; done: number } {
    const buf = this.buf;
    const len = this.filled;
    const delim = this.delim;
    const special = this.special;
    const keySlot = this.keySlot;
    const slotCount = this.slots;
    const fStart = this.fieldStart;
    const fEnd = this.fieldEnd;
    const fQuoted = this.fieldQuoted;
    let count = 0;
    let keyAt = 0;
    let i = 0;
    let done = 0;
    let emptyCount = 0;
    // Committed only when the scan returns: a scan that throws can be run again from the start.
    let expected = this.expected;
    let headerSeen = this.headerSeen;
    this.keyEnds[0] = 0;
    records: while (i < len) {
      const recStart = i;
      let c = buf[i] as number;
      if (c === LF) {
        done = i = i + 1;
        continue;
      }
      if (c === CR) {
        if (i + 1 < len) {
          if (buf[i + 1] === LF) {
            done = i = i + 2;
            continue;
          }
        } else {
          if (!final) break;
          done = i = len;
          continue;
        }
      }
      let field = 0;
      let recEnd = -1;
      let next = -1;
      for (;;) {
        const slot = field < keySlot.length ? (keySlot[field] as number) : -1;
        c = i < len ? (buf[i] as number) : -1;
        if (c === QUOTE) {
          let j = i + 1;
          let q: number;
          for (;;) {
            q = buf.indexOf(QUOTE, j);
            if (q === -1 || q >= len) {
              if (!final) break records;
              throw new Suspect();
            }
            if (q + 1 >= len && !final) break records;
            if (q + 1 < len && buf[q + 1] === QUOTE) {
              j = q + 2;
              continue;
            }
            break;
          }
          if (slot >= 0) {
            fStart[slot] = i + 1;
            fEnd[slot] = q;
            fQuoted[slot] = 1;
          }
          i = q + 1;
          field++;
          c = i < len ? (buf[i] as number) : -1;
          if (c === delim) {
            i++;
            continue;
          }
          if (c === LF) {
            recEnd = i;
            next = i + 1;
          } else if (c === CR && i + 1 < len && buf[i + 1] === LF) {
            recEnd = i;
            next = i + 2;
          } else if (c === -1 || (c === CR && i + 1 >= len)) {
            if (!final) break records;
            recEnd = i;
            next = len;
          } else {
            throw new Suspect();
          }
          break;
        }
        const start = i;
        let fieldEnd = -1;
        for (;;) {
          // Skip ordinary bytes at one table look-up each.
          while (i < len && special[buf[i] as number] === 0) i++;
          if (i >= len) {
            if (!final) break records;
            fieldEnd = i;
            recEnd = next = i;
            break;
          }
          c = buf[i] as number;
          if (c === delim) {
            fieldEnd = i;
            i++;
            break;
          }
          if (c === LF) {
            fieldEnd = i;
            recEnd = i;
            next = i + 1;
            break;
          }
          if (c === CR) {
            if (i + 1 >= len && !final) break records;
            if (i + 1 >= len || buf[i + 1] === LF) {
              fieldEnd = i;
              recEnd = i;
              next = Math.min(i + 2, len);
              break;
            }
          } else if (c === QUOTE) {
            throw new Suspect();
          }
          i++;
        }
        if (slot >= 0) {
          fStart[slot] = start;
          fEnd[slot] = fieldEnd;
          fQuoted[slot] = 0;
        }
        field++;
        if (recEnd !== -1) break;
      }
      if (recEnd - recStart > this.maxRecord && !this.lengthChecked) throw new Suspect(true);
      if (expected === -1) expected = field;
      else if (field !== expected) throw new Suspect();
      if (!headerSeen) {
        // The header: CsvReader already parsed it; it has no key to take.
        headerSeen = true;
      } else {
        if (count + 1 >= this.keyEnds.length) this.keyEnds = grownU32(this.keyEnds, count + 2);
        if (count >= this.recStart.length) {
          this.recStart = grownU32(this.recStart, count + 1);
          this.recEnd = grownU32(this.recEnd, count + 1);
          const e = new Uint8Array(this.recStart.length);
          e.set(this.empty);
          this.empty = e;
        }
        let empty = 1;
        for (let k = 0; k < slotCount; k++) if (fEnd[k] !== fStart[k]) empty = 0;
        this.empty[count] = empty;
        emptyCount += empty;
        const row = this.rows + count;
        const only = this.only;
        if (only === undefined || ((only[row >>> 5] as number) & (1 << (row & 31))) !== 0) {
          keyAt = this.takeKey(buf, keyAt, slotCount, fStart, fEnd, fQuoted);
        }
        this.recStart[count] = recStart;
        this.recEnd[count] = recEnd;
        count++;
        this.keyEnds[count] = keyAt;
      }
      i = done = next;
    }
    this.expected = expected;
    this.headerSeen = headerSeen;
    this.emptyCount = emptyCount;
    return { count, done };
  }

  /** Appends the record's key (as `joinKeyColumns` makes it) to `keys` at `at`; returns the new end. */
  private takeKey(
    buf: Uint8Array,
    at: number,
    slots: number,
    fStart: Int32Array,
    fEnd: Int32Array,
    fQuoted: Uint8Array,
  ): number {
    if (slots === 1) {
      const s = fStart[0] as number;
      const e = fEnd[0] as number;
      if (at + (e - s) > this.keys.length) this.keys = grown8(this.keys, at + (e - s));
      const keys = this.keys;
      if (fQuoted[0] === 0) {
        for (let p = s; p < e; p++) keys[at++] = buf[p] as number;
        return at;
      }
      // Quoted: a doubled quote stands for one.
      for (let p = s; p < e; p++) {
        const b = buf[p] as number;
        keys[at++] = b;
        if (b === QUOTE) p++;
      }
      return at;
    }
    const values: string[] = [];
    for (let k = 0; k < slots; k++) {
      const text = decoder.decode(buf.subarray(fStart[k] as number, fEnd[k] as number));
      values.push(fQuoted[k] === 1 ? text.replaceAll('""', '"') : text);
    }
    const bytes = encoder.encode(joinKeyColumns(values));
    if (at + bytes.length > this.keys.length) this.keys = grown8(this.keys, at + bytes.length);
    this.keys.set(bytes, at);
    return at + bytes.length;
  }
}
