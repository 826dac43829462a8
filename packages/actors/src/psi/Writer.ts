/**
 * The writer: reads its party's file a second time and writes the rows whose
 * key is in the intersection, sorted by key (rows with equal keys keep their
 * file order), to a temporary file; it appears under its real name only on
 * `commit`, which the job sends once both parties have written. Stopped or
 * aborted before that, it deletes the temporary file: no partial output.
 */
import { type ActorRef, defineActor } from '@troupe/core';
import { AtomicFileWriter } from './AtomicFileWriter.js';
import { CsvReader } from './csv.js';
import type { PartyConfig, PartyEvent, WriterMsg } from './protocol.js';
import { joinKeyColumns } from './x25519.js';

export interface WriterInput {
  config: PartyConfig;
  party: ActorRef<PartyEvent>;
}

interface WriterState {
  file: AtomicFileWriter | undefined;
  committed: boolean;
}

export const Writer = defineActor<WriterMsg, WriterState, WriterInput>({
  name: 'psi-writer',
  init: () => ({ file: undefined, committed: false }),
  receive: async (s, msg, ctx) => {
    const { config, party } = ctx.input;
    if (msg.type === 'abort') {
      await s.file?.abort();
      return;
    }
    if (msg.type === 'commit') {
      await s.file?.commit();
      s.committed = true;
      ctx.tell(party, { type: 'party-committed', side: config.side });
      return;
    }
    const csv = await CsvReader.open(config.file, { delimiter: config.delimiter });
    const idx = csv.columnIndices(config.keyColumns);
    const single = idx.length === 1 ? (idx[0] as number) : -1;
    const rows: { key: string; raw: string }[] = [];
    let total = 0;
    for await (const batch of csv.batches()) {
      for (const record of batch) {
        total++;
        const f = record.fields;
        const key = single >= 0 ? (f[single] as string) : joinKeyColumns(idx.map((i) => f[i] as string));
        if (msg.matched.has(key)) rows.push({ key, raw: record.raw });
      }
    }
    // Stable sort by key (code-unit order, the same on both sides) so equal keys keep file order.
    rows.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const out = await AtomicFileWriter.open(config.outFile);
    s.file = out;
    let chunk = `${csv.headerRaw}\n`;
    let written = 0;
    for (const row of rows) {
      chunk += `${row.raw}\n`;
      if (chunk.length > 1 << 20) {
        await out.write(chunk);
        chunk = '';
      }
      written++;
      if ((written & 0xffff) === 0)
        ctx.tell(party, { type: 'progress', side: config.side, delta: { writtenRows: 0x10000 } });
    }
    await out.write(chunk);
    ctx.tell(party, {
      type: 'progress',
      side: config.side,
      delta: { writtenRows: written & 0xffff, matchedRows: rows.length },
    });
    ctx.tell(party, {
      type: 'party-written',
      side: config.side,
      rows: total,
      uniqueKeys: -1,
      matchedRows: rows.length,
      matchedKeys: msg.matched.size,
    });
  },
  afterStop: async (s) => {
    if (!s.committed) await s.file?.abort();
  },
});
