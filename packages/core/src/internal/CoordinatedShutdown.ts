import type { Clock } from '../Clock.js';
import type { DeadLetters } from '../DeadLetters.js';
import { describe, ShuttingDownError } from '../errors.js';
import type { Logger } from '../Logger.js';
import {
  EXIT_OK,
  EXIT_PHASE_TIMEOUT,
  type PhaseReport,
  type ShutdownCause,
  type ShutdownPhase,
  type ShutdownReport,
  shutdownPhases,
} from '../ShutdownReport.js';
import type { SystemLifecycle } from '../SystemLifecycle.js';
import { type ActorCell, Status } from './ActorCell.js';
import type { SystemInternals } from './SystemInternals.js';

/** Why a shutdown began, and the exit code it reports when nothing else goes wrong. @internal */
export interface ShutdownRequest {
  cause: ShutdownCause;
  signal?: NodeJS.Signals;
  error?: string;
  exitCode: number;
}

/** What a shutdown works on. @internal */
export interface ShutdownScope {
  readonly name: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly deadLetters: DeadLetters;
  readonly internals: SystemInternals;
  readonly lifecycle: SystemLifecycle;
  /** The user guardian: its children stop first, in reverse start order. */
  readonly user: ActorCell;
  /** The system guardian: its children stop after the user's. */
  readonly system: ActorCell;
  readonly phaseTimeouts: Record<ShutdownPhase, number>;
  /** Actors hosted here for proxies elsewhere (remote deployment): drained and stopped with the rest. */
  hosted(): readonly ActorCell[];
  /** After the actors have stopped: end the worker threads. */
  terminateThreads(): Promise<void>;
}

/**
 * Coordinated shutdown (Akka's CoordinatedShutdown), in phases, each bounded
 * by its timeout: stop intake, drain, stop actors, before exit; then every
 * ask still pending is rejected, and the report says what happened. The
 * registry of phase hooks lives here too.
 * @internal
 */
export class CoordinatedShutdown {
  private readonly hooks = new Map<ShutdownPhase, Map<string, () => unknown>>();
  private currentPhase: PhaseReport | undefined;
  private readonly abandoned: string[] = [];
  private running: ShutdownRequest | undefined;

  constructor(private readonly scope: ShutdownScope) {}

  /** Register a hook; returns its unregister function. */
  addHook(phase: ShutdownPhase, name: string, fn: () => unknown): () => void {
    if (!shutdownPhases.includes(phase)) {
      throw new TypeError(`onShutdown: phase must be one of ${shutdownPhases.join(', ')}, got ${String(phase)}`);
    }
    if (typeof fn !== 'function') throw new TypeError(`onShutdown(${phase}, ${name}): fn must be a function`);
    let byName = this.hooks.get(phase);
    if (byName === undefined) this.hooks.set(phase, (byName = new Map()));
    if (byName.has(name)) throw new TypeError(`onShutdown: a hook named ${name} is already registered in ${phase}`);
    byName.set(name, fn);
    return () => byName.delete(name);
  }

  /** An actor did not stop within its budget: name it in the report and the current phase. */
  abandon(path: string, line: string): void {
    this.abandoned.push(path);
    this.currentPhase?.hung.push(line);
  }

  /** True while the drain phase runs (the drain polls until it ends). */
  private get draining(): boolean {
    return this.currentPhase?.phase === 'drain';
  }

