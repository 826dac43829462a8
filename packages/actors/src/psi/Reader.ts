/**
 * The reader: turns one party's CSV into its unique key points, in a random
 * order, for the exchanger. Three passes, all in bounded memory:
 *
 * 1. **Scan and hash.** The file is scanned as bytes ({@link CsvRowScanner}),
 *    and each row's key is hashed to its point `u = SHA-256(key)` on the
 *    maskers (the worker threads), a few batches in flight. Each row's
 *    `(u, row)` goes to one of B buckets by the first byte of `u`. Rows whose
 *    key is empty are counted (and, by the party's `emptyKeys` policy, kept,
 *    skipped, or refused with the file, line and column of the first).
 * 2. **Deduplicate.** Bucket by bucket, rows with the same point are one
 *    unique key (equal points cannot be told apart by the protocol anyway):
 *    each unique key gets an index (uid); `(row, uid)` is kept for the writer
 *    and `(u, uid)` goes to a random one of B send buckets.
 * 3. **Send.** Send bucket by bucket, each shuffled, the points go to the
 *    exchanger in batches; so the order the peer sees is a uniformly random
 *    permutation of the unique keys, independent of the file's order.
 *
 * Every store holds a bounded number of bytes in memory and spills the rest
 * to the party's scratch folder ({@link SpillBuckets}); nothing here grows
 * with the file but bitmaps. Bad input fails pass 1 with the reader's error
 * (file, line, column). The exchanger's replies are the backpressure.
 *
 * **Stopping.** One message covers a chunk of the file, a bucket to
 * deduplicate or a bucket to send (which waits on the exchanger batch by
 * batch). When the run is aborted the party's stop signal is tripped and the
 * exchanger refuses the reader's asks ({@link PsiInterruptedError}): the
 * message in flight ends at its next step, quietly (the job is ending; failing
 * here would only report the abort again), and `abort` then deletes the
 * reader's stores and confirms. A wait on an ask ends on the signal too: a
 * stage that is stopping never answers the asks it deferred.
 */
import { open, stat } from 'node:fs/promises';
import { type ActorRef, defineActor } from '@troupe/core';
import { CsvRowScanner, type RowBatch } from './CsvRowScanner.js';
import { CsvEmptyKeyError, PsiInterruptedError } from './errors.js';
import type { ExchangerMsg, MatcherMsg, PartyConfig, PartyEvent, WriterMsg } from './protocol.js';
import { RandomSource } from './RandomSource.js';
import { SpillBuckets } from './SpillBuckets.js';
import { X25519_BYTES } from './x25519.js';

export type ReaderMsg =
  | { type: 'next' }
  | { type: 'dedupe'; bucket: number }
  | { type: 'send'; bucket: number }
  /** From the party (an ask): stop, delete the stores, confirm. */
  | { type: 'abort' };

/** What the reader sends to whoever masks its points: the exchanger, or an unbalanced-PSI role. */
export type ReaderOutMsg = Extract<ExchangerMsg, { type: 'hash' | 'own-batch' | 'own-end' }>;

export interface ReaderInput {
  config: PartyConfig;
  exchanger: ActorRef<ReaderOutMsg>;
  /** Told the number of unique keys at the end; none when nobody matches (the offline cache). */
  matcher?: ActorRef<MatcherMsg>;
  /** Handed the row table at the end; none when no rows are written (the offline cache). */
  writer?: ActorRef<WriterMsg>;
  party: ActorRef<PartyEvent>;
  /** The party's stop signal: once aborted, the message in flight ends at its next step. */
  signal?: AbortSignal;
}

interface Pending {
  firstRow: number;
  count: number;
  points: Promise<Uint8Array>;
  /** Rows of the batch (offsets in it, ascending) left out: empty keys under `emptyKeys: 'skip'`. */
  skip: Uint32Array | undefined;
}

interface ReaderState {
  scanner: CsvRowScanner;
  size: number;
  mtimeMs: number;
  /** Pass 1: `(u: 8 words, row)`, by the first byte of u. */
  points: SpillBuckets;
  /** Pass 2: `(row, uid)`, handed to the writer. */
  rowKeys: SpillBuckets;
  /** Pass 2: `(u: 8 words, uid)`, by a random bucket. */
  send: SpillBuckets;
  pending: Pending[];
  /** Records of the file so far (skipped ones included: row numbers are the file's). */
  rows: number;
  skippedRows: number;
  emptyKeyRows: number;
  firstEmptyKeyLine: number;
  bytesRead: number;
  uniqueKeys: number;
  rnd: RandomSource;
  batchPoints: Uint8Array;
  batchUids: Uint32Array;
  batchFill: number;
  batches: number;
  handedOver: boolean;
  aborted: boolean;
}

