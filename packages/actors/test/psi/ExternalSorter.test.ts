import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareUtf8AsUtf16, ExternalSorter } from '../../src/psi/ExternalSorter.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Sorts `[key, payload]` pairs with the sorter; returns the payloads in output order. */
async function sorted(pairs: [string, string][], memoryLimit: number, crash?: 'throw') {
  const dir = mkdtempSync(join(tmpdir(), 'troupe-sort-'));
  const sorter = new ExternalSorter({ dir, name: 't', memoryLimit, ...(crash ? { crash } : {}) });
  try {
    for (const [k, p] of pairs) {
      const kb = enc.encode(k);
      const pb = enc.encode(p);
      sorter.add(kb, 0, kb.length, pb, 0, pb.length);
      if (sorter.full) await sorter.flushRun();
    }
    const chunks: Uint8Array[] = [];
    await sorter.finish(async (c) => {
      chunks.push(c.slice());
    }, enc.encode('\n'));
    const text = dec.decode(Buffer.concat(chunks));
    return { lines: text.length === 0 ? [] : text.slice(0, -1).split('\n'), runs: sorter.runCount, dir };
  } finally {
    await sorter.dispose();
  }
}

/** What the PSI output order is defined as: JavaScript string order, stable. */
function reference(pairs: [string, string][]): string[] {
  return pairs
    .map(([k, p], i) => ({ k, p, i }))
    .sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : a.i - b.i))
    .map((x) => x.p);
}

const keyChar = fc.constantFrom(
  'a',
  'b',
  'z',
  'A',
  '0',
  ' ',
  'é',
  'ÿ',
  '\u07ff',
  '\u0800',
  '\ud7ff',
  '\ue000',
  '\uffff',
  '😀',
  '𝄞',
  '"',
);

describe('ExternalSorter', () => {
  it('compares UTF-8 bytes in UTF-16 code-unit order, also around U+E000..U+FFFF and above U+FFFF', () => {
    const words = ['\ue000', '\uffff', '😀', '\ud7ff', 'z', 'é', 'ab', 'a', ''];
    const bytes = (s: string) => enc.encode(s);
    const byBytes = [...words].sort((x, y) => {
      const a = bytes(x);
      const b = bytes(y);
      return compareUtf8AsUtf16(a, 0, a.length, b, 0, b.length);
    });
    expect(byBytes).toEqual([...words].sort());
  });

  it('sorts in memory, stably, like a JavaScript string sort (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.string({ unit: keyChar, maxLength: 5 }), fc.nat(999)), { maxLength: 300 }),
        async (raw) => {
          const pairs = raw.map(([k, n], i): [string, string] => [k, `${i}:${n}`]);
          const r = await sorted(pairs, 1 << 30);
          expect(r.runs).toBe(0);
          expect(r.lines).toEqual(reference(pairs));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('sorts through runs on disk and a merge when the memory limit is small (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.string({ unit: keyChar, maxLength: 4 }), fc.nat(999)), { minLength: 50, maxLength: 400 }),
        fc.integer({ min: 3, max: 10 }),
        async (raw, parts) => {
          const pairs = raw.map(([k, n], i): [string, string] => [k, `${i}:${n}`]);
          // A limit of a third to a tenth of the records' bytes: at least two runs, whatever the input.
          // (A fixed limit let a small input fit in one run: 50 records of 190 bytes against 186.)
          const bytes = pairs.reduce((n, [k, p]) => n + enc.encode(k).length + enc.encode(p).length, 0);
          const r = await sorted(pairs, Math.floor(bytes / parts));
          expect(r.runs).toBeGreaterThan(1);
          expect(r.lines).toEqual(reference(pairs));
          expect(readdirSync(r.dir)).toEqual([]);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('keeps long shared prefixes and many equal keys in input order', async () => {
    const pairs: [string, string][] = [];
    for (let i = 0; i < 5000; i++) pairs.push([`cust-${String(i % 97).padStart(6, '0')}@example.com`, `row${i}`]);
    const mem = await sorted(pairs, 1 << 30);
    const disk = await sorted(pairs, 4096);
    expect(mem.lines).toEqual(reference(pairs));
    expect(disk.lines).toEqual(reference(pairs));
  });

  it('holds its records in chunks: at most their bytes plus one 1 MiB chunk, never a doubled copy (issue 12)', async () => {
    // ~2.3 MB of rows shaped like the PSI output (a doubling arena would be 4 MiB here).
    const dir = mkdtempSync(join(tmpdir(), 'troupe-sort-arena-'));
    const sorter = new ExternalSorter({ dir, name: 't', memoryLimit: 1 << 30 });
    const pairs: [string, string][] = [];
    let bytes = 0;
    for (let i = 0; i < 30_000; i++) {
      const k = `cust-${((i * 7919) % 30_000).toString(36).padStart(6, '0')}@example.com`;
      const p = `${k},Ana,O'Neil,"Washington, D.C.",${i}.25,row ${i}`;
      pairs.push([k, p]);
      const kb = enc.encode(k);
      const pb = enc.encode(p);
      bytes += kb.length + pb.length;
      sorter.add(kb, 0, kb.length, pb, 0, pb.length);
    }
    expect(bytes).toBeGreaterThan(2 << 20);
    expect(sorter.arenaBytes).toBeGreaterThanOrEqual(bytes);
    expect(sorter.arenaBytes).toBeLessThanOrEqual(bytes + (1 << 20));
    const chunks: Uint8Array[] = [];
    await sorter.finish(async (c) => {
      chunks.push(c.slice());
    }, enc.encode('\n'));
    await sorter.dispose();
    // Records on both sides of every chunk boundary come out in order.
    expect(dec.decode(Buffer.concat(chunks)).slice(0, -1).split('\n')).toEqual(reference(pairs));
  });

  it('sorts records longer than a chunk among short ones, in memory and through runs', async () => {
    const big = (c: string) => c.repeat((1 << 20) + 4096);
    const pairs: [string, string][] = [];
    for (let i = 0; i < 400; i++) pairs.push([`k${(i * 37) % 101}`, i % 150 === 7 ? big(String(i % 10)) : `p${i}`]);
    const mem = await sorted(pairs, 1 << 30);
    expect(mem.runs).toBe(0);
    expect(mem.lines).toEqual(reference(pairs));
    // A limit under one long record: runs, with the arena's chunks reused between them.
    const disk = await sorted(pairs, 1 << 19);
    expect(disk.runs).toBeGreaterThan(1);
    expect(disk.lines).toEqual(reference(pairs));
  });

  it('fails in the merge when told to crash there, and dispose leaves no run behind', async () => {
    const pairs: [string, string][] = Array.from({ length: 200 }, (_, i) => [`k${i % 13}`, `p${i}`]);
    const dir = mkdtempSync(join(tmpdir(), 'troupe-sort-crash-'));
    const sorter = new ExternalSorter({ dir, name: 't', memoryLimit: 64, crash: 'throw' });
    for (const [k, p] of pairs) {
      sorter.add(enc.encode(k), 0, enc.encode(k).length, enc.encode(p), 0, enc.encode(p).length);
      if (sorter.full) await sorter.flushRun();
    }
    await expect(sorter.finish(async () => undefined, enc.encode('\n'))).rejects.toThrow(/injected crash/);
    expect(readdirSync(dir).length).toBeGreaterThan(1);
    await sorter.dispose();
    expect(readdirSync(dir)).toEqual([]);
  });
});
