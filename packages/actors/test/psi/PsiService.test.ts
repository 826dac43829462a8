/**
 * PsiService embedded in a real process that owns its signals (issue 14, items 8 and 9):
 * a bad job fails alone, a shutdown interrupts a running job cleanly, progress and
 * cancel work by message.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const fixture = fileURLToPath(new URL('../fixtures/psi-service.ts', import.meta.url));

// biome-ignore lint/suspicious/noExplicitAny: the fixture's JSON line, checked field by field below
type Json = Record<string, any>;

/** Run the fixture with `scenario`; resolves with its exit code, its JSON line and its stderr. */
function host(scenario: string): Promise<{ code: number; out: Json; err: string; ms: number }> {
  const dir = mkdtempSync(join(tmpdir(), `troupe-psi-service-${scenario}-`));
  const t0 = Date.now();
  const proc = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', fixture, scenario, dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout.on('data', (d) => {
    out += d;
  });
  proc.stderr.on('data', (d) => {
    err += d;
  });
  return new Promise((resolve) =>
    proc.on('close', (code) => {
      let json: Json = {};
      try {
        json = JSON.parse(out.trim().split('\n').pop() as string);
      } catch {
        json = { unparsed: out };
      }
      resolve({ code: code ?? -1, out: json, err, ms: Date.now() - t0 });
    }),
  );
}

describe('PsiService in a service process', { timeout: 240_000 }, () => {
  it('refuses bad jobs at the door and contains a late failure to its own job; the healthy job, the service and the job counter are untouched', async () => {
    const { code, out, err } = await host('contain');
    expect(code, err).toBe(0);
    expect(out.tooManyThreads).toMatchObject({ name: 'PsiOptionsError' });
    expect(out.tooManyThreads.message).toMatch(/--threads is 3 but the actor system has 2 worker host\(s\)/);
    expect(out.callback.message).toMatch(/onProgress cannot be sent to PsiService.*ask it \{ type: 'progress', id \}/);
    expect(out.missingColumn).toMatchObject({ name: 'CsvMissingColumnError' });
    expect(out.lateStatus).toMatchObject({ state: 'failed', error: { name: 'CsvRaggedRowError', line: 20002 } });
    expect(out.lateOutLeft).toBe(false);
    expect(out.healthy).toEqual({ intersection: 30_000 });
    // The counter goes on (it used to restart at job-1 with the service): options refused at
    // once get no id; a job refused by its files (job-2) or failed late (job-3) keeps its status.
    expect(out.nextId).toBe('job-4');
    expect(out.list).toEqual([
      ['job-1', 'done'],
      ['job-2', 'failed'],
      ['job-3', 'failed'],
      ['job-4', 'done'],
    ]);
    expect(out.unknown).toMatchObject({ name: 'PsiJobNotFoundError' });
    expect(out.serviceAlive).toBe(true);
    expect(out.serviceFailed).toBe(0);
    expect(out.serviceRestarted).toBe(0);
    expect(out.exitCode).toBe(0);
  });

  it('on system.shutdown() interrupts a running job within the stop budget: exit 0, the job reported interrupted, nothing written', async () => {
    const { code, out, err } = await host('shutdown');
    expect(code, err).toBe(0);
    expect(out.maskedBefore).toBeGreaterThan(0);
    expect(out.report.exitCode).toBe(0);
    expect(out.report.abandoned).toEqual([]);
    expect(out.report.phases.every((p: { timedOut: boolean }) => !p.timedOut)).toBe(true);
    // Well inside the drain timeout (10 s) it used to wait out.
    expect(out.report.durationMs).toBeLessThan(8_000);
    expect(out.status).toMatchObject({ state: 'interrupted', error: { name: 'PsiInterruptedError' } });
    expect(out.outExists).toBe(false);
  });

  it('gives progress by message and to a subscriber, and cancels a running job by message, leaving nothing', async () => {
    const { code, out, err } = await host('cancel');
    expect(code, err).toBe(0);
    expect(out.maskedBefore).toBeGreaterThan(0);
    expect(out.progressEvents).toBeGreaterThan(0);
    expect(out.status).toMatchObject({ state: 'cancelled', error: { name: 'PsiInterruptedError' } });
    expect(out.status.error.message).toMatch(/cancelled by its client/);
    expect(out.finishedEvents).toEqual(['cancelled']);
    expect(out.outExists).toBe(false);
    expect(out.exitCode).toBe(0);
  });
});