const POINT_WORDS = X25519_BYTES / 4;
const KEY_RECORD = POINT_WORDS + 1;
/** Hash jobs in flight from one reader. */
const MAX_PENDING = 6;

/** Thrown through the reader's turn when the run was aborted; caught at its end. */
const ABORTED = Symbol('psi-reader-aborted');

export const Reader = defineActor<ReaderMsg, ReaderState, ReaderInput>({
  name: 'psi-reader',
  init: async (ctx) => {
    const { config } = ctx.input;
    // Bad input (missing file, empty file, missing key column...) fails here, before any work.
    const scanner = await CsvRowScanner.open(config.file, {
      delimiter: config.delimiter,
      keyColumns: config.keyColumns,
    });
    const st = await stat(config.file);
    const { buckets, memoryBytes } = config.limits;
    const store = (name: string, recordWords: number) =>
      SpillBuckets.create({ dir: config.scratchDir, name, buckets, recordWords, memoryLimit: memoryBytes / 4 });
    return {
      scanner,
      size: st.size,
      mtimeMs: st.mtimeMs,
      points: store('points', KEY_RECORD),
      rowKeys: store('row-keys', 2),
      send: store('send', KEY_RECORD),
      pending: [],
      rows: 0,
      skippedRows: 0,
      emptyKeyRows: 0,
      firstEmptyKeyLine: 0,
      bytesRead: 0,
      uniqueKeys: 0,
      rnd: new RandomSource(config.orderSeed),
      batchPoints: new Uint8Array(config.batchSize * X25519_BYTES),
      batchUids: new Uint32Array(config.batchSize),
      batchFill: 0,
      batches: 0,
      handedOver: false,
      aborted: false,
    };
  },
  afterStart: (_s, ctx) => ctx.self.tell({ type: 'next' }),
  receive: async (s, msg, ctx) => {
    if (msg.type === 'abort') {
      s.aborted = true;
      await release(s);
      if (ctx.expectsReply) ctx.reply(true);
      return;
    }
    if (s.aborted || ctx.input.signal?.aborted) return;
    try {
      await step(s, msg, ctx);
    } catch (error) {
      // Refused by an aborted exchanger, or stopped by the party's signal: the run is ending.
      if (error === ABORTED || error instanceof PsiInterruptedError) return;
      throw error;
    }
  },
  afterStop: (s) => release(s),
  beforeRestart: (s) => release(s),
});

type ReaderContext = Parameters<(typeof Reader)['receive']>[2];
type WorkMsg = Exclude<ReaderMsg, { type: 'abort' }>;

