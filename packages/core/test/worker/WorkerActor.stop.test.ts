import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger, ShutdownReport } from '@troupe/core';
import { describe, expect, it } from 'vitest';
import { reportOf, runFixture } from '../helpers/child.js';
import { useSystem } from '../helpers/system.js';
import { SleeperSpec } from './helpers.js';

const start = useSystem();
const journal = () => join(mkdtempSync(join(tmpdir(), 'troupe-stop-')), 'journal.txt');

// Issue 9 item 1: one stop budget, decided on the main side.
describe('stopping a worker actor busy in a long message', () => {
  it('waits for it as long as stopTimeoutMs allows (8 s here), then runs its stop hook', {
    timeout: 30_000,
  }, async () => {
    const lines: string[] = [];
    const logger: Logger = { debug: () => {}, info: () => {}, warn: (m) => lines.push(m), error: (m) => lines.push(m) };
    const s = await start({ name: 'stop-budget', stopTimeoutMs: 8_000, logger, workers: { size: 1 } });
    const file = journal();
    const sleeper = s.spawnWorker(SleeperSpec, { name: 'sleeper', input: { file } });
    expect(await sleeper.ask({ type: 'ping' }, { timeoutMs: 20_000 })).toBe('pong');
    sleeper.tell({ type: 'sleep', ms: 6_000 });
    await new Promise((r) => setTimeout(r, 200));
    const t0 = performance.now();
    await s.stop(sleeper);
    const ms = performance.now() - t0;
    // Not abandoned after 5 s: the message finished, then afterStop ran.
    expect(readFileSync(file, 'utf8')).toBe('slept\nstopped\n');
    expect(ms).toBeGreaterThan(5_000);
    expect(lines.filter((l) => /did not finish/.test(l))).toEqual([]);
  });

  it('on SIGTERM abandons it after its budget, names it in the report and exits 3, printing nothing', {
    timeout: 60_000,
  }, async () => {
    const file = journal();
    const child = runFixture('worker-stop-budget.ts', [file, '6000']);
    await child.waitFor('ready', 30_000);
    child.proc.kill('SIGTERM');
    const { code, ms } = await child.exited;
    const { report, threadsAfter } = reportOf(child) as unknown as { report: ShutdownReport; threadsAfter: number };
    expect(code).toBe(3);
    expect(report.exitCode).toBe(3);
    expect(report.abandoned).toContain('/user/sleeper');
    const stopActors = report.phases.find((p) => p.phase === 'stop-actors');
    expect(stopActors?.hung.join('\n')).toMatch(
      /\/user\/sleeper did not finish its stop in its worker thread within 6000 ms/,
    );
    expect(stopActors?.durationMs).toBeGreaterThan(5_500);
    expect(threadsAfter).toBe(0);
    expect(child.stderr()).toBe('');
    expect(ms).toBeLessThan(40_000);
  });
});
