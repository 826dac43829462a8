/**
 * The writer: once it knows which unique keys are in the intersection (from
 * the matcher) and which key each row has (from the reader), it marks the
 * matched rows in a bitmap, reads its party's file again in one sequential
 * pass, and writes the matched rows sorted by key (rows with equal keys keep
 * their file order) to a temporary file: in memory up to `sortBytes`, by an
 * external merge sort past that ({@link ExternalSorter}). The file appears
 * under its real name only on `commit`, which the job sends once both parties
 * have written; stopped or aborted before that, the writer deletes the
 * temporary file and its sort runs: no partial output.
 *
 * The write is one long message (minutes at 10M rows): it checks the party's
 * stop signal at every step (a bucket of the row map, a chunk of the file, a
 * sorted run, a megabyte of output) and ends early, quietly, once it is
 * tripped; `abort` then deletes the temporary output and the runs, and
 * confirms (it is an ask from the party).
 *
 * Its interface, for whoever feeds it (the reader and matcher here; any
 * other source of the same two facts): `rows` hands over the
 * {@link RowTable} (which row has which unique key, in a spillable store the
 * writer takes over and disposes), `write` the matched unique keys as a
 * byte per key; the writer starts once it has both, in either order, and
 * reports `party-written` (then, on `commit`, `party-committed`) to its party.
 */
import { stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ActorRef, defineActor } from '@troupe/core';
import { AtomicFileWriter } from './AtomicFileWriter.js';
import { CsvRowScanner } from './CsvRowScanner.js';
import { ExternalSorter } from './ExternalSorter.js';
import { CsvInputChangedError, PsiInterruptedError } from './errors.js';
import type { PartyConfig, PartyEvent, RowTable, WriterMsg } from './protocol.js';

export interface WriterInput {
  config: PartyConfig;
  party: ActorRef<PartyEvent>;
  /** The party's stop signal: once aborted, a write in progress ends at its next step. */
  signal?: AbortSignal;
}

interface WriterState {
  table: RowTable | undefined;
  matched: Uint8Array | undefined;
  matcherSpilled: number;
  file: AtomicFileWriter | undefined;
  sorter: ExternalSorter | undefined;
  committed: boolean;
  aborted: boolean;
}

const NEWLINE = new Uint8Array([0x0a]);

export const Writer = defineActor<WriterMsg, WriterState, WriterInput>({
  name: 'psi-writer',
  init: () => ({
    table: undefined,
    matched: undefined,
    matcherSpilled: 0,
    file: undefined,
    sorter: undefined,
    committed: false,
    aborted: false,
  }),
  receive: async (s, msg, ctx) => {
    if (msg.type === 'abort') {
      s.aborted = true;
      await release(s);
      if (ctx.expectsReply) ctx.reply(true);
      return;
    }
    if (s.aborted || ctx.input.signal?.aborted) {
      // Too late: the run is ending. A row table that arrives now is still ours to delete.
      if (msg.type === 'rows') await msg.table.rowKeys.dispose();
      return;
    }
    try {
      await step(s, msg, ctx);
    } catch (error) {
      // Stopped by the party's signal mid-write: `abort` (next in the mailbox) cleans up.
      if (error instanceof PsiInterruptedError && ctx.input.signal?.aborted) return;
      throw error;
    }
  },
  afterStop: async (s) => {
    if (!s.committed) await release(s);
  },
});

type WriterContext = Parameters<(typeof Writer)['receive']>[2];

async function step(s: WriterState, msg: Exclude<WriterMsg, { type: 'abort' }>, ctx: WriterContext): Promise<void> {
  const { config, party, signal } = ctx.input;
  const live = () => signal?.throwIfAborted();
  switch (msg.type) {
    case 'commit':
      await s.file?.commit();
      s.committed = true;
      ctx.tell(party, { type: 'party-committed', side: config.side });
      return;
    case 'rows':
      s.table = msg.table;
      break;
    case 'write':
      s.matched = msg.matched;
      s.matcherSpilled = msg.spilledBytes;
      break;
  }
  if (s.table === undefined || s.matched === undefined || s.file !== undefined) return;
  const t = s.table;
  const matched = s.matched;
  let matchedKeys = 0;
  for (let k = 0; k < matched.length; k++) matchedKeys += matched[k] as number;
  // The matched rows, as a bitmap over row numbers.
  const rowBits = new Uint32Array(Math.ceil(t.rows / 32) + 1);
  let matchedRows = 0;
  ctx.tell(party, { type: 'progress', side: config.side, delta: {}, writing: true });
  for (let b = 0; b < t.rowKeys.buckets; b++) {
    live();
    const pairs = await t.rowKeys.take(b);
    for (let i = 0; i < pairs.length; i += 2) {
      if (matched[pairs[i + 1] as number] === 1) {
        const r = pairs[i] as number;
        rowBits[r >>> 5] = (rowBits[r >>> 5] as number) | (1 << (r & 31));
        matchedRows++;
      }
    }
  }
  await t.rowKeys.dispose();
  // Cut the rows from the file as it was read, or not at all.
  const now = await stat(config.file);
  if (now.size !== t.size || now.mtimeMs !== t.mtimeMs) throw new CsvInputChangedError(config.file);
  const out = await AtomicFileWriter.open(config.outFile);
  s.file = out;
  const sorter = new ExternalSorter({
    dir: config.scratchDir,
    name: 'rows',
    memoryLimit: config.limits.sortBytes,
    ...(config.crashInSort !== undefined ? { crash: config.crashInSort } : {}),
    ...(signal !== undefined ? { signal } : {}),
  });
  s.sorter = sorter;
  if (matchedRows > 0) {
    const scanner = await CsvRowScanner.open(config.file, {
      delimiter: config.delimiter,
      keyColumns: config.keyColumns,
    });
    scanner.only = rowBits;
    let row = 0;
    try {
      for (let batch = await scanner.next(); batch !== undefined; batch = await scanner.next()) {
        if (config.slowWriteMs !== undefined) await sleep(config.slowWriteMs);
        live();
        for (let i = 0; i < batch.count; i++, row++) {
          if (((rowBits[row >>> 5] as number) & (1 << (row & 31))) === 0) continue;
          sorter.add(
            batch.keys,
            batch.keyEnds[i] as number,
            batch.keyEnds[i + 1] as number,
            batch.data,
            batch.recStart[i] as number,
            batch.recEnd[i] as number,
          );
          if (sorter.full) await sorter.flushRun();
        }
      }
    } finally {
      await scanner.close();
    }
    if (row !== t.rows || sorter.total !== matchedRows) throw new CsvInputChangedError(config.file);
  }
  live();
  await out.write(Buffer.from(`${t.headerRaw}\n`));
  await sorter.finish((bytes) => out.write(bytes), NEWLINE);
  const sortRuns = sorter.runCount;
  const spilledBytes = t.spilledBytes + s.matcherSpilled + sorter.spilledBytes;
  await sorter.dispose();
  s.table = undefined;
  ctx.tell(party, {
    type: 'progress',
    side: config.side,
    delta: { writtenRows: matchedRows, matchedRows },
  });
  ctx.tell(party, {
    type: 'party-written',
    side: config.side,
    rows: t.rows - t.skippedRows,
    uniqueKeys: t.uniqueKeys,
    matchedRows,
    matchedKeys,
    spilledBytes,
    sortRuns,
  });
}

async function release(s: WriterState): Promise<void> {
  await s.file?.abort();
  await s.sorter?.dispose();
  await s.table?.rowKeys.dispose();
}