async function step(s: ReaderState, msg: WorkMsg, ctx: ReaderContext): Promise<void> {
  const { config, exchanger, party, signal } = ctx.input;
  const live = () => {
    if (signal?.aborted) throw ABORTED;
  };
  const B = config.limits.buckets;
  switch (msg.type) {
    case 'next': {
      const batch = await s.scanner.next();
      live();
      if (batch === undefined) {
        while (s.pending.length > 0) {
          await settleOldest(s, signal);
          live();
        }
        await s.scanner.close();
        ctx.tell(party, { type: 'progress', side: config.side, delta: { bytesRead: s.size - s.bytesRead } });
        s.bytesRead = s.size;
        ctx.tell(ctx.self, { type: 'dedupe', bucket: 0 });
        return;
      }
      const n = batch.count;
      const emptyBefore = s.emptyKeyRows;
      const firstEmptyBefore = s.firstEmptyKeyLine;
      const skip = batch.emptyCount > 0 ? await emptyKeys(s, batch, config) : undefined;
      const end = batch.keyEnds[n] as number;
      // Copies: the scanner reuses its buffers, and these go to another thread.
      const keys = batch.keys.slice(0, end);
      const offsets = batch.keyEnds.slice(0, n + 1);
      const points = ctx.ask<Uint8Array>(exchanger, { type: 'hash', keys, offsets }, { timeoutMs: 3_600_000 });
      // Settled in order below; keep an early failure from being reported as unhandled.
      points.catch(() => undefined);
      s.pending.push({ firstRow: s.rows, count: n, points, skip });
      s.rows += n;
      const skipped = skip?.length ?? 0;
      s.skippedRows += skipped;
      const bytesRead = s.scanner.bytesRead;
      ctx.tell(party, {
        type: 'progress',
        side: config.side,
        delta: {
          rows: n - skipped,
          bytesRead: bytesRead - s.bytesRead,
          emptyKeyRows: s.emptyKeyRows - emptyBefore,
          firstEmptyKeyLine: s.firstEmptyKeyLine - firstEmptyBefore,
        },
      });
      s.bytesRead = bytesRead;
      while (s.pending.length > MAX_PENDING) {
        await settleOldest(s, signal);
        live();
      }
      ctx.tell(ctx.self, { type: 'next' });
      return;
    }
    case 'dedupe': {
      const before = s.uniqueKeys;
      await dedupe(s, msg.bucket);
      live();
      ctx.tell(party, { type: 'progress', side: config.side, delta: { uniqueKeys: s.uniqueKeys - before } });
      if (msg.bucket + 1 < B) ctx.tell(ctx.self, { type: 'dedupe', bucket: msg.bucket + 1 });
      else {
        ctx.tell(party, { type: 'progress', side: config.side, delta: {}, readDone: true });
        ctx.tell(ctx.self, { type: 'send', bucket: 0 });
      }
      return;
    }
    case 'send': {
      const send = (m: ReaderOutMsg) => orAborted(ctx.ask(exchanger, m, { timeoutMs: 3_600_000 }), signal);
      const recs = await s.send.take(msg.bucket);
      live();
      const count = recs.length / KEY_RECORD;
      s.rnd.shuffleRecords(recs, count, KEY_RECORD);
      const words = new Uint32Array(s.batchPoints.buffer);
      for (let i = 0; i < count; i++) {
        const r = i * KEY_RECORD;
        const w = s.batchFill * POINT_WORDS;
        for (let k = 0; k < POINT_WORDS; k++) words[w + k] = recs[r + k] as number;
        s.batchUids[s.batchFill++] = recs[r + POINT_WORDS] as number;
        if (s.batchFill === config.batchSize) {
          await sendBatch(s, send);
          live();
        }
      }
      if (msg.bucket + 1 < B) {
        ctx.tell(ctx.self, { type: 'send', bucket: msg.bucket + 1 });
        return;
      }
      if (s.batchFill > 0) await sendBatch(s, send);
      live();
      await s.send.dispose();
      await s.points.dispose();
      const { writer, matcher } = ctx.input;
      if (writer !== undefined) {
        s.handedOver = true;
        ctx.tell(writer, {
          type: 'rows',
          table: {
            rows: s.rows,
            skippedRows: s.skippedRows,
            uniqueKeys: s.uniqueKeys,
            rowKeys: s.rowKeys,
            headerRaw: s.scanner.headerRaw,
            size: s.size,
            mtimeMs: s.mtimeMs,
            spilledBytes: s.points.spilledBytes + s.send.spilledBytes + s.rowKeys.spilledBytes,
          },
        });
      } else await s.rowKeys.dispose();
      if (matcher !== undefined) ctx.tell(matcher, { type: 'keys', uniqueKeys: s.uniqueKeys });
      ctx.tell(exchanger, { type: 'own-end', batches: s.batches, uniqueKeys: s.uniqueKeys });
      return;
    }
  }
}

async function release(s: ReaderState): Promise<void> {
  s.pending = [];
  await s.scanner.close();
  await s.points.dispose();
  await s.send.dispose();
  if (!s.handedOver) await s.rowKeys.dispose();
}

/**
 * A batch with empty keys: count them; note the line of the first one in the
 * file; refuse it (`emptyKeys: 'refuse'`), or return the rows to leave out
 * (`'skip'`). Under `'match'` they go on like any key (and match each other).
 */
async function emptyKeys(s: ReaderState, batch: RowBatch, config: PartyConfig): Promise<Uint32Array | undefined> {
  if (s.emptyKeyRows === 0) {
    const first = batch.empty.indexOf(1);
    const line = await lineAt(config.file, s.scanner.fileOffset(first));
    s.firstEmptyKeyLine = line;
    if (config.emptyKeys === 'refuse') {
      const raw = new TextDecoder().decode(
        batch.data.subarray(batch.recStart[first] as number, batch.recEnd[first] as number),
      );
      const column = columnOf(raw, s.scanner.keyIndices[0] as number, config.delimiter);
      throw new CsvEmptyKeyError(config.file, line, column, config.keyColumns);
    }
  }
  s.emptyKeyRows += batch.emptyCount;
  if (config.emptyKeys !== 'skip') return undefined;
  const skip = new Uint32Array(batch.emptyCount);
  for (let i = 0, k = 0; i < batch.count; i++) if (batch.empty[i] === 1) skip[k++] = i;
  return skip;
}

/** The 1-based line (as {@link CsvReader} counts them: line feeds before it, plus one) of byte `offset` of `file`. */
async function lineAt(file: string, offset: number): Promise<number> {
  const handle = await open(file, 'r');
  try {
    const buf = new Uint8Array(1 << 20);
    let line = 1;
    for (let at = 0; at < offset; ) {
      const { bytesRead } = await handle.read(buf, 0, Math.min(buf.length, offset - at), at);
      if (bytesRead === 0) break;
      const got = buf.subarray(0, bytesRead);
      for (let i = got.indexOf(0x0a); i !== -1; i = got.indexOf(0x0a, i + 1)) line++;
      at += bytesRead;
    }
    return line;
  } finally {
    await handle.close();
  }
}

