import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ActorSystem, silentLogger } from '@troupe/core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CsvFileNotFoundError,
  CsvMissingColumnError,
  CsvRaggedRowError,
  formatCsvRecord,
  PsiInterruptedError,
  PsiOptionsError,
  PsiService,
  type PsiSummary,
  runPsi,
} from '../../src/index.js';

// One system for the file: worker threads are slow to start from sources.
let system: ActorSystem;
beforeAll(async () => {
  system = await ActorSystem.start({ name: 'psi-test', signals: false, logger: silentLogger, workers: { size: 2 } });
});
afterAll(async () => {
  await system.shutdown();
});

type Row = string[];
const dir = () => mkdtempSync(join(tmpdir(), 'troupe-psi-'));
function writeCsv(file: string, header: string[], rows: Row[]): void {
  writeFileSync(file, [header, ...rows].map((r) => formatCsvRecord(r)).join('\n') + '\n');
}
/** What PSI must output for one side: its rows whose key the other side has, sorted by key, file order within a key. */
function expected(header: string[], rows: Row[], other: Row[], keyCols: number[]): string {
  const k = (r: Row) =>
    keyCols.length === 1 ? (r[keyCols[0] as number] as string) : JSON.stringify(keyCols.map((i) => r[i]));
  const theirs = new Set(other.map(k));
  const kept = rows.map((r, n) => ({ r, n, key: k(r) })).filter((x) => theirs.has(x.key));
  kept.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.n - b.n));
  return [header, ...kept.map((x) => x.r)].map((r) => formatCsvRecord(r)).join('\n') + '\n';
}
async function run(
  header: string[],
  left: Row[],
  right: Row[],
  key: string[],
  extra: Partial<Parameters<typeof runPsi>[1]> = {},
) {
  const d = dir();
  writeCsv(join(d, 'a.csv'), header, left);
  writeCsv(join(d, 'b.csv'), header, right);
  const summary = await runPsi(system, {
    left: join(d, 'a.csv'),
    right: join(d, 'b.csv'),
    key,
    outDir: join(d, 'out'),
    threads: 2,
    batchSize: 16,
    ...extra,
  });
  const keyCols = key.map((c) => header.indexOf(c));
  return {
    summary,
    left: readFileSync(join(d, 'out', 'left.csv'), 'utf8'),
    right: readFileSync(join(d, 'out', 'right.csv'), 'utf8'),
    wantLeft: expected(header, left, right, keyCols),
    wantRight: expected(header, right, left, keyCols),
    outFiles: readdirSync(join(d, 'out')).sort(),
  };
}

const header = ['id', 'name', 'city'];
const row = (id: string, name = `n-${id}`, city = 'Zürich, CH'): Row => [id, name, city];

