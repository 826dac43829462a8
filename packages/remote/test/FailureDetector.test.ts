import { describe, expect, it } from 'vitest';
import { FailureDetector } from '../src/FailureDetector.js';

/** Check every 250 ms from `from` to `to`, returning the first time `inc` is reported dead. */
function deadAt(d: FailureDetector, inc: string, from: number, to: number): number | undefined {
  for (let t = from; t <= to; t += 250) if (d.check(t).includes(inc)) return t;
  return undefined;
}

describe('FailureDetector', () => {
  it('declares a silent peer dead within deadAfterMs + checkIntervalMs of its last heartbeat', () => {
    const d = new FailureDetector(3_000, 250);
    d.check(0);
    d.heard('p', 0);
    const at = deadAt(d, 'p', 250, 10_000);
    expect(at).toBeDefined();
    expect(at!).toBeGreaterThan(3_000);
    expect(at!).toBeLessThanOrEqual(d.boundMs);
  });

  it('keeps a peer that heartbeats alive', () => {
    const d = new FailureDetector(3_000, 250);
    for (let t = 0; t <= 20_000; t += 250) {
      if (t % 500 === 0) d.heard('p', t);
      expect(d.check(t)).toEqual([]);
    }
  });

  it('gives no verdicts while suspended (our connection is down), and a fresh start on resume', () => {
    const d = new FailureDetector(3_000, 250);
    d.heard('p', 0);
    d.suspend();
    for (let t = 0; t <= 10_000; t += 250) expect(d.check(t)).toEqual([]);
    d.resume(10_000);
    expect(deadAt(d, 'p', 10_250, 12_750)).toBeUndefined();
    expect(deadAt(d, 'p', 13_000, 14_000)).toBe(13_250);
  });

  it('takes even the first check as late when the process stalled right after starting', () => {
    const d = new FailureDetector(3_000, 250);
    d.heard('p', 0);
    d.start(0);
    expect(d.check(5_000)).toEqual([]);
  });

  it('takes a late check (this process stalled) as a fresh start, not a verdict', () => {
    const d = new FailureDetector(3_000, 250);
    d.heard('p', 0);
    d.check(0);
    expect(d.check(5_000)).toEqual([]); // 5 s stall: heartbeats may be waiting unread
    expect(deadAt(d, 'p', 5_250, 8_000)).toBeUndefined();
    expect(deadAt(d, 'p', 8_250, 9_000)).toBe(8_250);
  });
});
