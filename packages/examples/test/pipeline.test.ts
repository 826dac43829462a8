import { describe, expect, it } from 'vitest';
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
  stages: { path: string; processed: number; mailboxHighWater: number }[];
  throughputPerSec: number;
  report: import('@troupe/core').ShutdownReport;
}

describe('pipeline example', { timeout: 60_000 }, () => {
  it('pushes every line through parse → enrich → aggregate and prints throughput and high-water marks', async () => {
    const { code, stdout, stderr } = await runToEnd('pipeline');
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/throughput\s+[\d,]+ lines\/s/);
    for (const stage of ['parse', 'enrich', 'aggregate']) {
      expect(stdout).toMatch(new RegExp(`^\\s+${stage}\\s+[\\d,]+\\s+\\d+ / 256`, 'm'));
    }
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
    for (const st of s.stages) expect(st.mailboxHighWater).toBeLessThanOrEqual(capacity);
    // While the aggregator writes a checkpoint its mailbox fills up: backpressure did engage.
    expect(s.stages[2]?.mailboxHighWater).toBe(capacity);
    expect(s.report).toMatchObject({ exitCode: 0, deadLettered: 0, pendingAsksRejected: 0 });
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
