import { spawnSync } from 'node:child_process';
import { mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AtomicFileClosedError,
  AtomicFileWriter,
  CsvAmbiguousColumnError,
  CsvEmptyFileError,
  CsvEncodingError,
  CsvFileNotFoundError,
  CsvInputError,
  CsvMissingColumnError,
  CsvQuoteError,
  CsvRaggedRowError,
  CsvReader,
  type CsvReadOptions,
  type CsvRecord,
  CsvRecordTooLargeError,
  CsvWriter,
  formatCsvField,
  formatCsvRecord,
  writeFileAtomic,
} from '@troupe/actors';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let dir: string;
let seq = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'troupe-csv-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(content: string | Uint8Array): Promise<string> {
  const path = join(dir, `f${seq++}.csv`);
  await writeFile(path, content);
  return path;
}

async function readAll(path: string, options: CsvReadOptions = {}) {
  const reader = await CsvReader.open(path, options);
  const records: CsvRecord[] = [];
  for await (const r of reader) records.push(r);
  return { header: reader.header, headerRaw: reader.headerRaw, records };
}

async function failure(path: string, options: CsvReadOptions = {}): Promise<CsvInputError> {
  try {
    await readAll(path, options);
  } catch (error) {
    expect(error).toBeInstanceOf(CsvInputError);
    return error as CsvInputError;
  }
  throw new Error(`expected reading ${path} to fail`);
}

const CHUNKS = [undefined, 16, 17, 31];

describe('CsvReader', () => {
  it('reads the header and the records with their line numbers, raw text and byte ranges', async () => {
    const content = 'id,name,city\n1,Ann,Paris\n2,"Smith, Jo",Zürich\n3,"say ""hi""",\n';
    const path = await file(content);
    for (const chunkSize of CHUNKS) {
      const { header, headerRaw, records } = await readAll(path, chunkSize ? { chunkSize } : {});
      expect(header).toEqual(['id', 'name', 'city']);
      expect(headerRaw).toBe('id,name,city');
      expect(records.map((r) => r.fields)).toEqual([
        ['1', 'Ann', 'Paris'],
        ['2', 'Smith, Jo', 'Zürich'],
        ['3', 'say "hi"', ''],
      ]);
      expect(records.map((r) => r.line)).toEqual([2, 3, 4]);
      expect(records[1]!.raw).toBe('2,"Smith, Jo",Zürich');
      const bytes = Buffer.from(content);
      for (const r of records) {
        expect(bytes.subarray(r.byteOffset, r.byteOffset + r.byteLength).toString()).toBe(r.raw);
      }
    }
  });

  it('keeps line breaks inside quoted fields and counts them as physical lines', async () => {
    const path = await file('id,note\n1,"two\nlines"\n2,"crlf\r\ninside"\r\n3,x');
    for (const chunkSize of CHUNKS) {
      const { records } = await readAll(path, chunkSize ? { chunkSize } : {});
      expect(records.map((r) => r.fields)).toEqual([
        ['1', 'two\nlines'],
        ['2', 'crlf\r\ninside'],
        ['3', 'x'],
      ]);
      expect(records.map((r) => r.line)).toEqual([2, 4, 6]);
    }
  });

  it('accepts CRLF, LF and a mix, with or without a final line end, and skips blank lines', async () => {
    const a = await readAll(await file('a,b\r\n1,2\r\n\r\n3,4\r\n'));
    const b = await readAll(await file('a,b\n1,2\n\n3,4'));
    const c = await readAll(await file('a,b\r\n1,2\n\n3,4\r'));
    for (const r of [a, b, c]) {
      expect(r.header).toEqual(['a', 'b']);
      expect(r.records.map((x) => x.fields)).toEqual([
        ['1', '2'],
        ['3', '4'],
      ]);
      expect(r.records.map((x) => x.line)).toEqual([2, 4]);
    }
  });

  it('strips a UTF-8 BOM and keeps byte offsets true to the file', async () => {
    const content = '\uFEFFid,name\n1,Ann\n';
    const { header, records } = await readAll(await file(content));
    expect(header).toEqual(['id', 'name']);
    expect(records[0]!.byteOffset).toBe(Buffer.byteLength('\uFEFFid,name\n'));
  });

  it('uses the configured delimiter', async () => {
    const { header, records } = await readAll(await file('a;b\tc\n"x;y";z\tw\n'), { delimiter: ';' });
    expect(header).toEqual(['a', 'b\tc']);
    expect(records[0]!.fields).toEqual(['x;y', 'z\tw']);
    const tsv = await readAll(await file('a\tb\n1,2\t3\n'), { delimiter: '\t' });
    expect(tsv.records[0]!.fields).toEqual(['1,2', '3']);
    await expect(CsvReader.open(await file('a\n'), { delimiter: '"' })).rejects.toThrow(TypeError);
  });

  it('finds key columns by exact name', async () => {
    const reader = await CsvReader.open(await file('id,first name,id2\n1,a,b\n'));
    expect(reader.columnIndices(['id2', 'first name'])).toEqual([2, 1]);
    await reader.close();
  });

  it('reads a header-only file as zero records', async () => {
    const { header, records } = await readAll(await file('id,name\n'));
    expect(header).toEqual(['id', 'name']);
    expect(records).toEqual([]);
  });

  it('yields batches, and stops with the abort reason when the signal aborts', async () => {
    const rows = Array.from({ length: 5000 }, (_, i) => `${i},row${i}`).join('\n');
    const path = await file(`id,v\n${rows}\n`);
    const reader = await CsvReader.open(path, { chunkSize: 4096 });
    let batches = 0;
    let count = 0;
    for await (const batch of reader.batches()) {
      batches++;
      count += batch.length;
      expect(batch.length).toBeGreaterThan(0);
    }
    expect(count).toBe(5000);
    expect(batches).toBeGreaterThan(5);

    const controller = new AbortController();
    const aborted = await CsvReader.open(path, { chunkSize: 4096, signal: controller.signal });
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const batch of aborted.batches()) {
          seen.push(batch.length);
          controller.abort(new Error('stop now'));
        }
      })(),
    ).rejects.toThrow('stop now');
    expect(seen.length).toBe(1);
  });
});

