import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PendingAsks } from '../../src/internal/PendingAsks.js';

describe('PendingAsks', () => {
  it('gives back each ask by its id exactly once, whatever the order replies come in', () => {
    fc.assert(
      fc.property(
        fc.array(fc.boolean(), { minLength: 1, maxLength: 3000 }),
        fc.integer({ min: 1, max: 2 ** 40 }),
        (ops, first) => {
          const table = new PendingAsks<string>(4);
          const live = new Map<number, string>();
          let next = first;
          for (const add of ops) {
            if (add || live.size === 0) {
              const id = next++;
              table.set(id, `ask ${id}`);
              live.set(id, `ask ${id}`);
            } else {
              // Settle an ask from the middle of those in flight, not only the oldest.
              const ids = [...live.keys()];
              const id = ids[Math.floor(ids.length / 2)] as number;
              expect(table.take(id)).toBe(live.get(id));
              expect(table.take(id)).toBeUndefined();
              live.delete(id);
            }
            expect(table.size).toBe(live.size);
          }
          expect(table.drain().sort()).toEqual([...live.values()].sort());
          expect(table.size).toBe(0);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('keeps an ask that waits far longer than the rest without growing for it', () => {
    const table = new PendingAsks<number>(64);
    table.set(1, 1);
    // 100 000 asks come and go while ask 1 waits: its slot is taken every 64 ids.
    let wrong = 0;
    for (let id = 2; id < 100_000; id++) {
      table.set(id, id);
      if (table.take(id) !== id) wrong++;
    }
    expect(wrong).toBe(0);
    expect(table.size).toBe(1);
    expect(table.take(1)).toBe(1);
    expect(table.take(99_999)).toBeUndefined();
  });

  it('answers undefined for an id it never had (a late or forged reply)', () => {
    const table = new PendingAsks<string>();
    table.set(7, 'a');
    expect(table.take(7 + 1024)).toBeUndefined();
    expect(table.take(-1)).toBeUndefined();
    expect(table.take(Number.NaN)).toBeUndefined();
    expect(table.take(7)).toBe('a');
  });
});
