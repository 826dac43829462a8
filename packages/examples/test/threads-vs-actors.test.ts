import { describe, expect, it } from 'vitest';
import { fingerprint, hashItem } from '../src/threads-vs-actors/workload.js';
import { lastJson, runToEnd } from './helpers/child.js';

interface Run {
  elapsedMs: number;
  itemsPerSec: number;
  threadIds: number[];
  fingerprint: string;
}

interface Summary {
  items: number;
  rounds: number;
  threads: number;
  mainThreadId: number;
  baseline: { elapsedMs: number; itemsPerSec: number };
  naive: Run;
  troupe: Run;
  ratio: number;
  identical: boolean;
  fingerprint: string;
  exitCode: number;
}

describe('threads-vs-actors example', { timeout: 60_000 }, () => {
  it('hashes the same items with raw threads + a shared queue and with a Troupe pool, with identical digests', async () => {
    const items = 300;
    const rounds = 3;
    const { code, stdout, stderr } = await runToEnd('threads-vs-actors', [
      '--items',
      `${items}`,
      '--rounds',
      `${rounds}`,
      '--threads',
      '2',
      '--outstanding',
      '40',
      '--json',
    ]);
    expect(code, stderr).toBe(0);
    const s = lastJson<Summary>(stdout);
    expect(s).toMatchObject({ items, rounds, threads: 2, identical: true, exitCode: 0 });

    // The digests are the workload's, recomputed here.
    const expected = fingerprint(Array.from({ length: items }, (_, i) => hashItem(i, rounds)));
    expect(s.fingerprint).toBe(expected);
    expect(s.naive.fingerprint).toBe(expected);
    expect(s.troupe.fingerprint).toBe(expected);

    // Both designs really ran on two threads other than the main one.
    for (const run of [s.naive, s.troupe]) {
      expect(run.itemsPerSec).toBeGreaterThan(0);
      expect(new Set(run.threadIds).size).toBe(2);
      for (const t of run.threadIds) expect(t).not.toBe(s.mainThreadId);
    }
    expect(s.ratio).toBeCloseTo(s.troupe.itemsPerSec / s.naive.itemsPerSec, 6);
  });

  it('prints both throughputs, their ratio and the digest check', async () => {
    const { code, stdout, stderr } = await runToEnd('threads-vs-actors', ['--items', '200', '--rounds', '1']);
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/^threads-vs-actors: 200 items × SHA-256 ×1 of 1024 bytes, 2 threads per design$/m);
    expect(stdout).toMatch(/^\s+main thread alone\s+[\d,]+ items\/s/m);
    expect(stdout).toMatch(/^\s+threads \+ shared queue\s+[\d,]+ items\/s\s+\([\d.]+ s\)/m);
    expect(stdout).toMatch(/^\s+troupe worker actors\s+[\d,]+ items\/s\s+\([\d.]+ s\)/m);
    expect(stdout).toMatch(/^\s+ratio\s+\d+\.\d\d× \(troupe \/ threads \+ shared queue\)$/m);
    expect(stdout).toMatch(/^\s+digests\s+identical in all three \(200 items, fingerprint [0-9a-f]{16}\)$/m);
  });

  it('copes with fewer items than threads and a single thread', async () => {
    for (const args of [
      ['--items', '1', '--threads', '3'],
      ['--items', '50', '--threads', '1', '--outstanding', '1'],
    ]) {
      const { code, stdout, stderr } = await runToEnd('threads-vs-actors', [...args, '--json']);
      expect(code, stderr).toBe(0);
      expect(lastJson<Summary>(stdout).identical).toBe(true);
    }
  });

  it('rejects bad flags with a message naming the flag, the rule and the value, and exit code 2', async () => {
    const cases: [string[], string][] = [
      [['--items', '0'], '--items must be an integer between 1 and 10000000, got "0"'],
      [['--rounds', 'many'], '--rounds must be an integer between 1 and 1000000, got "many"'],
      [['--threads', '2.5'], '--threads must be an integer between 1 and 64, got "2.5"'],
      [['--thread', '2'], "Unknown option '--thread'"],
    ];
    for (const [args, message] of cases) {
      const { code, stderr } = await runToEnd('threads-vs-actors', args);
      expect(code, stderr).toBe(2);
      expect(stderr).toContain(message);
    }
  });
});