describe('CsvReader errors name the file, line and column', () => {
  it('a missing file: CsvFileNotFoundError', async () => {
    const path = join(dir, 'nope.csv');
    const err = await CsvReader.open(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CsvFileNotFoundError);
    expect((err as Error).message).toContain(path);
  });

  it('an empty file, a BOM alone, or blank lines alone: CsvEmptyFileError', async () => {
    for (const content of ['', '\uFEFF', '\n\r\n\n']) {
      const path = await file(content);
      const err = await CsvReader.open(path).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CsvEmptyFileError);
      expect((err as Error).message).toBe(
        `${path}:1:1: the file is empty: a CSV input needs a header row naming its columns.`,
      );
    }
  });

  it('a missing key column: CsvMissingColumnError listing the columns there are', async () => {
    const path = await file('id,name\n1,a\n');
    const reader = await CsvReader.open(path);
    const err = (() => {
      try {
        reader.columnIndex('email');
      } catch (e) {
        return e as CsvMissingColumnError;
      }
    })();
    expect(err).toBeInstanceOf(CsvMissingColumnError);
    expect(err!.message).toContain(
      `${path}:1:1: the header has no column named "email"; its columns are "id", "name".`,
    );
    expect(err!.available).toEqual(['id', 'name']);
    await reader.close();
  });

  it('a key column named twice: CsvAmbiguousColumnError', async () => {
    const reader = await CsvReader.open(await file('id,x,id\n'));
    expect(() => reader.columnIndex('id')).toThrow(CsvAmbiguousColumnError);
    expect(() => reader.columnIndex('id')).toThrow(/columns 1, 3/);
    await reader.close();
  });

  it('a row with too many or too few fields: CsvRaggedRowError at the first extra field or the row end', async () => {
    const many = await file('a,b,c\n1,2,3\n4,5,6,7\n');
    for (const chunkSize of CHUNKS) {
      const err = await failure(many, chunkSize ? { chunkSize } : {});
      expect(err).toBeInstanceOf(CsvRaggedRowError);
      expect([err.line, err.column]).toEqual([3, 7]);
      expect(err.message).toContain(`${many}:3:7: ragged row: expected 3 fields (as in the header), got 4.`);
    }
    const few = await file('a,b,c\r\n1,2,3\r\n4,5\r\n');
    const err = await failure(few);
    expect(err).toBeInstanceOf(CsvRaggedRowError);
    expect([err.line, err.column, (err as CsvRaggedRowError).actual]).toEqual([3, 4, 2]);
  });

  it('a quote inside an unquoted field: CsvQuoteError at the quote', async () => {
    const path = await file('a,b\n1,2\nab,c"d\n');
    const err = await failure(path);
    expect(err).toBeInstanceOf(CsvQuoteError);
    expect((err as CsvQuoteError).problem).toBe('quote-in-unquoted-field');
    expect([err.line, err.column]).toEqual([3, 5]);
  });

  it('text after a closing quote: CsvQuoteError at the text, on the right line of a multi-line field', async () => {
    const path = await file('a,b\n1,"x\ny"z\n');
    for (const chunkSize of CHUNKS) {
      const err = await failure(path, chunkSize ? { chunkSize } : {});
      expect((err as CsvQuoteError).problem).toBe('text-after-closing-quote');
      expect([err.line, err.column]).toEqual([3, 3]);
    }
  });

  it('an unterminated quote: CsvQuoteError at the opening quote', async () => {
    const path = await file('a,b\n1,2\n3,"never closed\n4,5\n');
    for (const chunkSize of CHUNKS) {
      const err = await failure(path, chunkSize ? { chunkSize } : {});
      expect((err as CsvQuoteError).problem).toBe('unterminated-quote');
      expect([err.line, err.column]).toEqual([3, 3]);
      expect(err.message).toMatch(/:3:3: unterminated quoted field/);
    }
  });

  it('invalid UTF-8: CsvEncodingError at the bad byte, also past the first chunk', async () => {
    const bytes = Buffer.concat([Buffer.from('id,name\n1,ok\n2,caf'), Buffer.from([0xe9]), Buffer.from('\n')]);
    const path = await file(bytes);
    for (const chunkSize of CHUNKS) {
      const err = await failure(path, chunkSize ? { chunkSize } : {});
      expect(err).toBeInstanceOf(CsvEncodingError);
      expect([err.line, err.column, (err as CsvEncodingError).byteOffset]).toEqual([3, 6, 18]);
    }
    // A multi-byte character cut off by the end of the file.
    const cut = await file(Buffer.concat([Buffer.from('id\nü'), Buffer.from('€').subarray(0, 2)]));
    const err = await failure(cut);
    expect(err).toBeInstanceOf(CsvEncodingError);
    expect([err.line, err.column]).toEqual([2, 2]);
  });

  it('reports the earlier problem when a quoting error comes before invalid UTF-8 in a chunk', async () => {
    const path = await file(Buffer.concat([Buffer.from('a\nx"y\n'), Buffer.from([0xff])]));
    const err = await failure(path);
    expect(err).toBeInstanceOf(CsvQuoteError);
  });

  it('a record longer than maxRecordLength: CsvRecordTooLargeError, so memory stays bounded', async () => {
    const path = await file(`a,b\n1,"${'x'.repeat(5000)}\n`);
    const err = await failure(path, { chunkSize: 1024, maxRecordLength: 2000 });
    expect(err).toBeInstanceOf(CsvRecordTooLargeError);
    expect(err.line).toBe(2);
  });

  it('keeps multi-byte characters whole when a chunk boundary splits them', async () => {
    const rows = Array.from({ length: 200 }, (_, i) => `${i},ünïcødé €${i} 😀`);
    const path = await file(`id,v\n${rows.join('\n')}\n`);
    const content = await readFile(path);
    for (const chunkSize of [16, 17, 18, 19]) {
      const { records } = await readAll(path, { chunkSize });
      expect(records.map((r) => `${r.fields[0]},${r.fields[1]}`)).toEqual(rows);
      for (const r of records) {
        expect(content.subarray(r.byteOffset, r.byteOffset + r.byteLength).toString()).toBe(r.raw);
      }
    }
  });
});

