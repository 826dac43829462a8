import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Mailbox } from '../../src/Mailbox.js';

type Op =
  | { op: 'push'; n: number }
  | { op: 'unshift'; n: number }
  | { op: 'shift'; n: number }
  | { op: 'pop' }
  | { op: 'remove'; at: number }
  | { op: 'drain' };

const ops = fc.array(
  fc.oneof(
    { weight: 4, arbitrary: fc.record({ op: fc.constant('push' as const), n: fc.integer({ min: 1, max: 3000 }) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('unshift' as const), n: fc.integer({ min: 1, max: 1500 }) }) },
    { weight: 4, arbitrary: fc.record({ op: fc.constant('shift' as const), n: fc.integer({ min: 1, max: 3000 }) }) },
    { weight: 1, arbitrary: fc.constant({ op: 'pop' as const }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('remove' as const), at: fc.nat() }) },
    { weight: 1, arbitrary: fc.constant({ op: 'drain' as const }) },
  ),
  { maxLength: 40 },
);

describe('Mailbox (the segmented queue of message/envelope pairs)', () => {
  it('behaves as a double-ended list of pairs across segment boundaries, and records its deepest length', () => {
    fc.assert(
      fc.property(ops, (script: Op[]) => {
        const box = new Mailbox();
        const model: [unknown, unknown][] = [];
        let high = 0;
        let id = 0;
        const check = () => {
          expect(box.size).toBe(model.length);
          if (model.length > 0) {
            expect(box.peekMessage()).toBe(model[0]?.[0]);
            expect(box.peekEnvelope()).toBe(model[0]?.[1]);
          }
        };
        for (const s of script) {
          switch (s.op) {
            case 'push':
              for (let i = 0; i < s.n; i++) {
                const pair: [unknown, unknown] = [{ m: id }, id % 3 === 0 ? undefined : { e: id }];
                id++;
                box.push(pair[0], pair[1]);
                model.push(pair);
                high = Math.max(high, model.length);
              }
              break;
            case 'unshift':
              for (let i = 0; i < s.n; i++) {
                const pair: [unknown, unknown] = [{ m: id }, { e: id }];
                id++;
                box.unshift(pair[0], pair[1]);
                model.unshift(pair);
                high = Math.max(high, model.length);
              }
              break;
            case 'shift':
              for (let i = 0; i < s.n && model.length > 0; i++) {
                const [m, e] = model.shift() as [unknown, unknown];
                expect(box.peekMessage()).toBe(m);
                expect(box.peekEnvelope()).toBe(e);
                box.shift();
              }
              break;
            case 'pop':
              box.pop();
              model.pop();
              break;
            case 'remove': {
              if (model.length === 0) {
                expect(box.remove({}, undefined)).toBe(false);
                break;
              }
              const k = s.at % model.length;
              const [m, e] = model[k] as [unknown, unknown];
              expect(box.remove(m, e)).toBe(true);
              model.splice(k, 1);
              break;
            }
            case 'drain':
              expect(box.drain()).toEqual(model.flat());
              model.length = 0;
              break;
          }
          check();
          expect(box.highWater).toBe(high);
        }
        expect(box.drain()).toEqual(model.flat());
        expect(box.size).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  it('holds a backlog of a million pairs in order (no copy of what is queued when it grows)', () => {
    const box = new Mailbox();
    const n = 1_000_000;
    for (let i = 0; i < n; i++) box.push(i, undefined);
    expect(box.size).toBe(n);
    for (let i = 0; i < n; i++) {
      if (box.peekMessage() !== i) throw new Error(`pair ${i} came out as ${String(box.peekMessage())}`);
      box.shift();
    }
    expect(box.size).toBe(0);
    box.push('after', 'env');
    expect([box.peekMessage(), box.peekEnvelope()]).toEqual(['after', 'env']);
  });

  it('pops back across every segment boundary up to full-size segments, then pushes and drains in order', () => {
    const box = new Mailbox();
    const n = 4 + 4 + 8 + 16 + 32 + 64 + 128 + 256 + 512 + 1024 + 1024 + 3;
    for (let i = 0; i < n; i++) box.push(i, `e${i}`);
    for (let i = n - 1; i >= 0; i--) {
      box.pop();
      expect(box.size).toBe(i);
      if (i > 0) expect([box.peekMessage(), box.peekEnvelope()]).toEqual([0, 'e0']);
      // Every few pops, push one back and pop it again: the tail must be right after crossing back.
      if (i % 97 === 0) {
        box.push('again', undefined);
        expect(box.size).toBe(i + 1);
        box.pop();
      }
    }
    box.pop();
    expect(box.size).toBe(0);
    for (let i = 0; i < 3000; i++) box.push(i, undefined);
    const out = box.drain();
    expect(out.length).toBe(6000);
    expect(out.filter((_, k) => k % 2 === 0)).toEqual(Array.from({ length: 3000 }, (_, i) => i));
  });

  it('a queue that stays short while a million pairs pass through holds a few small segments, not full-size ones', () => {
    const box = new Mailbox();
    box.push(-2, undefined);
    box.push(-1, undefined);
    for (let i = 0; i < 1_000_000; i++) {
      box.push(i, undefined);
      if (box.peekMessage() !== i - 2) throw new Error(`expected ${i - 2}, got ${String(box.peekMessage())}`);
      box.shift();
    }
    const inner = box as unknown as { head: Seg; spare: Seg | undefined };
    interface Seg {
      pairs: number;
      next: Seg | undefined;
    }
    let slots = inner.spare?.pairs ?? 0;
    for (let s: Seg | undefined = inner.head; s !== undefined; s = s.next) slots += s.pairs;
    expect(slots).toBeLessThanOrEqual(16);
  });

  it('unstashing many pairs in front of a short queue makes segments that grow, not one per four pairs', () => {
    const box = new Mailbox();
    box.push('queued', undefined);
    for (let i = 9_999; i >= 0; i--) box.unshift(i, undefined);
    let segments = 0;
    for (let s = (box as unknown as { head: { next: unknown } }).head; s !== undefined; s = s.next as never) segments++;
    expect(segments).toBeLessThan(40);
    const out = box.drain().filter((_, k) => k % 2 === 0);
    expect(out).toEqual([...Array.from({ length: 10_000 }, (_, i) => i), 'queued']);
  });

  it('shift on an empty queue does nothing (the shared empty segment stays empty)', () => {
    const a = new Mailbox();
    a.shift();
    expect(a.size).toBe(0);
    const b = new Mailbox();
    b.unshift('b', undefined);
    b.push('c', undefined);
    expect(b.drain()).toEqual(['b', undefined, 'c', undefined]);
    expect(new Mailbox().size).toBe(0);
  });

  it('an idle queue shares one empty segment, and pushing into one never touches another', () => {
    const a = new Mailbox();
    const b = new Mailbox();
    a.push('a', undefined);
    b.unshift('b', undefined);
    expect([a.size, a.peekMessage()]).toEqual([1, 'a']);
    expect([b.size, b.peekMessage()]).toEqual([1, 'b']);
    a.shift();
    b.pop();
    const c = new Mailbox();
    expect(c.size).toBe(0);
    expect(c.drain()).toEqual([]);
    c.pop();
    expect(c.size).toBe(0);
  });
});
