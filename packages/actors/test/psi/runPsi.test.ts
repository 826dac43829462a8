import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ActorSystem, silentLogger } from '@troupe/core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CsvFileNotFoundError,
  CsvInputChangedError,
  CsvMissingColumnError,
  CsvRaggedRowError,
  formatCsvRecord,
  PsiInterruptedError,
  PsiOptionsError,
  PsiService,
  type PsiSummary,
  runPsi,
} from '../../src/index.js';

const fixture = fileURLToPath(new URL('../fixtures/psiRun.ts', import.meta.url));

// One system for the file: worker threads are slow to start from sources.
let system: ActorSystem;
beforeAll(async () => {
  system = await ActorSystem.start({ name: 'psi-test', signals: false, logger: silentLogger, workers: { size: 2 } });
});
// Every folder a test made, removed at the end (a test machine should not collect them run after run).
const made: string[] = [];
afterAll(async () => {
  await system.shutdown();
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

type Row = string[];
const dir = () => {
  const d = mkdtempSync(join(tmpdir(), 'troupe-psi-'));
  made.push(d);
  return d;
};
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

describe('runPsi out of core', () => {
  /** Tiny limits: every store spills to disk, and the writer merges many sorted runs. */
  const tiny = { limits: { memoryBytes: 4096, sortBytes: 2048, buckets: 8 } };
  const ids = ['a', 'ß', 'é', '😀', '\ue000', 'x"y', 'p,q', 'l\nm', ''];
  /** `n` rows: keys from a small alphabet (so some repeat) plus unique ones. */
  function rows(n: number, seed: number, prefix: string): Row[] {
    const out: Row[] = [];
    let x = seed;
    for (let i = 0; i < n; i++) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      const id = x % 5 === 0 ? (ids[x % ids.length] as string) : `${prefix}${x % (n * 2)}`;
      out.push(row(id, `v${i}`, i % 7 === 0 ? 'São "Paulo", BR' : 'Oslo'));
    }
    return out;
  }

  it('matches a plain intersection when every store spills to disk and rows are merge-sorted from runs', async () => {
    const left = rows(3000, 1, 'k');
    const right = rows(2500, 2, 'k');
    const r = await run(header, left, right, ['id'], { ...tiny, batchSize: 64 });
    expect(r.left).toBe(r.wantLeft);
    expect(r.right).toBe(r.wantRight);
    expect(r.summary.intersection).toBeGreaterThan(100);
    for (const side of [r.summary.left, r.summary.right]) {
      expect(side.spilledBytes).toBeGreaterThan(0);
      expect(side.sortRuns).toBeGreaterThan(1);
    }
    expect(r.outFiles).toEqual(['left.csv', 'right.csv']); // scratch folders and runs removed
  });

  it('agrees with a plain intersection out of core on random data, with one bucket or many (property)', async () => {
    const id = fc.oneof(fc.string({ maxLength: 4 }), fc.constantFrom('a', 'é', '"', ',', '\n', '😀'));
    await fc.assert(
      fc.asyncProperty(
        fc.array(id, { maxLength: 200 }),
        fc.array(id, { maxLength: 200 }),
        fc.constantFrom(1, 2, 64),
        async (l, rr, buckets) => {
          const r = await run(
            header,
            l.map((x) => row(x)),
            rr.map((x) => row(x)),
            ['id'],
            { limits: { memoryBytes: 1024, sortBytes: 256, buckets }, batchSize: 7 },
          );
          expect(r.left).toBe(r.wantLeft);
          expect(r.right).toBe(r.wantRight);
        },
      ),
      { numRuns: 6 },
    );
  });

  it('uses several key columns out of core', async () => {
    const h = ['k1', 'k2', 'v'];
    const mk = (n: number, off: number): Row[] =>
      Array.from({ length: n }, (_, i) => [`a,${(i + off) % 300}`, `${(i + off) % 7}`, `${i}`]);
    const r = await run(h, mk(900, 0), mk(700, 150), ['k1', 'k2'], tiny);
    expect(r.left).toBe(r.wantLeft);
    expect(r.right).toBe(r.wantRight);
  });

  it('leaves no output when the external sort crashes mid-merge', async () => {
    const d = dir();
    writeCsv(join(d, 'a.csv'), header, rows(2000, 3, 'k'));
    writeCsv(join(d, 'b.csv'), header, rows(2000, 4, 'k'));
    const error = await runPsi(system, {
      left: join(d, 'a.csv'),
      right: join(d, 'b.csv'),
      key: ['id'],
      outDir: join(d, 'out'),
      threads: 2,
      ...tiny,
      crashInSort: 'throw',
    }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/injected crash in the external sort/);
    // The run made the folder, so the failed run removes it again (scratch folder, runs, temporary output and all).
    expect(existsSync(join(d, 'out'))).toBe(false);
  });

  it('leaves no output file when the process is killed (SIGKILL) in the middle of the external sort', async () => {
    const d = dir();
    writeCsv(join(d, 'a.csv'), header, rows(2000, 7, 'k'));
    writeCsv(join(d, 'b.csv'), header, rows(2000, 8, 'k'));
    const options = {
      left: join(d, 'a.csv'),
      right: join(d, 'b.csv'),
      key: ['id'],
      outDir: join(d, 'out'),
      threads: 2,
      ...tiny,
      crashInSort: 'kill',
    };
    const child = spawn(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', fixture, JSON.stringify(options)],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (c) => {
      stderr += c;
    });
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) =>
      child.on('close', (c, s) => resolve([c, s])),
    );
    expect({ code, signal, stderr }).toMatchObject({ code: null, signal: 'SIGKILL' });
    const left = readdirSync(join(d, 'out'));
    expect(left).not.toContain('left.csv');
    expect(left).not.toContain('right.csv');
    // What a killed run leaves is temporary and named so: hidden, ending in .tmp.
    expect(left.every((f) => f.startsWith('.') && f.endsWith('.tmp'))).toBe(true);
  }, 60_000);

  it('refuses to cut rows from an input that changed during the run', async () => {
    const d = dir();
    writeCsv(join(d, 'a.csv'), header, rows(3000, 5, 'k'));
    writeCsv(join(d, 'b.csv'), header, rows(3000, 6, 'k'));
    let changed = false;
    const error = await runPsi(system, {
      left: join(d, 'a.csv'),
      right: join(d, 'b.csv'),
      key: ['id'],
      outDir: join(d, 'out'),
      threads: 2,
      batchSize: 32,
      progressIntervalMs: 5,
      onProgress: (p) => {
        if (!changed && p.left.readDone) {
          changed = true;
          appendFileSync(join(d, 'a.csv'), 'late,row,added\n');
        }
      },
    }).catch((e: unknown) => e);
    expect(changed).toBe(true);
    expect(error).toBeInstanceOf(CsvInputChangedError);
    expect((error as Error).message).toMatch(/a\.csv: the file changed during the run/);
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

describe('runPsi: who learns what', () => {
  const ids = (from: number, n: number) => Array.from({ length: n }, (_, i) => row(`id-${from + i}`));
  const l = [...ids(0, 120), row('id-5')]; // a duplicate key on the left
  const r = ids(60, 130);

  for (const side of ['left', 'right'] as const) {
    const other = side === 'left' ? 'right' : 'left';
    it(`writes only the ${side} side's rows with reveal=${side}; the ${other} side learns nothing and writes nothing`, async () => {
      const res = await runOnly(header, l, r, ['id'], { reveal: side });
      expect(res.outFiles).toEqual([`${side}.csv`]);
      expect(res.file(side)).toBe(side === 'left' ? res.wantLeft : res.wantRight);
      expect(res.summary.intersection).toBe(60);
      expect(res.summary[side]).toMatchObject({
        learned: 'rows',
        matchedKeys: 60,
        outFile: join(res.d, 'out', `${side}.csv`),
      });
      expect(res.summary[other]).toMatchObject({
        learned: 'nothing',
        matchedKeys: null,
        matchedRows: 0,
        outFile: null,
      });
      // What the other side does learn: the size of the revealed side's set.
      expect(res.summary[other].peerUniqueKeys).toBe(side === 'left' ? 120 : 130);
    });
  }

  it('writes no rows in the cardinality mode; both sides learn only the size', async () => {
    const res = await runOnly(header, l, r, ['id'], { cardinalityOnly: true });
    expect(res.outFiles).toEqual([]);
    expect(res.summary.intersection).toBe(60);
    for (const side of ['left', 'right'] as const) {
      expect(res.summary[side]).toMatchObject({ learned: 'size', matchedKeys: 60, matchedRows: 0, outFile: null });
    }
  });

  it('reveals the size to the named side only with --cardinality-only and reveal=right', async () => {
    const res = await runOnly(header, l, r, ['id'], { cardinalityOnly: true, reveal: 'right' });
    expect(res.outFiles).toEqual([]);
    expect(res.summary.right).toMatchObject({ learned: 'size', matchedKeys: 60 });
    expect(res.summary.left).toMatchObject({ learned: 'nothing', matchedKeys: null });
  });

  it('counts the intersection right in the cardinality mode on random data (property)', async () => {
    const id = fc.oneof(fc.string({ maxLength: 4 }), fc.constantFrom('a', 'b', 'c'));
    await fc.assert(
      fc.asyncProperty(fc.array(id, { maxLength: 80 }), fc.array(id, { maxLength: 80 }), async (a, b) => {
        const res = await runOnly(
          header,
          a.map((x) => row(x)),
          b.map((x) => row(x)),
          ['id'],
          { cardinalityOnly: true },
        );
        const inter = new Set(a.filter((x) => new Set(b).has(x))).size;
        expect(res.summary.left.matchedKeys).toBe(inter);
        expect(res.summary.right.matchedKeys).toBe(inter);
      }),
      { numRuns: 6 },
    );
  });

  it('refuses a bad reveal value, and --resume without a checkpoint folder or with --cardinality-only', async () => {
    const d = dir();
    writeCsv(join(d, 'a.csv'), header, [row('a')]);
    const opts = { left: join(d, 'a.csv'), right: join(d, 'a.csv'), key: ['id'], outDir: join(d, 'out'), threads: 2 };
    await expect(runPsi(system, { ...opts, reveal: 'middle' as 'left' })).rejects.toThrow(
      /--reveal must be both, left or right, got "middle"/,
    );
    await expect(runPsi(system, { ...opts, resume: true })).rejects.toThrow(/--resume needs a checkpoint folder/);
    await expect(
      runPsi(system, { ...opts, resume: true, checkpointDir: join(d, 'ck'), cardinalityOnly: true }),
    ).rejects.toThrow(/--resume cannot be used with --cardinality-only/);
  });
});

/** A run whose outputs may be missing (the modes that write less). */
async function runOnly(
  h: string[],
  left: Row[],
  right: Row[],
  key: string[],
  extra: Partial<Parameters<typeof runPsi>[1]>,
) {
  const d = dir();
  writeCsv(join(d, 'a.csv'), h, left);
  writeCsv(join(d, 'b.csv'), h, right);
  const summary = await runPsi(system, {
    left: join(d, 'a.csv'),
    right: join(d, 'b.csv'),
    key,
    outDir: join(d, 'out'),
    threads: 2,
    batchSize: 16,
    ...extra,
  });
  const keyCols = key.map((c) => h.indexOf(c));
  return {
    d,
    summary,
    file: (side: 'left' | 'right') => readFileSync(join(d, 'out', `${side}.csv`), 'utf8'),
    wantLeft: expected(h, left, right, keyCols),
    wantRight: expected(h, right, left, keyCols),
    outFiles: readdirSync(join(d, 'out')).sort(),
  };
}