describe('CSV writing', () => {
  it('quotes a field only when it holds the delimiter, a quote, CR, LF or a leading BOM', () => {
    expect(formatCsvField('plain')).toBe('plain');
    expect(formatCsvField(' spaced ')).toBe(' spaced ');
    expect(formatCsvField('a,b')).toBe('"a,b"');
    expect(formatCsvField('say "hi"')).toBe('"say ""hi"""');
    expect(formatCsvField('two\nlines')).toBe('"two\nlines"');
    expect(formatCsvField('cr\r')).toBe('"cr\r"');
    expect(formatCsvField('\uFEFFx')).toBe('"\uFEFFx"');
    expect(formatCsvField('a;b', ';')).toBe('"a;b"');
    expect(formatCsvField('a,b', ';')).toBe('a,b');
    expect(formatCsvRecord([''])).toBe('""');
    expect(formatCsvRecord(['', ''])).toBe(',');
  });

  const unit = fc.oneof(
    fc.constantFrom(',', ';', '\t', '"', '\n', '\r', '\r\n', ' ', '\uFEFF', 'é', '😀', 'a', 'b'),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  );
  const field = fc.string({ unit, maxLength: 8 });

  it('round-trips arbitrary string rows: writer then reader gives the rows back', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .integer({ min: 1, max: 4 })
          .chain((width) =>
            fc.array(fc.array(field, { minLength: width, maxLength: width }), { minLength: 1, maxLength: 12 }),
          ),
        fc.constantFrom(',', ';', '\t', '|'),
        fc.constantFrom<'\n' | '\r\n'>('\n', '\r\n'),
        fc.constantFrom(16, 23, 1 << 20),
        async (rows, delimiter, eol, chunkSize) => {
          const path = join(dir, `rt${seq++}.csv`);
          await writeFileAtomic(path, async (out) => {
            const csv = new CsvWriter(out, { delimiter, eol });
            for (const row of rows) await csv.writeRecord(row);
            await csv.flush();
          });
          const { header, records } = await readAll(path, { delimiter, chunkSize });
          expect([header, ...records.map((r) => r.fields)]).toEqual(rows);
          // Copying raw records reproduces the file byte for byte.
          const copy = join(dir, `rt${seq++}.csv`);
          const reader = await CsvReader.open(path, { delimiter });
          await writeFileAtomic(copy, async (out) => {
            const csv = new CsvWriter(out, { delimiter, eol });
            await csv.writeRaw(reader.headerRaw);
            for await (const r of reader) await csv.writeRaw(r.raw);
            await csv.flush();
          });
          expect((await readFile(copy)).equals(await readFile(path))).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('AtomicFileWriter', () => {
  const listing = async (d: string) => (await readdir(d)).sort();

  it('makes the file appear only on commit', async () => {
    const d = await mkdtemp(join(dir, 'atomic-'));
    const target = join(d, 'out.csv');
    const out = await AtomicFileWriter.open(target);
    await out.write('id\n');
    await out.write(new TextEncoder().encode('1\n'));
    expect(await listing(d)).toEqual([expect.stringMatching(/^\.out\.csv\.\d+\.[0-9a-f]+\.tmp$/)]);
    await out.commit();
    expect(out.state).toBe('committed');
    expect(await listing(d)).toEqual(['out.csv']);
    expect(await readFile(target, 'utf8')).toBe('id\n1\n');
    await expect(out.write('more')).rejects.toThrow(AtomicFileClosedError);
  });

  /** Make every FileHandle write take at most `take(length)` bytes, for the length of `body`. */
  async function withShortWrites<T>(take: (length: number) => number, body: () => Promise<T>): Promise<T> {
    const probe = await open(join(dir, `probe-${seq++}`), 'w');
    const proto = Object.getPrototypeOf(probe) as { write: (...args: unknown[]) => Promise<{ bytesWritten: number }> };
    await probe.close();
    const original = proto.write;
    proto.write = function (this: unknown, buffer: unknown, offset?: unknown, length?: unknown, position?: unknown) {
      // A string is written as its UTF-8 bytes, so it can be cut the same way.
      if (typeof buffer === 'string') buffer = Buffer.from(buffer, 'utf8');
      if (!(buffer instanceof Uint8Array)) return original.call(this, buffer, offset, length, position);
      const off = (offset as number | undefined) ?? 0;
      const len = (length as number | undefined) ?? buffer.byteLength - off;
      const n = take(len);
      if (n === 0) return Promise.resolve({ bytesWritten: 0, buffer });
      return original.call(this, buffer, off, n, position);
    };
    try {
      return await body();
    } finally {
      proto.write = original;
    }
  }

  it('writes every byte when each write takes only part of it (a disk nearly full does that)', async () => {
    const d = await mkdtemp(join(dir, 'atomic-'));
    const target = join(d, 'out.csv');
    const text = `id,name\n${Array.from({ length: 500 }, (_, i) => `${i},name ${i}`).join('\n')}\n`;
    await withShortWrites(
      (len) => Math.min(len, 7),
      () =>
        writeFileAtomic(target, async (out) => {
          await out.write(text);
          await out.write(new TextEncoder().encode(text));
        }),
    );
    expect(await readFile(target, 'utf8')).toBe(text + text);
  });

  it('fails with ENOSPC and leaves the target as it was when the disk takes nothing more', async () => {
    const d = await mkdtemp(join(dir, 'atomic-'));
    const target = join(d, 'out.csv');
    await writeFile(target, 'previous\n');
    let room = 100;
    const write = withShortWrites(
      (len) => {
        const n = Math.min(len, room, 30);
        room -= n;
        return n;
      },
      () => writeFileAtomic(target, async (out) => out.write('x'.repeat(1000))),
    );
    await expect(write).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(await listing(d)).toEqual(['out.csv']);
    expect(await readFile(target, 'utf8')).toBe('previous\n');
  });

  it('on a real file system that fills up (a 64 KiB tmpfs, when this process may mount one): ENOSPC, nothing left', async (ctx) => {
    const d = await mkdtemp(join(dir, 'atomic-full-'));
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', d]).status === 0;
    if (!mounted) ctx.skip('cannot mount a tmpfs here (not root, or no mount permission)');
    try {
      const target = join(d, 'out.csv');
      // One write larger than the room left: the file system takes what fits, and says so only in the count.
      const write = writeFileAtomic(target, async (out) => out.write('y'.repeat(100_000)));
      await expect(write).rejects.toMatchObject({ code: 'ENOSPC' });
      expect(await listing(d)).toEqual([]);
    } finally {
      spawnSync('umount', [d]);
    }
  });

  it('leaves nothing behind, and an existing target untouched, when the body fails', async () => {
    const d = await mkdtemp(join(dir, 'atomic-'));
    const target = join(d, 'out.csv');
    await writeFile(target, 'previous\n');
    await expect(
      writeFileAtomic(target, async (out) => {
        await out.write('partial');
        throw new Error('disk on fire');
      }),
    ).rejects.toThrow('disk on fire');
    expect(await listing(d)).toEqual(['out.csv']);
    expect(await readFile(target, 'utf8')).toBe('previous\n');
  });

  it('deletes the temporary file on abort, and abort is idempotent', async () => {
    const d = await mkdtemp(join(dir, 'atomic-'));
    const out = await AtomicFileWriter.open(join(d, 'x.csv'));
    await out.write('x');
    await out.abort();
    await out.abort();
    expect(out.state).toBe('aborted');
    expect(await listing(d)).toEqual([]);
    await expect(out.commit()).rejects.toThrow(AtomicFileClosedError);
  });

  it('deletes the temporary file when commit fails (target directory gone)', async () => {
    const d = await mkdtemp(join(dir, 'atomic-'));
    const out = await AtomicFileWriter.open(join(d, 'sub', 'x.csv')).catch((e: unknown) => e);
    expect((out as { code?: string }).code).toBe('ENOENT');
    const writer = await AtomicFileWriter.open(join(d, 'y.csv'));
    await writer.write('y');
    await rm(d, { recursive: true });
    await expect(writer.commit()).rejects.toThrow();
    expect(writer.state).toBe('aborted');
  });

  it('cleans up an uncommitted temporary file when the process exits', async () => {
    const d = await mkdtemp(join(dir, 'atomic-'));
    const { execFileSync } = await import('node:child_process');
    const script = `
      import { AtomicFileWriter } from '@troupe/actors';
      const out = await AtomicFileWriter.open(${JSON.stringify(join(d, 'z.csv'))});
      await out.write('half');
      process.exit(2);
    `;
    let status = 0;
    try {
      execFileSync(process.execPath, ['--conditions=source', '--import', 'tsx', '--input-type=module', '-e', script], {
        cwd: join(import.meta.dirname, '..', '..'),
        stdio: 'pipe',
      });
    } catch (error) {
      status = (error as { status: number }).status;
    }
    expect(status).toBe(2);
    expect(await listing(d)).toEqual([]);
  });
});
