import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeScratchDir, removeScratchDir, SpillBuckets } from '../../src/psi/SpillBuckets.js';

describe('SpillBuckets', () => {
  it('gives every bucket back in append order, across several spills to one file', async () => {
    const dir = await makeScratchDir(mkdtempSync(join(tmpdir(), 'troupe-spill-')), 'test');
    const store = SpillBuckets.create({ dir, name: 's', buckets: 4, recordWords: 3, memoryLimit: 200 });
    const want: number[][] = [[], [], [], []];
    for (let i = 0; i < 1000; i++) {
      const b = (i * 7) % 4;
      const at = store.reserve(b);
      store.cur[at] = i;
      store.cur[at + 1] = i * 2;
      store.cur[at + 2] = b;
      want[b]?.push(i, i * 2, b);
      if (store.full) await store.spill();
    }
    expect(store.spilledBytes).toBeGreaterThan(0);
    expect(readdirSync(dir)).toEqual(['s.spill']);
    expect(store.total).toBe(1000);
    for (let b = 0; b < 4; b++) {
      expect(store.count(b)).toBe((want[b] as number[]).length / 3);
      expect([...(await store.take(b))]).toEqual(want[b]);
      expect(store.count(b)).toBe(0);
    }
    await store.dispose();
    expect(readdirSync(dir)).toEqual([]);
    await expect(store.take(0)).rejects.toThrow(/disposed/);
    await removeScratchDir(dir);
    expect(existsSync(dir)).toBe(false);
  });

  it('keeps records in memory, writing nothing, while they fit', async () => {
    const dir = await makeScratchDir(mkdtempSync(join(tmpdir(), 'troupe-spill-')), 'test');
    const store = SpillBuckets.create({ dir, name: 's', buckets: 2, recordWords: 2, memoryLimit: 1 << 20 });
    store.appendMany(1, new Uint32Array([1, 2, 3, 4]), 2);
    expect(store.full).toBe(false);
    expect([...(await store.take(1))]).toEqual([1, 2, 3, 4]);
    expect([...(await store.take(0))]).toEqual([]);
    expect(store.spilledBytes).toBe(0);
    expect(readdirSync(dir)).toEqual([]);
    await store.dispose();
    await removeScratchDir(dir);
  });
});
