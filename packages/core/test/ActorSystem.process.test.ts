import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { reportOf, runFixture } from './helpers/child.js';

// Real child processes, real signals (RELIABILITY.md scenarios 2-5 and 7).
describe('ActorSystem in a real process', () => {
  it('fails start() inside a worker thread with NotMainThreadError explaining why', async () => {
    const child = runFixture('start-in-worker.ts');
    const { code } = await child.exited;
    expect(code).toBe(0);
    const msg = JSON.parse(child.stdout().trim().split('\n')[0] as string);
    expect(msg.name).toBe('NotMainThreadError');
    expect(msg.code).toBe('ERR_NOT_MAIN_THREAD');
    expect(msg.message).toMatch(/signals/);
    expect(msg.message).toMatch(/main thread/);
  });

  it('drains 10k queued messages on SIGTERM, dead-letters new tells, and exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'troupe-drain-'));
    const out = join(dir, 'handled.txt');
    const child = runFixture('drain-on-sigterm.ts', [out]);
    await child.waitFor('ready');
    child.proc.kill('SIGTERM');
    const { code } = await child.exited;
    expect(code, child.stderr()).toBe(0);
    const { report, extra } = reportOf(child) as unknown as {
      report: import('@troupe/core').ShutdownReport;
      extra: number;
    };
    // Every queued message was handled before the actor stopped.
    expect(Number(readFileSync(out, 'utf8'))).toBe(10_000);
    expect(report.cause).toBe('signal');
    expect(report.signal).toBe('SIGTERM');
    expect(report.exitCode).toBe(0);
    expect(report.phases.map((p) => p.phase)).toEqual(['stop-intake', 'drain', 'stop-actors', 'before-exit']);
    expect(report.phases.every((p) => !p.timedOut)).toBe(true);
    // Tells after the signal were refused and recorded, none lost.
    expect(extra).toBe(50);
    expect(report.rejected).toBe(50);
    expect(report.deadLettersByReason['shutting-down']).toBe(50);
    expect(report.processed).toBeGreaterThan(0);
    expect(report.processed).toBeLessThanOrEqual(10_000);
  });

  it('forces exit with 128+15 on a second SIGTERM during shutdown', async () => {
    const child = runFixture('hanging-hook.ts', ['forever']);
    await child.waitFor('ready');
    child.proc.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    child.proc.kill('SIGTERM');
    const { code, ms } = await child.exited;
    expect(code).toBe(143);
    expect(ms).toBeLessThan(30_000);
  });

  it('forces exit with 128+2 on a second SIGINT during shutdown', async () => {
    const child = runFixture('hanging-hook.ts', ['forever']);
    await child.waitFor('ready');
    child.proc.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 300));
    child.proc.kill('SIGINT');
    const { code } = await child.exited;
    expect(code).toBe(130);
  });

  it('abandons an actor whose stop hook hangs, names it, and still exits (non-zero) within budget', async () => {
    const child = runFixture('hanging-hook.ts', ['actor']);
    await child.waitFor('ready');
    child.proc.kill('SIGTERM');
    const { code, ms } = await child.exited;
    const { report } = reportOf(child);
    expect(code).toBe(3);
    expect(report.exitCode).toBe(3);
    expect(report.abandoned).toEqual(['/user/stuck']);
    const stopPhase = report.phases.find((p) => p.phase === 'stop-actors');
    expect(stopPhase?.hung.join('\n')).toMatch(/\/user\/stuck did not finish its afterStop hook within 300 ms/);
    expect(ms).toBeLessThan(20_000);
  });

  it('times out the stop-actors phase when an actor hangs longer than the phase, naming the actor', async () => {
    const child = runFixture('hanging-hook.ts', ['phase']);
    await child.waitFor('ready');
    child.proc.kill('SIGTERM');
    const { code } = await child.exited;
    const { report } = reportOf(child);
    expect(code).toBe(3);
    const stopPhase = report.phases.find((p) => p.phase === 'stop-actors');
    expect(stopPhase?.timedOut).toBe(true);
    expect(stopPhase?.hung.join('\n')).toMatch(/\/user\/stuck/);
  });

  it('names a shutdown hook that hangs and times out its phase', async () => {
    const child = runFixture('hanging-hook.ts', ['hook']);
    await child.waitFor('ready');
    child.proc.kill('SIGTERM');
    const { code } = await child.exited;
    const { report } = reportOf(child);
    expect(code).toBe(3);
    const phase = report.phases.find((p) => p.phase === 'before-exit');
    expect(phase?.timedOut).toBe(true);
    expect(phase?.hung).toContain('hook flush-metrics');
  });

  it('shuts down with exit code 1 after a restart storm at the top, saying which actor, error and restarts', async () => {
    const child = runFixture('restart-storm.ts');
    const { code, ms } = await child.exited;
    expect(code).toBe(1);
    const { report, restarts } = reportOf(child) as unknown as {
      report: import('@troupe/core').ShutdownReport;
      restarts: number;
    };
    expect(restarts).toBe(3);
    expect(report.cause).toBe('failure');
    expect(report.exitCode).toBe(1);
    expect(report.error).toMatch(/\/user\/broken/);
    expect(child.stderr()).toMatch(/\[\/user\/broken\] failed after 3 restart\(s\).*database unreachable/);
    expect(ms).toBeLessThan(30_000);
  });

  it('lets the process exit by itself after shutdown(), with no handles or signal listeners left', async () => {
    const child = runFixture('clean-exit.ts');
    const { code, ms } = await child.exited;
    expect(code, child.stderr()).toBe(0);
    const result = reportOf(child) as unknown as { resources: string[]; sigterm: number; sigint: number };
    expect(result.resources.filter((r) => r === 'Timeout' || r === 'Immediate')).toEqual([]);
    expect(result.sigterm).toBe(0);
    expect(result.sigint).toBe(0);
    expect(ms).toBeLessThan(20_000);
  });
});
