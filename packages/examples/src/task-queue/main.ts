/**
 * task-queue: many concurrent callers submit jobs to one queue actor that feeds
 * a few long-lived, supervised workers. Some jobs are poison: each crashes its
 * worker, the worker restarts, the caller gets the error, and the service goes on.
 *
 *   node --conditions=source --import tsx packages/examples/src/task-queue/main.ts --jobs 5000 --workers 8
 */
import { ActorSystem, consoleLogger, formatShutdownReport, type ShutdownReport } from '@troupe/core';
import { parseFlagsOrExit } from '../shared/cli.js';
import { int, ms, quantile, table } from '../shared/format.js';
import { seededRandom } from '../shared/random.js';
import { type CallerOutcome, JobSource, runCallers } from './callers.js';
import { JobQueue, workerSupervision } from './JobQueue.js';
import type { QueueStats } from './protocol.js';

const flags = parseFlagsOrExit(
  'task-queue',
  'Concurrent callers submit jobs to a supervised queue of workers; poison jobs crash a worker, which restarts.',
  {
    jobs: { type: 'number', help: 'jobs to submit in total', default: 2_000, min: 1, max: 1_000_000 },
    workers: { type: 'number', help: 'worker actors under the queue', default: 4, min: 1, max: 256 },
    callers: {
      type: 'number',
      help: 'concurrent callers (simulated request handlers)',
      default: 50,
      min: 1,
      max: 10_000,
    },
    poisonRate: {
      type: 'number',
      help: 'fraction of jobs that crash their worker',
      default: 0.02,
      min: 0,
      max: 1,
      integer: false,
    },
    workMs: { type: 'number', help: 'max simulated I/O time per job, ms', default: 2, min: 0, max: 10_000 },
    maxPending: { type: 'number', help: 'jobs the queue may hold waiting for a worker', default: 10_000, min: 1 },
    jobTimeoutMs: { type: 'number', help: 'how long a caller waits for its job, ms', default: 5_000, min: 1 },
    seed: { type: 'number', help: 'seed of the job generator (same seed, same jobs)', default: 42, min: 0 },
    json: { type: 'boolean', help: 'print the summary as one JSON line instead of text' },
    verbose: { type: 'boolean', help: 'let the runtime log every failure and restart to stderr' },
  },
);

const signalNumbers: Record<string, number> = { SIGINT: 2, SIGTERM: 15 };

const system = await ActorSystem.start({
  name: 'task-queue',
  // The summary below reports failures and restarts; the runtime's own
  // per-failure warnings are there with --verbose.
  logger: consoleLogger(flags.verbose ? 'info' : 'error'),
  // A batch job interrupted by Ctrl-C should say so in its exit code.
  exitCodeOnSignal: (signal) => 128 + (signalNumbers[signal] ?? 0),
  // Let main print its summary after a signal, then exit by itself.
  exitOnSignal: false,
});

const restartsBy: Record<string, number> = {};
const supervisionLog: string[] = [];
system.events.on('restarted', (e) => {
  const worker = e.path.split('/').pop() as string;
  restartsBy[worker] = (restartsBy[worker] ?? 0) + 1;
});
system.events.on('failed', (e) => {
  const err = e.error as Error;
  supervisionLog.push(`${e.path} failed on ${err.name}: ${err.message} → ${e.directive}`);
});

const queue = system.spawn(JobQueue, {
  name: 'queue',
  input: {
    workers: flags.workers,
    maxPending: flags.maxPending,
    jobTimeoutMs: flags.jobTimeoutMs,
    workerSupervision,
  },
});

if (!flags.json) {
  console.log(
    `task-queue: ${int(flags.jobs)} jobs from ${int(flags.callers)} concurrent callers → 1 queue → ${flags.workers} workers` +
      ` (poison rate ${(flags.poisonRate * 100).toFixed(1)}%, seed ${flags.seed}); Ctrl-C to interrupt`,
  );
}
const source = new JobSource(flags.jobs, flags.poisonRate, flags.workMs, seededRandom(flags.seed));
const t0 = performance.now();
const outcome = await runCallers(queue, source, flags.callers, flags.jobTimeoutMs);
const elapsedMs = performance.now() - t0;

let queueStats: QueueStats | undefined;
try {
  queueStats = await queue.ask<QueueStats>({ type: 'stats' }, { timeoutMs: 1_000 });
} catch {
  // Already shutting down (a signal): the summary says so.
}
const deadLettersDuringRun = system.deadLetters.total;
const report = await system.shutdown();

if (flags.json) {
  console.log(JSON.stringify(summaryJson(outcome, report)));
} else {
  console.log(summaryText(outcome, report));
  console.log();
  console.log(formatShutdownReport(report));
}
process.exitCode = report.exitCode;

function summaryJson(o: CallerOutcome, r: ShutdownReport) {
  return {
    jobs: flags.jobs,
    workers: flags.workers,
    callers: flags.callers,
    submitted: o.submitted,
    ok: o.ok,
    failed: o.failed,
    failedBy: o.failedBy,
    poisonIssued: source.poisonIssued,
    interrupted: o.interrupted,
    restarts: Object.values(restartsBy).reduce((a, b) => a + b, 0),
    restartsBy,
    elapsedMs,
    throughputPerSec: (o.submitted / elapsedMs) * 1000,
    latencyMs: { p50: quantile(o.latenciesMs, 0.5), p99: quantile(o.latenciesMs, 0.99) },
    deadLetters: deadLettersDuringRun,
    queue: queueStats ?? null,
    report: r,
  };
}

function summaryText(o: CallerOutcome, r: ShutdownReport): string {
  const s = summaryJson(o, r);
  const byName = Object.entries(o.failedBy)
    .map(([name, n]) => `${name} ${int(n)}`)
    .join(', ');
  const byWorker = Object.entries(restartsBy)
    .sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))
    .map(([w, n]) => `${w} ${n}`)
    .join(', ');
  const lines = [
    'results:',
    table([
      ['submitted', `${int(o.submitted)}${o.interrupted ? '  (interrupted by shutdown)' : ''}`],
      ['ok', int(o.ok)],
      ['failed', `${int(o.failed)}${byName ? `  (${byName})` : ''}`],
      ['poison jobs', int(source.poisonIssued)],
      ['restarts', `${int(s.restarts)}${byWorker ? `  (${byWorker})` : ''}`],
      ['throughput', `${int(s.throughputPerSec)} jobs/s  (${(elapsedMs / 1000).toFixed(2)} s)`],
      ['latency', `p50 ${ms(s.latencyMs.p50)}, p99 ${ms(s.latencyMs.p99)}`],
      ['max backlog', queueStats ? int(queueStats.maxBacklog) : 'n/a'],
      ['dead letters', int(deadLettersDuringRun)],
    ]),
  ];
  if (supervisionLog.length > 0) {
    lines.push('  first failures, each contained by the queue (the worker restarted, the caller got the error):');
    for (const l of supervisionLog.slice(0, 3)) lines.push(`    ${l}`);
    if (supervisionLog.length > 3) lines.push(`    ... and ${supervisionLog.length - 3} more`);
  }
  return lines.join('\n');
}
