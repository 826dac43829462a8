import { describe, expect, it } from 'vitest';
import { canonicalText, digestOf, foldChecksum, formatChecksum } from '../src/pipeline/digest.js';
import { enrichReading } from '../src/pipeline/Enricher.js';
import { parseLine } from '../src/pipeline/Parser.js';
import { makeLine } from '../src/pipeline/source.js';
import { lastJson, runExample, runToEnd } from './helpers/child.js';

interface Summary {
  lines: number;
  capacity: number;
  parsed: number;
  malformed: number;
  enriched: number;
  unknownSensor: number;
  aggregated: number;
  checkpoints: number;
  sites: { site: string; count: number }[];
  stages: { path: string; processed: number; mailboxHighWater: number; throughputPerSec: number }[];
  throughputPerSec: number;
  mainThreadId: number;
  hashed: number;
  checksum: string;
  hashers: { name: string; threadId: number; hashed: number; busyMs: number }[];
  report: import('@troupe/core').ShutdownReport;
}

describe('pipeline example', { timeout: 60_000 }, () => {
  it('pushes every line through parse → enrich → aggregate and prints throughput and high-water marks', async () => {
    const { code, stdout, stderr } = await runToEnd('pipeline');
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/throughput\s+[\d,]+ lines\/s/);
    for (const stage of ['parse', 'enrich', 'aggregate']) {
      expect(stdout).toMatch(new RegExp(`^\\s+${stage}\\s+[\\d,]+\\s+\\d+ / 256\\s+[\\d.]+ ms\\s+[\\d,]+/s$`, 'm'));
    }
    expect(stdout).not.toMatch(/hash/);
    expect(stdout).toMatch(/^shutdown of pipeline: call, exit code 0/m);
  });

  it('accounts for every line and never lets a mailbox exceed its capacity', async () => {
    const lines = 30_000;
    const capacity = 16;
    const args = [
      '--lines',
      `${lines}`,
      '--capacity',
      `${capacity}`,
      '--checkpoint-every',
      '3000',
      '--checkpoint-ms',
      '5',
    ];
    const { code, stdout, stderr } = await runToEnd('pipeline', [...args, '--json']);
    expect(code, stderr).toBe(0);
    const s = lastJson<Summary>(stdout);

    let malformed = 0;
    for (let i = 0; i < lines; i++) if (parseLine(makeLine(i)) === undefined) malformed++;
    expect(s.malformed).toBe(malformed);
    expect(s.parsed + s.malformed).toBe(lines);
    expect(s.enriched + s.unknownSensor).toBe(s.parsed);
    expect(s.aggregated).toBe(s.enriched);
    expect(s.sites.reduce((n, site) => n + site.count, 0)).toBe(s.aggregated);
    expect(s.checkpoints).toBe(Math.floor(s.aggregated / 3000));

    expect(s.stages.map((st) => st.path)).toEqual(['/user/parse', '/user/enrich', '/user/aggregate']);
    expect(s.hashed).toBe(0);
    expect(s.hashers).toEqual([]);
    for (const st of s.stages) expect(st.mailboxHighWater).toBeLessThanOrEqual(capacity);
    // While the aggregator writes a checkpoint its mailbox fills up: backpressure did engage.
    expect(s.stages[2]?.mailboxHighWater).toBe(capacity);
    expect(s.report).toMatchObject({ exitCode: 0, deadLettered: 0, pendingAsksRejected: 0 });
  });

  it('with --worker-stage, hashes every reading on worker threads with backpressure intact', async () => {
    const lines = 20_000;
    const capacity = 16;
    const rounds = 3;
    const args = ['--worker-stage', '--hash-threads', '2', '--hash-rounds', `${rounds}`, '--hash-chunk', '8'];
    args.push('--lines', `${lines}`, '--capacity', `${capacity}`, '--checkpoint-every', '2000', '--checkpoint-ms', '5');
    const { code, stdout, stderr } = await runToEnd('pipeline', [...args, '--json']);
    expect(code, stderr).toBe(0);
    const s = lastJson<Summary>(stdout);

    expect(s.parsed + s.malformed).toBe(lines);
    expect(s.enriched + s.unknownSensor).toBe(s.parsed);
    expect(s.aggregated).toBe(s.enriched);
    expect(s.hashed).toBe(s.aggregated);
    // The digests are right: the same checksum, recomputed here on the test's own thread.
    let checksum = 0;
    for (let i = 0; i < lines; i++) {
      const reading = parseLine(makeLine(i));
      const enriched = reading && enrichReading(reading);
      if (enriched !== undefined) checksum = foldChecksum(checksum, digestOf(canonicalText(enriched), rounds));
    }
    expect(s.checksum).toBe(formatChecksum(checksum));

    // Two hashers, each on its own thread, neither of them the main thread; between them, every reading.
    expect(s.hashers.map((h) => h.name)).toEqual(['hash-0', 'hash-1']);
    const threads = s.hashers.map((h) => h.threadId);
    expect(new Set(threads).size).toBe(2);
    for (const t of threads) expect(t).not.toBe(s.mainThreadId);
    expect(s.hashers.reduce((n, h) => n + h.hashed, 0)).toBe(s.aggregated);
    for (const h of s.hashers) expect(h.hashed).toBeGreaterThan(0);

    expect(s.stages.map((st) => st.path)).toEqual(['/user/parse', '/user/enrich', '/user/hash', '/user/aggregate']);
    for (const st of s.stages) expect(st.mailboxHighWater).toBeLessThanOrEqual(capacity);
    // The aggregator's checkpoints still hold up the whole line, through the worker stage.
    expect(s.stages[3]?.mailboxHighWater).toBe(capacity);
    expect(s.stages[2]?.mailboxHighWater).toBe(capacity);
    expect(s.report).toMatchObject({ exitCode: 0, deadLettered: 0, pendingAsksRejected: 0 });
  });

  it('with --worker-stage, prints each stage and each hasher thread with its throughput', async () => {
    const { code, stdout, stderr } = await runToEnd('pipeline', ['--worker-stage', '--lines', '20000']);
    expect(code, stderr).toBe(0);
    expect(stdout).toContain('→ hash (2 worker threads, 1 SHA-256 round) →');
    expect(stdout).toMatch(/^\s+hashed\s+[\d,]+\s+\(checksum [0-9a-f]{8}\)$/m);
    for (const stage of ['parse', 'enrich', 'hash', 'aggregate']) {
      expect(stdout).toMatch(new RegExp(`^\\s+${stage}\\s+[\\d,]+\\s+\\d+ / 256\\s+[\\d.]+ ms\\s+[\\d,]+/s$`, 'm'));
    }
    for (const hasher of ['hash-0', 'hash-1']) {
      expect(stdout).toMatch(
        new RegExp(`^\\s+${hasher}\\s+[\\d,]+\\s+on thread [1-9]\\d*\\s+[\\d.]+ ms\\s+[\\d,]+/s$`, 'm'),
      );
    }
    expect(stdout).toMatch(/^shutdown of pipeline: call, exit code 0/m);
  });

  it('with --worker-stage, stops on SIGINT and exits 130 without leaving threads behind', async () => {
    const child = runExample('pipeline', ['--worker-stage', '--lines', '100000000']);
    await child.waitFor('Ctrl-C to interrupt');
    await new Promise((r) => setTimeout(r, 500));
    child.proc.kill('SIGINT');
    // The process exits by itself: no host thread keeps it alive.
    expect(await child.exited, child.stderr()).toBe(130);
    expect(child.stdout()).toMatch(/^pipeline: interrupted after [\d,]+ of 100,000,000 lines$/m);
    expect(child.stdout()).toMatch(/^shutdown of pipeline: signal \(SIGINT\), exit code 130/m);
    expect(child.stderr()).not.toMatch(/failed|Unhandled/i);
  });

  it('stops feeding on SIGINT, drains through coordinated shutdown and exits 130', async () => {
    const child = runExample('pipeline', ['--lines', '100000000']);
    await child.waitFor('Ctrl-C to interrupt');
    await new Promise((r) => setTimeout(r, 300));
    child.proc.kill('SIGINT');
    expect(await child.exited, child.stderr()).toBe(130);
    expect(child.stdout()).toMatch(/^pipeline: interrupted after [\d,]+ of 100,000,000 lines$/m);
    expect(child.stdout()).toMatch(/^shutdown of pipeline: signal \(SIGINT\), exit code 130/m);
  });

  it('rejects a bad flag with a clear message and exit code 2', async () => {
    const { code, stderr } = await runToEnd('pipeline', ['--capacity', 'lots']);
    expect(code).toBe(2);
    expect(stderr).toContain('--capacity must be an integer between 1 and 1000000, got "lots"');
  });
});
