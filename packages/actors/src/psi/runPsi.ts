/**
 * One PSI run from a program: {@link runPsi}. (A service that takes runs by
 * message uses {@link PsiService} instead.)
 */
import type { ActorRef, ActorSystem } from '@troupe/core';
import { PsiInterruptedError } from './errors.js';
import { prepareRun } from './PreparedRun.js';
import { type JobMsg, PsiJob, type PsiProgress, type PsiSummary } from './PsiJob.js';
import { checkWorkerHosts, emptyKeyWarnings, type PsiOptions, resolvePsiOptions } from './PsiOptions.js';

let runs = 0;

/** How long an aborted job may take to wind down before it is stopped regardless. */
const ABORT_GRACE_MS = 6_000;

/** How long a job's result may take: a week (a run is stopped by abort or shutdown, not by this). */
export const JOB_RESULT_TIMEOUT_MS = 7 * 24 * 3_600_000;

/**
 * Run a two-party ECDH-PSI over two CSV files, both parties in this process
 * (each with its own key and actor subtree under one job actor). Resolves with
 * the summary once both outputs are in place; rejects with the input error
 * (naming file, line and column), a `PsiOptionsError` (naming the option,
 * also for unsafe outputs: one that would replace an input or an existing file,
 * a folder that cannot be written), or `PsiInterruptedError` if the run is
 * aborted or the system shuts down. Either way no output is left, and a
 * folder the run created is removed again.
 *
 * On `system.shutdown()` (or a signal) a run in progress is interrupted at
 * once, not drained: the shutdown does not wait for hours of masking.
 *
 * @example
 * const system = await ActorSystem.start({ name: 'psi', workers: { size: 2 } });
 * const summary = await runPsi(system, { left: 'a.csv', right: 'b.csv', key: ['id'], outDir: 'result', threads: 2 });
 * console.log(summary.intersection);
 */
export async function runPsi(system: ActorSystem, options: PsiOptions): Promise<PsiSummary> {
  const run = resolvePsiOptions(options);
  checkWorkerHosts(run, system.workerPool().size);
  options.signal?.throwIfAborted();
  const prepared = await prepareRun(run, options.onWarning);
  let failed = true;
  let settle: () => void = () => undefined;
  const settled = new Promise<void>((r) => {
    settle = r;
  });
  const name = `psi-${++runs}`;
  let job: ActorRef<JobMsg>;
  try {
    job = system.spawn(PsiJob, { name, input: run });
  } catch (error) {
    await prepared.release(true);
    throw error;
  }
  // On shutdown, stop the run at once rather than drain hours of masking; the
  // hook waits until this function has cleaned up, so the process exits only then.
  const unhook = system.onShutdown('stop-intake', name, async () => {
    // Abort first: the parties stop their exchange (releasing a reader waiting for room) and
    // drop their temporary files; then the job answers, and the finally below stops it, quickly.
    job.tell({ type: 'abort', reason: new PsiInterruptedError('the actor system is shutting down') });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([settled, new Promise((r) => (timer = setTimeout(r, ABORT_GRACE_MS)))]);
    clearTimeout(timer);
    await system.stop(job);
    await settled;
  });
  const onAbort = () =>
    job.tell({
      type: 'abort',
      reason: new PsiInterruptedError('aborted by its signal', { cause: options.signal?.reason }),
    });
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const timer =
    options.onProgress === undefined
      ? undefined
      : setInterval(() => {
          job
            .ask<PsiProgress>({ type: 'progress-snapshot' }, { timeoutMs: 60_000 })
            .then(options.onProgress, () => undefined);
        }, options.progressIntervalMs ?? 500);
  try {
    const summary = await job.ask<PsiSummary>({ type: 'result' }, { timeoutMs: JOB_RESULT_TIMEOUT_MS });
    failed = false;
    for (const w of emptyKeyWarnings(summary, run)) options.onWarning?.(w);
    return summary;
  } finally {
    if (timer !== undefined) clearInterval(timer);
    options.signal?.removeEventListener('abort', onAbort);
    await system.stop(job);
    await prepared.release(failed);
    unhook();
    settle();
  }
}