  async run(request: ShutdownRequest): Promise<ShutdownReport> {
    const scope = this.scope;
    const internals = scope.internals;
    this.running = request;
    scope.lifecycle.send('SHUTDOWN');
    const t0 = performance.now();
    const processed0 = this.totalProcessed();
    const dead0 = scope.deadLetters.byReason();
    const deadTotal0 = scope.deadLetters.total;
    const refused0 = internals.refusedDuringShutdown;
    const phases: PhaseReport[] = [];

    const runPhase = async (phase: ShutdownPhase, work: () => Promise<void>, hung: () => string[]) => {
      const report: PhaseReport = { phase, durationMs: 0, timedOut: false, hung: [] };
      this.currentPhase = report;
      const start = performance.now();
      const hooks = [...(this.hooks.get(phase) ?? new Map()).entries()];
      const pendingHooks = new Set(hooks.map(([n]) => n));
      const all = Promise.all([
        work(),
        ...hooks.map(([name, fn]) =>
          Promise.resolve()
            // Hooks are the system's own code: what they send synchronously passes the intake gate.
            .then(() => scope.user.withCurrent(fn))
            .catch((e) => scope.logger.error(`shutdown hook ${name} (${phase}) threw: ${describe(e)}`))
            .finally(() => pendingHooks.delete(name)),
        ),
      ]);
      const timeoutMs = scope.phaseTimeouts[phase];
      let timer: unknown;
      const timedOut = await Promise.race([
        all.then(() => false),
        new Promise<boolean>((r) => {
          timer = scope.clock.setTimeout(() => r(true), timeoutMs);
        }),
      ]);
      scope.clock.clearTimeout(timer);
      if (timedOut) {
        report.timedOut = true;
        for (const n of pendingHooks) report.hung.push(`hook ${n}`);
        report.hung.push(...hung());
        scope.logger.error(
          `shutdown phase ${phase} timed out after ${timeoutMs} ms${report.hung.length ? `; still waiting on: ${report.hung.join('; ')}` : ''}`,
        );
      }
      report.durationMs = performance.now() - start;
      phases.push(report);
      this.currentPhase = undefined;
    };

    await runPhase(
      'stop-intake',
      async () => {
        internals.intakeOpen = false;
        // A child waiting out a restart backoff is not work in flight: stop it
        // now (OTP's supervisor does), so the drain does not wait for it.
        this.walk((c) => {
          if (c.inBackoff) void c.stop({ kind: 'stopped' });
        });
      },
      () => [],
    );
    scope.lifecycle.send('NEXT');
    await runPhase(
      'drain',
      () => this.waitQuiet(),
      () => this.busyActors(),
    );
    scope.lifecycle.send('NEXT');
    await runPhase(
      'stop-actors',
      async () => {
        await scope.user.stopChildren();
        await scope.system.stopChildren();
        for (const cell of scope.hosted()) await cell.stop({ kind: 'shutdown' });
        // Worker actors' stop hooks have run inside their threads; now end the threads.
        await scope.terminateThreads();
      },
      () => {
        const stuck: string[] = [];
        this.walk((c) => {
          if (c.status === Status.Stopping) stuck.push(`actor ${c.path} (stopping)`);
        });
        this.abandoned.push(...stuck.map((s) => s.replace(/^actor | \(stopping\)$/g, '')));
        return stuck;
      },
    );
    scope.lifecycle.send('NEXT');
    await runPhase(
      'before-exit',
      async () => {},
      () => [],
    );

    // A thread that hung past the phase timeout is terminated all the same.
    await scope.terminateThreads();
    const pendingAsksRejected = internals.asks.rejectAll((r) => new ShuttingDownError(r.target, r.messageType));
    internals.asks.dispose();

    const dead1 = scope.deadLetters.byReason();
    const byReason: Record<string, number> = {};
    for (const [k, v] of Object.entries(dead1)) {
      const d = v - (dead0[k] ?? 0);
      if (d > 0) byReason[k] = d;
    }
    let exitCode = request.exitCode;
    if (exitCode === EXIT_OK && (phases.some((p) => p.timedOut) || this.abandoned.length > 0)) {
      exitCode = EXIT_PHASE_TIMEOUT;
    }
    return {
      system: scope.name,
      cause: request.cause,
      ...(request.signal !== undefined ? { signal: request.signal } : {}),
      ...(request.error !== undefined ? { error: request.error } : {}),
      exitCode,
      durationMs: performance.now() - t0,
      phases,
      processed: this.totalProcessed() - processed0,
      deadLettered: scope.deadLetters.total - deadTotal0,
      deadLettersByReason: byReason,
      rejected: internals.refusedDuringShutdown - refused0,
      pendingAsksRejected,
      abandoned: [...new Set(this.abandoned)],
    };
  }

  /** Every cell of the tree (guardians included) and every hosted cell, depth first. */
  private walk(visit: (c: ActorCell) => void): void {
    walkTree(this.scope.user, visit);
    walkTree(this.scope.system, visit);
    for (const c of this.scope.hosted()) walkTree(c, visit);
  }

  totalProcessed(): number {
    let n = this.scope.internals.retiredProcessed;
    this.walk((c) => {
      n += c.processed;
    });
    return n;
  }

  /** Resolve when no actor has queued or in-flight messages. */
  private async waitQuiet(): Promise<void> {
    // Polled with real timers (not the injected clock): the phase timeout,
    // which does use the clock, bounds it.
    while (this.busyActors().length > 0) {
      if (this.running === undefined) return;
      await new Promise((r) => setTimeout(r, 2));
      if (!this.draining) return;
    }
  }

  private busyActors(): string[] {
    const busy: string[] = [];
    this.walk((c) => {
      const remote = c.remoteOutstanding;
      if (
        c.mailboxSize > 0 ||
        c.isProcessing ||
        c.inFlightWork > 0 ||
        c.pendingSignals > 0 ||
        remote > 0 ||
        (c.status === Status.Restarting && !c.inBackoff)
      ) {
        const work = c.inFlightWork > 0 ? `, ${c.inFlightWork} declared in flight` : '';
        const there = remote > 0 ? `, ${remote} not yet taken where it runs` : '';
        busy.push(`actor ${c.path} (${c.mailboxSize} queued${c.isProcessing ? ', 1 in flight' : ''}${work}${there})`);
      }
    });
    return busy;
  }
}

/** Visit `cell` and its descendants, depth first. @internal */
export function walkTree(cell: ActorCell, visit: (c: ActorCell) => void): void {
  visit(cell);
  for (const c of cell.children.values()) walkTree(c, visit);
}