/** 1-based column where field `index` starts in an unquoted-or-quoted record (best effort, for the message). */
function columnOf(raw: string, index: number, delimiter: string): number {
  let field = 0;
  let quoted = false;
  for (let i = 0; i < raw.length; i++) {
    if (field === index) return i + 1;
    const c = raw[i];
    if (c === '"') quoted = !quoted;
    else if (c === delimiter && !quoted) field++;
  }
  return raw.length + 1;
}

/**
 * `p`, or a rejection with {@link ABORTED} as soon as `signal` trips: the
 * reader's asks wait on stages that may be stopping (a stopped actor never
 * answers the asks it deferred), so the stop signal must end the wait too.
 */
function orAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return p;
  if (signal.aborted) return Promise.reject(ABORTED);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(ABORTED);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** Waits for the oldest hash job (or the stop signal) and files its rows' points into the buckets. */
async function settleOldest(s: ReaderState, signal: AbortSignal | undefined): Promise<void> {
  const p = s.pending.shift() as Pending;
  const bytes = await orAborted(p.points, signal);
  if (bytes.byteLength !== p.count * X25519_BYTES) {
    throw new Error(`psi: hashing returned ${bytes.byteLength} bytes for ${p.count} keys`);
  }
  const u =
    bytes.byteOffset % 4 === 0
      ? new Uint32Array(bytes.buffer, bytes.byteOffset, p.count * POINT_WORDS)
      : new Uint32Array(bytes.slice().buffer);
  const mask = s.points.buckets - 1;
  const skip = p.skip;
  let next = skip === undefined || skip.length === 0 ? -1 : (skip[0] as number);
  let k = 0;
  for (let i = 0; i < p.count; i++) {
    if (i === next) {
      next = ++k < (skip as Uint32Array).length ? ((skip as Uint32Array)[k] as number) : -1;
      continue;
    }
    const o = i * POINT_WORDS;
    const at = s.points.reserve((u[o] as number) & mask);
    const buf = s.points.cur;
    for (let w = 0; w < POINT_WORDS; w++) buf[at + w] = u[o + w] as number;
    buf[at + POINT_WORDS] = p.firstRow + i;
  }
  if (s.points.full) await s.points.spill();
}

/** One bucket of pass 2: group its rows by point; new points get the next uid and a random send bucket. */
async function dedupe(s: ReaderState, bucket: number): Promise<void> {
  const recs = await s.points.take(bucket);
  const n = recs.length / KEY_RECORD;
  let cap = 16;
  while (cap < 2 * n) cap *= 2;
  const mask = cap - 1;
  const table = new Int32Array(cap).fill(-1);
  const uidOf = new Uint32Array(n);
  const sendMask = s.send.buckets - 1;
  for (let i = 0; i < n; i++) {
    const r = i * KEY_RECORD;
    // Word 0 chose the bucket; word 1 is just as random.
    let h = (recs[r + 1] as number) & mask;
    let uid = -1;
    for (;;) {
      const j = table[h] as number;
      if (j === -1) break;
      const q = j * KEY_RECORD;
      let same = true;
      for (let k = 0; k < POINT_WORDS; k++) {
        if (recs[r + k] !== recs[q + k]) {
          same = false;
          break;
        }
      }
      if (same) {
        uid = uidOf[j] as number;
        break;
      }
      h = (h + 1) & mask;
    }
    if (uid === -1) {
      table[h] = i;
      uid = s.uniqueKeys++;
      const at = s.send.reserve(s.rnd.u32() & sendMask);
      const buf = s.send.cur;
      for (let k = 0; k < POINT_WORDS; k++) buf[at + k] = recs[r + k] as number;
      buf[at + POINT_WORDS] = uid;
    }
    uidOf[i] = uid;
    const rk = s.rowKeys.reserve(bucket);
    s.rowKeys.cur[rk] = recs[r + POINT_WORDS] as number;
    s.rowKeys.cur[rk + 1] = uid;
  }
  if (s.send.full) await s.send.spill();
  if (s.rowKeys.full) await s.rowKeys.spill();
}

/** Hand the full batch to the exchanger; resolves when it has room for more. */
async function sendBatch(s: ReaderState, send: (m: ReaderOutMsg) => Promise<unknown>): Promise<void> {
  const n = s.batchFill;
  const points = s.batchPoints.slice(0, n * X25519_BYTES);
  const uids = s.batchUids.slice(0, n);
  s.batchFill = 0;
  await send({ type: 'own-batch', index: s.batches++, points, uids });
}
