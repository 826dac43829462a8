import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CsvReader } from '../../src/index.js';
import { CsvRowScanner, ReaderScanner } from '../../src/psi/CsvRowScanner.js';

const dir = mkdtempSync(join(tmpdir(), 'troupe-scan-'));
let n = 0;
function file(content: string | Buffer): string {
  const f = join(dir, `f${n++}.csv`);
  writeFileSync(f, content);
  return f;
}

interface Scanned {
  keys: string[];
  raws: string[];
}
const text = new TextDecoder();

async function collect(s: CsvRowScanner): Promise<Scanned> {
  const keys: string[] = [];
  const raws: string[] = [];
  try {
    for (let b = await s.next(); b !== undefined; b = await s.next()) {
      for (let i = 0; i < b.count; i++) {
        keys.push(text.decode(b.keys.subarray(b.keyEnds[i], b.keyEnds[i + 1])));
        raws.push(text.decode(b.data.subarray(b.recStart[i], b.recEnd[i])));
      }
    }
  } finally {
    await s.close();
  }
  return { keys, raws };
}

type Outcome = { ok: Scanned } | { error: string };
async function outcome(run: () => Promise<Scanned>): Promise<Outcome> {
  try {
    return { ok: await run() };
  } catch (e) {
    return { error: `${(e as Error).name}: ${(e as Error).message}` };
  }
}

/** The fast scanner (tiny chunks, so records straddle them) and CsvReader, on the same file. */
async function both(f: string, keyColumns: string[], delimiter = ',', chunkSize = 7) {
  const fast = await outcome(async () => collect(await CsvRowScanner.open(f, { delimiter, keyColumns, chunkSize })));
  const reference = await outcome(async () => {
    const reader = await CsvReader.open(f, { delimiter });
    return collect(new ReaderScanner(reader, reader.columnIndices(keyColumns)));
  });
  return { fast, reference };
}

describe('CsvRowScanner', () => {
  it('yields the same keys and raw records as CsvReader on tricky valid files', async () => {
    const cases = [
      'id,v\na,1\nb,2\n',
      '\ufeffid,v\r\na,1\r\n\r\n"b,""x""",2\r\n',
      'id,v\n"multi\nline",1\n"",2\n,3\n',
      'id,v\nlone\rcr,1\nlast,2\r',
      'v,id\n1,ünï\n2,"q""uote"\n3,é',
      '\n\nid,v\n\na,1\n\n',
    ];
    for (const c of cases) {
      const { fast, reference } = await both(file(c), ['id']);
      expect(fast).toEqual(reference);
      expect('ok' in fast).toBe(true);
    }
  });

  it('joins several key columns as JSON, the same as CsvReader and joinKeyColumns', async () => {
    const f = file('k1,k2,v\n"a,b",c,1\na,"b,c",2\n"q""",x,3\n');
    const { fast, reference } = await both(f, ['k1', 'k2']);
    expect(fast).toEqual(reference);
    expect('ok' in fast && fast.ok.keys).toEqual(['["a,b","c"]', '["a","b,c"]', '["q\\"","x"]']);
  });

  it('reports exactly the error CsvReader reports (file:line:column)', async () => {
    const cases = [
      'id,v\na,1\nb\n',
      'id,v\na,"1\n',
      'id,v\na"b,1\n',
      'id,v\n"a"b,1\n',
      Buffer.concat([Buffer.from('id,v\na,1\nb,'), Buffer.from([0xc3, 0x28]), Buffer.from('\n')]),
    ];
    for (const c of cases) {
      const { fast, reference } = await both(file(c), ['id']);
      expect('error' in reference).toBe(true);
      expect(fast).toEqual(reference);
    }
  });

  it('agrees with CsvReader on random text, valid or not (property)', async () => {
    const piece = fc.constantFrom('a', 'b', 'é', '𝄞', '\ufeff', ',', ';', '"', '""', '\n', '\r\n', '\r', ' ');
    await fc.assert(
      fc.asyncProperty(
        fc.array(piece, { maxLength: 40 }),
        fc.constantFrom(',', ';'),
        fc.integer({ min: 1, max: 16 }),
        async (pieces, delimiter, chunk) => {
          const f = file(`id${delimiter}v\n${pieces.join('')}`);
          const { fast, reference } = await both(f, ['id'], delimiter, chunk);
          expect(fast).toEqual(reference);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('agrees with CsvReader on random well-formed records (property)', async () => {
    const value = fc.string({
      unit: fc.constantFrom('a', 'z', '0', ',', '"', '\n', '\r', 'ß', '😀', ' '),
      maxLength: 6,
    });
    const quote = (v: string) => `"${v.replaceAll('"', '""')}"`;
    const needs = (v: string) => /[",\r\n]/.test(v) || v.length === 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(value, value, fc.boolean()), { maxLength: 30 }),
        fc.constantFrom('\n', '\r\n'),
        fc.integer({ min: 1, max: 64 }),
        async (rows, eol, chunk) => {
          const lines = rows.map(([a, b, q]) => [a, b].map((v) => (needs(v) || q ? quote(v) : v)).join(','));
          const f = file(`k,v${eol}${lines.join(eol)}${eol}`);
          const { fast, reference } = await both(f, ['k', 'v'], ',', chunk);
          expect(fast).toEqual(reference);
          expect('ok' in fast).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('handles a delimiter outside ASCII through CsvReader', async () => {
    const f = file('id§v\na§1\n"b§"§2\n');
    const { fast, reference } = await both(f, ['id'], '§');
    expect(fast).toEqual(reference);
    expect('ok' in fast && fast.ok.keys).toEqual(['a', 'b§']);
  });
});
