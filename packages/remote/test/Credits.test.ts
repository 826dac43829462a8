import { describe, expect, it } from 'vitest';
import { ReceiveCredit, SendWindow } from '../src/Credits.js';

describe('SendWindow', () => {
  it('allows chunks up to the window, and one chunk whatever its size when nothing is in flight', () => {
    const w = new SendWindow(100);
    expect(w.allows(500)).toBe(true);
    w.published(60);
    expect(w.allows(40)).toBe(true);
    expect(w.allows(41)).toBe(false);
    w.published(100);
    expect(w.inFlight).toBe(100);
    expect(w.credit(30)).toBe(true);
    expect(w.allows(30)).toBe(true);
  });

  it('ignores stale credits and credits past what was sent', () => {
    const w = new SendWindow(100);
    w.published(50);
    expect(w.credit(40)).toBe(true);
    expect(w.credit(30)).toBe(false);
    expect(w.credit(51)).toBe(false);
    expect(w.acked).toBe(40);
  });
});

describe('ReceiveCredit', () => {
  it('refuses offsets that do not move forward (replays)', () => {
    const c = new ReceiveCredit(10);
    expect(c.arrived(5)).toBe(true);
    expect(c.arrived(5)).toBe(false);
    expect(c.arrived(3)).toBe(false);
  });

  it('reports when a quarter window was consumed, not before', () => {
    const c = new ReceiveCredit(25);
    c.arrived(20);
    c.caughtUp();
    expect(c.due).toBe(false);
    expect(c.unreported).toBe(true);
    c.arrived(30);
    c.caughtUp();
    expect(c.due).toBe(true);
    expect(c.report()).toBe(30);
    expect(c.unreported).toBe(false);
  });
});
