/**
 * The writer: cuts the rows whose key is in the intersection out of its
 * party's file (by the byte ranges the reader recorded, no second parse) and
 * writes them, sorted by key (rows with equal keys keep their file order), to
 * a temporary file; it appears under its real name only on `commit`, which the
 * job sends once both parties have written. Stopped or aborted before that,
 * it deletes the temporary file: no partial output.
 */
import { type FileHandle, open, readFile, stat } from 'node:fs/promises';
import { type ActorRef, defineActor } from '@troupe/core';
import { AtomicFileWriter } from './AtomicFileWriter.js';
import type { PartyConfig, PartyEvent, RowTable, WriterMsg } from './protocol.js';

export interface WriterInput {
  config: PartyConfig;
  party: ActorRef<PartyEvent>;
}

interface WriterState {
  table: RowTable | undefined;
  matched: Uint8Array | undefined;
  file: AtomicFileWriter | undefined;
  committed: boolean;
}

/** Files up to this size are read whole for cutting; larger ones row by row. */
const WHOLE_FILE_LIMIT = 256 * 1024 * 1024;
const NEWLINE = Buffer.from('\n');

export const Writer = defineActor<WriterMsg, WriterState, WriterInput>({
  name: 'psi-writer',
  init: () => ({ table: undefined, matched: undefined, file: undefined, committed: false }),
  receive: async (s, msg, ctx) => {
    const { config, party } = ctx.input;
    switch (msg.type) {
      case 'abort':
        await s.file?.abort();
        if (ctx.expectsReply) ctx.reply(true);
        return;
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
        break;
    }
    if (s.table === undefined || s.matched === undefined || s.file !== undefined) return;
    const t = s.table;
    const matched = s.matched;
    // Sort the matched keys (default sort: UTF-16 code unit order, the same rule on both sides).
    const keys: string[] = [];
    for (let k = 0; k < matched.length; k++) if (matched[k] === 1) keys.push(t.keys[k] as string);
    keys.sort();
    // Rows of each key in file order: a linked list through the rows, built backwards.
    const head = new Int32Array(t.keys.length).fill(-1);
    const next = new Int32Array(t.rows);
    for (let r = t.rows - 1; r >= 0; r--) {
      const k = t.rowKey[r] as number;
      if (matched[k] === 1) {
        next[r] = head[k] as number;
        head[k] = r;
      }
    }
    ctx.tell(party, { type: 'progress', side: config.side, delta: {}, writing: true });
    const out = await AtomicFileWriter.open(config.outFile);
    s.file = out;
    const source = await RowSource.open(config.file);
    let written = 0;
    try {
      const parts: Uint8Array[] = [Buffer.from(`${t.headerRaw}\n`)];
      let pending = parts[0]?.byteLength ?? 0;
      for (const key of keys) {
        for (let r = head[t.index.get(key) as number] as number; r !== -1; r = next[r] as number) {
          const bytes = await source.row(t.rowOffset[r] as number, t.rowLength[r] as number);
          parts.push(bytes, NEWLINE);
          pending += bytes.byteLength + 1;
          written++;
          if (pending > 1 << 20) {
            await out.write(Buffer.concat(parts));
            parts.length = 0;
            pending = 0;
          }
        }
      }
      if (parts.length > 0) await out.write(Buffer.concat(parts));
    } finally {
      await source.close();
    }
    s.table = undefined;
    ctx.tell(party, { type: 'progress', side: config.side, delta: { writtenRows: written, matchedRows: written } });
    ctx.tell(party, {
      type: 'party-written',
      side: config.side,
      rows: t.rows,
      uniqueKeys: t.keys.length,
      matchedRows: written,
      matchedKeys: keys.length,
    });
  },
  afterStop: async (s) => {
    if (!s.committed) await s.file?.abort();
  },
});

/** Bytes of rows by their range in the file: from memory for a small file, by positioned reads for a big one. */
class RowSource {
  private constructor(
    private readonly whole: Buffer | undefined,
    private readonly handle: FileHandle | undefined,
  ) {}
  static async open(file: string): Promise<RowSource> {
    const { size } = await stat(file);
    if (size <= WHOLE_FILE_LIMIT) return new RowSource(await readFile(file), undefined);
    return new RowSource(undefined, await open(file, 'r'));
  }
  async row(offset: number, length: number): Promise<Uint8Array> {
    if (this.whole !== undefined) return this.whole.subarray(offset, offset + length);
    const buf = Buffer.allocUnsafe(length);
    await (this.handle as FileHandle).read(buf, 0, length, offset);
    return buf;
  }
  async close(): Promise<void> {
    await this.handle?.close();
  }
}
