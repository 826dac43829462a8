/**
 * The reader: streams one party's CSV, collects its unique keys, and feeds them
 * to the exchanger in batches of packed UTF-8 (the masker hashes them in its
 * thread). One chunk of the file per message, so the reader stays responsive
 * to a stop between chunks; the exchanger's reply to each batch is the
 * backpressure that keeps a fast file from outrunning the maskers.
 */
import { type ActorRef, defineActor } from '@troupe/core';
import { CsvReader, type CsvRecord } from './csv.js';
import { CsvEmptyKeyError, PsiInterruptedError } from './errors.js';
import type { ExchangerMsg, MatcherMsg, PartyConfig, PartyEvent, WriterMsg } from './protocol.js';
import { joinKeyColumns } from './x25519.js';

export type ReaderMsg = { type: 'next' };

export interface ReaderInput {
  config: PartyConfig;
  exchanger: ActorRef<ExchangerMsg>;
  matcher: ActorRef<MatcherMsg>;
  writer: ActorRef<WriterMsg>;
  party: ActorRef<PartyEvent>;
}

interface ReaderState {
  csv: CsvReader;
  records: AsyncIterator<CsvRecord[]>;
  keyIndices: number[];
  /** Unique key → its index; `keys[i]` is key i. */
  index: Map<string, number>;
  keys: string[];
  rows: number;
  /** Per row: its unique key's index, and its bytes in the file. */
  rowKey: Uint32Array;
  rowOffset: Float64Array;
  rowLength: Uint32Array;
  batch: KeyPacker;
  batches: number;
  /** Bytes of the file covered by the records seen so far. */
  bytesRead: number;
  emptyKeyRows: number;
  firstEmptyKeyLine: number;
}

const encoder = new TextEncoder();

/** Packs keys as UTF-8 into one buffer with offsets: one transferable message per batch. */
class KeyPacker {
  bytes = new Uint8Array(64 * 1024);
  offsets: Uint32Array;
  count = 0;
  used = 0;
  firstUnique = 0;
  constructor(readonly capacity: number) {
    this.offsets = new Uint32Array(capacity + 1);
  }
  add(key: string): void {
    const need = this.used + key.length * 3;
    if (need > this.bytes.byteLength) {
      const grown = new Uint8Array(Math.max(need, this.bytes.byteLength * 2));
      grown.set(this.bytes.subarray(0, this.used));
      this.bytes = grown;
    }
    this.used += encoder.encodeInto(key, this.bytes.subarray(this.used)).written;
    this.offsets[++this.count] = this.used;
  }
  get full(): boolean {
    return this.count >= this.capacity;
  }
  /** The packed batch (copies, so the packer can be reused). */
  take(): { keys: Uint8Array; offsets: Uint32Array; firstUnique: number } {
    const out = {
      keys: this.bytes.slice(0, this.used),
      offsets: this.offsets.slice(0, this.count + 1),
      firstUnique: this.firstUnique,
    };
    this.firstUnique += this.count;
    this.count = 0;
    this.used = 0;
    return out;
  }
}

export const Reader = defineActor<ReaderMsg, ReaderState, ReaderInput>({
  name: 'psi-reader',
  init: async (ctx) => {
    const { config } = ctx.input;
    // Bad input (missing file, empty file, missing key column...) fails here, before any work.
    const csv = await CsvReader.open(config.file, { delimiter: config.delimiter });
    let keyIndices: number[];
    try {
      keyIndices = csv.columnIndices(config.keyColumns);
    } catch (error) {
      await csv.close();
      throw error;
    }
    return {
      csv,
      records: csv.batches()[Symbol.asyncIterator](),
      keyIndices,
      index: new Map(),
      keys: [],
      rows: 0,
      rowKey: new Uint32Array(1 << 16),
      rowOffset: new Float64Array(1 << 16),
      rowLength: new Uint32Array(1 << 16),
      batch: new KeyPacker(config.batchSize),
      batches: 0,
      bytesRead: 0,
      emptyKeyRows: 0,
      firstEmptyKeyLine: 0,
    };
  },
  afterStart: (_s, ctx) => ctx.self.tell({ type: 'next' }),
  receive: async (s, _msg, ctx) => {
    // An aborted run refuses the next batch: the reader then just stops reading (the job is ending;
    // failing here would only log the abort once more as this actor's failure).
    const send = (m: ExchangerMsg) =>
      ctx.ask(ctx.input.exchanger, m, { timeoutMs: 3_600_000 }).catch((error: unknown) => {
        if (error instanceof PsiInterruptedError) throw ABORTED;
        throw error;
      });
    try {
      await readNext(s, ctx, send);
    } catch (error) {
      if (error !== ABORTED) throw error;
    }
  },
  afterStop: (s) => s.csv.close(),
  beforeRestart: (s) => s.csv.close(),
});

