import { describe, expect, it } from 'vitest';
import { lastJson, runExample, runToEnd } from './helpers/child.js';

interface Summary {
  jobs: number;
  submitted: number;
  ok: number;
  failed: number;
  failedBy: Record<string, number>;
  poisonIssued: number;
  interrupted: boolean;
  restarts: number;
  deadLetters: number;
  queue: { accepted: number; completed: number; failed: number; rejected: number; maxBacklog: number } | null;
  report: import('@troupe/core').ShutdownReport;
}

/** `  label   1,234 ...` → 1234 */
function count(stdout: string, label: string): number {
  const m = stdout.match(new RegExp(`^\\s+${label}\\s+([\\d,]+)`, 'm'));
  if (m === null) throw new Error(`no "${label}" line in:\n${stdout}`);
  return Number((m[1] as string).replaceAll(',', ''));
}

describe('task-queue example', { timeout: 60_000 }, () => {
  it('runs the demo to the end: every job is answered, poison jobs fail without stopping the service, exit 0', async () => {
    const { code, stdout, stderr } = await runToEnd('task-queue');
    expect(code, stderr).toBe(0);
    const submitted = count(stdout, 'submitted');
    expect(submitted).toBe(2_000);
    expect(count(stdout, 'ok') + count(stdout, 'failed')).toBe(submitted);
    expect(count(stdout, 'failed')).toBe(count(stdout, 'poison jobs'));
    expect(count(stdout, 'restarts')).toBe(count(stdout, 'poison jobs'));
    expect(stdout).toMatch(/throughput\s+[\d,]+ jobs\/s/);
    expect(stdout).toMatch(/failed on PoisonJobError: job \d+ is poison.* → restart/);
    expect(stdout).toMatch(/^shutdown of task-queue: call, exit code 0/m);
  });

  it('answers every caller: ok + failed = submitted, and each poison job restarts its worker once', async () => {
    const args = [
      '--jobs',
      '600',
      '--workers',
      '3',
      '--callers',
      '30',
      '--poison-rate',
      '0.05',
      '--seed',
      '7',
      '--json',
    ];
    const { code, stdout, stderr } = await runToEnd('task-queue', args);
    expect(code, stderr).toBe(0);
    const s = lastJson<Summary>(stdout);
    expect(s.submitted).toBe(600);
    expect(s.ok + s.failed).toBe(600);
    expect(s.poisonIssued).toBeGreaterThan(0);
    expect(s.failedBy).toEqual({ PoisonJobError: s.poisonIssued });
    expect(s.restarts).toBe(s.poisonIssued);
    expect(s.queue).toMatchObject({ accepted: 600, completed: s.ok, failed: s.failed, rejected: 0 });
    expect(s.deadLetters).toBe(0);
    expect(s.report).toMatchObject({ cause: 'call', exitCode: 0, pendingAsksRejected: 0, abandoned: [] });
  });

  it('refuses jobs beyond --max-pending with QueueFullError and still answers every caller', async () => {
    const args = [
      '--jobs',
      '400',
      '--workers',
      '2',
      '--callers',
      '40',
      '--max-pending',
      '4',
      '--poison-rate',
      '0',
      '--json',
    ];
    const { code, stdout, stderr } = await runToEnd('task-queue', args);
    expect(code, stderr).toBe(0);
    const s = lastJson<Summary>(stdout);
    expect(s.ok + s.failed).toBe(400);
    expect(s.failedBy.QueueFullError).toBeGreaterThan(0);
    expect(s.failedBy.QueueFullError).toBe(s.queue?.rejected);
    expect(s.queue?.maxBacklog).toBeLessThanOrEqual(4);
  });

  it('stops on SIGINT through coordinated shutdown: no caller hangs, the summary says interrupted, exit 130', async () => {
    const child = runExample('task-queue', ['--jobs', '1000000', '--work-ms', '5']);
    await child.waitFor('Ctrl-C to interrupt');
    await new Promise((r) => setTimeout(r, 300));
    child.proc.kill('SIGINT');
    const code = await child.exited;
    expect(code, child.stderr()).toBe(130);
    expect(child.stdout()).toMatch(/interrupted by shutdown/);
    expect(child.stdout()).toMatch(/^shutdown of task-queue: signal \(SIGINT\), exit code 130/m);
  });

  it('rejects a bad flag with a message naming the flag, the rule and the value, and exit code 2', async () => {
    const { code, stderr } = await runToEnd('task-queue', ['--workers', '0']);
    expect(code).toBe(2);
    expect(stderr).toContain('--workers must be an integer between 1 and 256, got "0"');
    const unknown = await runToEnd('task-queue', ['--job', '5']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("Unknown option '--job'");
  });
});
