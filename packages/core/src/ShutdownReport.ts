/** The phases of coordinated shutdown, in the order they run. */
export const shutdownPhases = ['stop-intake', 'drain', 'stop-actors', 'before-exit'] as const;
export type ShutdownPhase = (typeof shutdownPhases)[number];

/** Why the system shut down. */
export type ShutdownCause = 'call' | 'signal' | 'failure';

/** What happened in one phase. */
export interface PhaseReport {
  phase: ShutdownPhase;
  durationMs: number;
  timedOut: boolean;
  /** Actors or hooks that did not finish in time (named), with what hung. */
  hung: string[];
}

/**
 * The account of a shutdown: phases, timings, what was dropped.
 * Exit codes: 0 clean (by call or signal), 1 a failure escalated to the root,
 * 3 a phase timed out or an actor had to be abandoned; a second signal forces
 * `128 + signal number`.
 */
export interface ShutdownReport {
  system: string;
  cause: ShutdownCause;
  signal?: NodeJS.Signals;
  /** The failure that reached the root, when `cause` is `failure`. */
  error?: string;
  exitCode: number;
  durationMs: number;
  phases: PhaseReport[];
  /** Messages handled from the start of shutdown to its end. */
  processed: number;
  /** Dead letters recorded during shutdown, and by reason. */
  deadLettered: number;
  deadLettersByReason: Record<string, number>;
  /** Tells and asks refused because intake was closed. */
  rejected: number;
  /** Asks still pending at the end, rejected so that none hangs. */
  pendingAsksRejected: number;
  /** Actors abandoned because they did not stop within their timeout. */
  abandoned: string[];
}

/** Exit code for a clean shutdown. */
export const EXIT_OK = 0;
/** Exit code when a failure escalated past the top of the tree. */
export const EXIT_FAILURE = 1;
/** Exit code when a shutdown phase timed out. */
export const EXIT_PHASE_TIMEOUT = 3;

/** A human-readable, multi-line rendering of a report. */
export function formatShutdownReport(r: ShutdownReport): string {
  const lines = [
    `shutdown of ${r.system}: ${r.cause}${r.signal ? ` (${r.signal})` : ''}${r.error ? ` — ${r.error}` : ''}, exit code ${r.exitCode}, ${r.durationMs.toFixed(0)} ms`,
  ];
  for (const p of r.phases) {
    const hung = p.hung.length > 0 ? ` — hung: ${p.hung.join('; ')}` : '';
    lines.push(
      `  ${p.phase.padEnd(12)} ${p.durationMs.toFixed(1).padStart(8)} ms${p.timedOut ? '  TIMED OUT' : ''}${hung}`,
    );
  }
  const reasons = Object.entries(r.deadLettersByReason)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ');
  lines.push(
    `  processed ${r.processed}, dead-lettered ${r.deadLettered}${reasons ? ` (${reasons})` : ''}, rejected ${r.rejected}, pending asks rejected ${r.pendingAsksRejected}`,
  );
  if (r.abandoned.length > 0) lines.push(`  abandoned: ${r.abandoned.join(', ')}`);
  return lines.join('\n');
}