/** Thrown through the reader's turn when the run was aborted; caught at its end. */
const ABORTED = Symbol('psi-reader-aborted');

type ReaderContext = Parameters<(typeof Reader)['receive']>[2];

/** One chunk of the file: its keys to the batches, its rows to the table; or, at the end, the table to the writer. */
async function readNext(
  s: ReaderState,
  ctx: ReaderContext,
  send: (m: ExchangerMsg) => Promise<unknown>,
): Promise<void> {
  const { exchanger, matcher, writer, party, config } = ctx.input;
  const next = await s.records.next();
  if (next.done) {
    if (s.batch.count > 0) await sendBatch(s, send);
    ctx.tell(writer, {
      type: 'rows',
      table: {
        keys: s.keys,
        index: s.index,
        rows: s.rows,
        rowKey: s.rowKey.subarray(0, s.rows),
        rowOffset: s.rowOffset.subarray(0, s.rows),
        rowLength: s.rowLength.subarray(0, s.rows),
        headerRaw: s.csv.headerRaw,
      },
    });
    ctx.tell(matcher, { type: 'keys', uniqueKeys: s.keys.length });
    ctx.tell(exchanger, { type: 'own-end', batches: s.batches, uniqueKeys: s.keys.length });
    ctx.tell(party, { type: 'progress', side: config.side, delta: {}, readDone: true });
    return;
  }
  const { keyIndices, index, keys, batch } = s;
  const rowsBefore = s.rows;
  const uniqueBefore = keys.length;
  const bytesBefore = s.bytesRead;
  const emptyBefore = s.emptyKeyRows;
  const firstEmptyBefore = s.firstEmptyKeyLine;
  const single = keyIndices.length === 1 ? (keyIndices[0] as number) : -1;
  const records = next.value;
  if (s.rows + records.length > s.rowKey.length) growRows(s, s.rows + records.length);
  for (const record of records) {
    const fields = record.fields;
    s.bytesRead = record.byteOffset + record.byteLength;
    if (keyIndices.every((i) => fields[i] === '')) {
      s.emptyKeyRows++;
      if (s.firstEmptyKeyLine === 0) s.firstEmptyKeyLine = record.line;
      if (config.emptyKeys === 'refuse') {
        throw new CsvEmptyKeyError(
          config.file,
          record.line,
          columnOf(record.raw, keyIndices[0] as number, config.delimiter),
          config.keyColumns,
        );
      }
      if (config.emptyKeys === 'skip') continue;
    }
    const key = single >= 0 ? (fields[single] as string) : joinKeyColumns(keyIndices.map((i) => fields[i] as string));
    const row = s.rows++;
    s.rowOffset[row] = record.byteOffset;
    s.rowLength[row] = record.byteLength;
    const known = index.get(key);
    if (known !== undefined) {
      s.rowKey[row] = known;
      continue;
    }
    s.rowKey[row] = keys.length;
    index.set(key, keys.length);
    keys.push(key);
    batch.add(key);
    if (batch.full) await sendBatch(s, send);
  }
  ctx.tell(party, {
    type: 'progress',
    side: config.side,
    delta: {
      rows: s.rows - rowsBefore,
      uniqueKeys: keys.length - uniqueBefore,
      bytesRead: s.bytesRead - bytesBefore,
      emptyKeyRows: s.emptyKeyRows - emptyBefore,
      firstEmptyKeyLine: s.firstEmptyKeyLine - firstEmptyBefore,
    },
  });
  ctx.tell(ctx.self, { type: 'next' });
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

function growRows(s: ReaderState, need: number): void {
  let n = s.rowKey.length;
  while (n < need) n *= 2;
  const k = new Uint32Array(n);
  k.set(s.rowKey);
  s.rowKey = k;
  const o = new Float64Array(n);
  o.set(s.rowOffset);
  s.rowOffset = o;
  const l = new Uint32Array(n);
  l.set(s.rowLength);
  s.rowLength = l;
}

/** Hand a full batch to the exchanger; resolves when it has room for more. */
async function sendBatch(s: ReaderState, send: (m: ExchangerMsg) => Promise<unknown>): Promise<void> {
  const { keys, offsets, firstUnique } = s.batch.take();
  await send({ type: 'own-batch', index: s.batches++, firstUnique, keys, offsets });
}
