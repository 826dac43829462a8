/**
 * What a parent does when a child fails, as an immutable value built with
 * chained methods (after Akka's `SupervisorStrategy.restart.withLimit(...)`).
 *
 * @example
 * const strategy = restart()
 *   .withLimit(3, 5_000)
 *   .withBackoff({ minMs: 50, maxMs: 2_000, jitter: 0.2 })
 *   .withScope('one-for-all');
 * parent.spawn(Child, { supervision: strategy });
 */
import { WorkerActorLoadError } from './errors.js';

/** The four answers to a failure. */
export type Directive = 'resume' | 'restart' | 'stop' | 'escalate';

/**
 * Which siblings a `restart` or `stop` applies to (OTP's supervisor modes):
 * only the failed child, all children of the parent, or the failed child and
 * every sibling started after it.
 */
export type SupervisionScope = 'one-for-one' | 'one-for-all' | 'rest-for-one';

/** Exponential backoff between restarts: `min(maxMs, minMs * 2^n) * (1 ± jitter)`. */
export interface BackoffOptions {
  minMs: number;
  maxMs: number;
  /** Fraction in [0, 1] of random spread around each delay. */
  jitter?: number;
}

export interface RestartLimit {
  /** Restarts allowed within `windowMs`; one more and the child is stopped and the failure escalates. */
  maxRestarts: number;
  windowMs: number;
}

/** An immutable supervision strategy. Build one with {@link restart}, {@link resume}, {@link stop}, {@link escalate} or {@link decide}. */
export class SupervisionStrategy {
  private constructor(
    /** Maps a failure to a directive. */
    readonly decider: (error: unknown) => Directive,
    readonly limit: RestartLimit,
    readonly backoff: Readonly<Required<BackoffOptions>> | undefined,
    readonly scope: SupervisionScope,
  ) {
    Object.freeze(this);
  }

  /** @internal */
  static create(decider: (error: unknown) => Directive): SupervisionStrategy {
    return new SupervisionStrategy(decider, { maxRestarts: 3, windowMs: 5_000 }, undefined, 'one-for-one');
  }

  /** Allow at most `maxRestarts` restarts within `windowMs` milliseconds. */
  withLimit(maxRestarts: number, windowMs: number): SupervisionStrategy {
    if (!Number.isInteger(maxRestarts) || maxRestarts < 0) {
      throw new TypeError(`supervision.maxRestarts must be a non-negative integer, got ${maxRestarts}`);
    }
    if (!(windowMs > 0) || !Number.isFinite(windowMs)) {
      throw new TypeError(`supervision.windowMs must be a positive finite number, got ${windowMs}`);
    }
    return new SupervisionStrategy(this.decider, { maxRestarts, windowMs }, this.backoff, this.scope);
  }

  /** Wait an exponentially growing, jittered delay before each restart. */
  withBackoff(options: BackoffOptions): SupervisionStrategy {
    const { minMs, maxMs, jitter = 0.2 } = options;
    if (!(minMs >= 0) || !Number.isFinite(minMs)) {
      throw new TypeError(`supervision.backoff.minMs must be a non-negative number, got ${minMs}`);
    }
    if (!(maxMs >= minMs) || !Number.isFinite(maxMs)) {
      throw new TypeError(`supervision.backoff.maxMs must be a number >= minMs (${minMs}), got ${maxMs}`);
    }
    if (!(jitter >= 0 && jitter <= 1)) {
      throw new TypeError(`supervision.backoff.jitter must be in [0, 1], got ${jitter}`);
    }
    return new SupervisionStrategy(this.decider, this.limit, Object.freeze({ minMs, maxMs, jitter }), this.scope);
  }

  /** Apply restarts and stops to the failed child only, to all siblings, or to the rest started after it. */
  withScope(scope: SupervisionScope): SupervisionStrategy {
    if (!['one-for-one', 'one-for-all', 'rest-for-one'].includes(scope)) {
      throw new TypeError(`supervision.scope must be one-for-one, one-for-all or rest-for-one, got ${String(scope)}`);
    }
    return new SupervisionStrategy(this.decider, this.limit, this.backoff, scope);
  }

  /**
   * The delay before restart number `attempt` (0-based), in milliseconds.
   * `random` returns a number in [0, 1).
   */
  backoffDelay(attempt: number, random: () => number): number {
    if (!this.backoff) return 0;
    const { minMs, maxMs, jitter } = this.backoff;
    const base = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
    const spread = base * jitter * (random() * 2 - 1);
    return Math.max(0, Math.round(base + spread));
  }
}

const fixed = (d: Directive) => () => d;

/**
 * Restart on any failure but one that a restart cannot cure: a worker
 * actor whose module or export cannot be loaded (`WorkerActorLoadError`)
 * fails the same way every time, so it is stopped, as Akka stops a child
 * whose initialisation fails (`ActorInitializationException`). Its parent
 * learns it through watch; nothing escalates.
 */
const restartDecider = (error: unknown): Directive => (error instanceof WorkerActorLoadError ? 'stop' : 'restart');

/**
 * Restart the failed child: fresh state from `init`, mailbox kept, failed
 * message dropped. A `WorkerActorLoadError` stops the child instead (loading
 * again would fail again); use {@link decide} to choose otherwise.
 */
export function restart(): SupervisionStrategy {
  return SupervisionStrategy.create(restartDecider);
}
/** Keep the child's state and go on with its next message. */
export function resume(): SupervisionStrategy {
  return SupervisionStrategy.create(fixed('resume'));
}
/** Stop the failed child. */
export function stop(): SupervisionStrategy {
  return SupervisionStrategy.create(fixed('stop'));
}
/** Fail the parent with the child's error, letting the grandparent decide. */
export function escalate(): SupervisionStrategy {
  return SupervisionStrategy.create(fixed('escalate'));
}
/**
 * Decide by error.
 * @example
 * decide((err) => (err instanceof ValidationError ? 'resume' : 'restart')).withLimit(5, 10_000)
 */
export function decide(decider: (error: unknown) => Directive): SupervisionStrategy {
  return SupervisionStrategy.create(decider);
}

/**
 * The default for every child that names no strategy: restart, at most 3 times
 * within 5 s, with backoff from 10 ms to 1 s (20 % jitter); a fourth failure in
 * the window stops the child and escalates. Bounded like OTP's default restart
 * intensity, so a crash loop can never spin forever. A worker actor that
 * cannot be loaded is stopped at once (see {@link restart}).
 */
export const defaultStrategy: SupervisionStrategy = restart()
  .withLimit(3, 5_000)
  .withBackoff({ minMs: 10, maxMs: 1_000, jitter: 0.2 });