describe('runPsi', () => {
  it('matches a plain set intersection, keeping every row of duplicate keys, sorted by key', async () => {
    const left = ['a', 'b', 'c', 'b', 'x', 'ünï', 'q"uote', 'multi\nline'].map((id) => row(id));
    const right = ['b', 'c', 'y', 'ünï', 'q"uote', 'multi\nline', 'c'].map((id) => row(id, `r-${id}`));
    const r = await run(header, left, right, ['id']);
    expect(r.left).toBe(r.wantLeft);
    expect(r.right).toBe(r.wantRight);
    expect(r.summary.intersection).toBe(5);
    expect(r.summary.left).toMatchObject({ rows: 8, uniqueKeys: 7, matchedRows: 6, matchedKeys: 5 });
    expect(r.summary.right).toMatchObject({ rows: 7, uniqueKeys: 6, matchedRows: 6, matchedKeys: 5 });
    expect(r.outFiles).toEqual(['left.csv', 'right.csv']); // no temporary file left
  });

  it('uses several key columns without confusing ("a,b","c") with ("a","b,c")', async () => {
    const h = ['k1', 'k2', 'v'];
    const left: Row[] = [
      ['a,b', 'c', '1'],
      ['a', 'b,c', '2'],
      ['x', 'y', '3'],
    ];
    const right: Row[] = [
      ['a,b', 'c', '9'],
      ['x', 'y', '8'],
      ['x', 'z', '7'],
    ];
    const r = await run(h, left, right, ['k1', 'k2']);
    expect(r.left).toBe(r.wantLeft);
    expect(r.right).toBe(r.wantRight);
    expect(r.summary.intersection).toBe(2);
  });

  it('handles empty, full and one-sided intersections', async () => {
    const ids = (p: string, n: number) => Array.from({ length: n }, (_, i) => row(`${p}${i}`));
    const none = await run(header, ids('l', 40), ids('r', 40), ['id']);
    expect(none.summary.intersection).toBe(0);
    expect(none.left).toBe('id,name,city\n');
    const full = await run(header, ids('k', 50), ids('k', 50).reverse(), ['id']);
    expect(full.summary.intersection).toBe(50);
    expect(full.left).toBe(full.wantLeft);
    expect(full.right).toBe(full.wantRight);
    const empty = await run(header, [], ids('k', 10), ['id']);
    expect(empty.summary.intersection).toBe(0);
    expect(empty.right).toBe('id,name,city\n');
  });

  it('agrees with a plain intersection on random data (property)', async () => {
    const id = fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('a', 'b', 'c', 'é', '"', ','));
    await fc.assert(
      fc.asyncProperty(fc.array(id, { maxLength: 60 }), fc.array(id, { maxLength: 60 }), async (l, rr) => {
        const r = await run(
          header,
          l.map((x) => row(x)),
          rr.map((x) => row(x)),
          ['id'],
        );
        expect(r.left).toBe(r.wantLeft);
        expect(r.right).toBe(r.wantRight);
      }),
      { numRuns: 8 },
    );
  });

  it('still gives the right answer when a masker thread dies mid-run (its batches are redone)', async () => {
    let restarts = 0;
    const onRestart = (e: { path: string }) => {
      if (e.path.includes('/masker-')) restarts++;
    };
    system.events.on('restarted', onRestart);
    const ids = Array.from({ length: 600 }, (_, i) => row(`id-${i}`));
    const r = await run(
      header,
      ids,
      ids.filter((_, i) => i % 3 === 0),
      ['id'],
      { killMaskerAfterBatches: 5 },
    );
    system.events.off('restarted', onRestart);
    expect(r.summary.intersection).toBe(200);
    expect(r.left).toBe(r.wantLeft);
    expect(r.right).toBe(r.wantRight);
    expect(restarts).toBeGreaterThanOrEqual(1);
  });

  it('rejects bad input with a clear error and leaves no output', async () => {
    const d = dir();
    writeCsv(join(d, 'a.csv'), header, [row('a')]);
    writeFileSync(join(d, 'ragged.csv'), 'id,name,city\nb,n,c\nc,only-two\n');
    const opts = (right: string, key = ['id']) => ({
      left: join(d, 'a.csv'),
      right,
      key,
      outDir: join(d, 'out'),
      threads: 2,
    });
    await expect(runPsi(system, opts(join(d, 'missing.csv')))).rejects.toBeInstanceOf(CsvFileNotFoundError);
    await expect(runPsi(system, opts(join(d, 'a.csv'), ['nope']))).rejects.toBeInstanceOf(CsvMissingColumnError);
    const ragged = await runPsi(system, opts(join(d, 'ragged.csv'))).catch((e) => e);
    expect(ragged).toBeInstanceOf(CsvRaggedRowError);
    expect(ragged.message).toMatch(/ragged\.csv:3:/);
    expect(readdirSync(d).includes('out') ? readdirSync(join(d, 'out')) : []).toEqual([]);
    await expect(runPsi(system, { ...opts(join(d, 'a.csv')), batchSize: 0 })).rejects.toBeInstanceOf(PsiOptionsError);
    await expect(runPsi(system, { ...opts(join(d, 'a.csv')), threads: 3 })).rejects.toThrow(/2 worker host/);
  });

  it('stops on abort, rejecting with PsiInterruptedError and leaving no output', async () => {
    const d = dir();
    const ids = Array.from({ length: 3000 }, (_, i) => row(`id-${i}`));
    writeCsv(join(d, 'a.csv'), header, ids);
    writeCsv(join(d, 'b.csv'), header, ids);
    const abort = new AbortController();
    const run = runPsi(system, {
      left: join(d, 'a.csv'),
      right: join(d, 'b.csv'),
      key: ['id'],
      outDir: join(d, 'out'),
      threads: 2,
      batchSize: 64,
      signal: abort.signal,
      progressIntervalMs: 20,
      onProgress: (p) => {
        if (p.left.ownMasked > 0) abort.abort();
      },
    });
    await expect(run).rejects.toBeInstanceOf(PsiInterruptedError);
    // The run created the folder, so the failed run removes it again: the disk is as it was.
    expect(existsSync(join(d, 'out'))).toBe(false);
  });
});

describe('PsiService', () => {
  it('runs jobs sent by message, and a failed job fails only its own ask', async () => {
    const service = system.spawn(PsiService, { name: 'psi' });
    const d = dir();
    writeCsv(join(d, 'a.csv'), header, [row('a'), row('b')]);
    writeCsv(join(d, 'b.csv'), header, [row('b'), row('c')]);
    const options = {
      left: join(d, 'a.csv'),
      right: join(d, 'b.csv'),
      key: ['id'],
      outDir: join(d, 'out'),
      threads: 2,
    };
    const bad = service.ask({ type: 'run', options: { ...options, key: ['missing'] } }, { timeoutMs: 60_000 });
    await expect(bad).rejects.toBeInstanceOf(CsvMissingColumnError);
    const summary = await service.ask<PsiSummary>({ type: 'run', options }, { timeoutMs: 60_000 });
    expect(summary.intersection).toBe(1);
    expect(readFileSync(join(d, 'out', 'left.csv'), 'utf8')).toBe('id,name,city\nb,n-b,"Zürich, CH"\n');
    expect((await service.ask<{ state: string }[]>({ type: 'list' })).map((j) => j.state)).toEqual(['failed', 'done']);
    await system.stop(service);
  });
});
