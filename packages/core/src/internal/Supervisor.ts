import { describe, EscalatedError, RestartLimitExceededError } from '../errors.js';
import type { Directive, SupervisionStrategy } from '../SupervisionStrategy.js';
import { type ActorCell, Status } from './ActorCell.js';

/**
 * What a parent does when a child fails: ask the child's strategy, then
 * resume, restart, stop or escalate, applied to the strategy's scope
 * (OTP's supervisor modes):
 *
 * - one-for-one: the failed child only;
 * - one-for-all: every child; rest-for-one: the failed child and the
 *   siblings started after it. As OTP does, the group is terminated in
 *   reverse start order (each waits for the one after it), then started
 *   again in start order (each one's `init` is called in turn; an async init
 *   does not hold up the next, where OTP's start would block).
 *
 * Restarts are bounded by the strategy's limit: one more failure in the
 * window stops the child and fails the parent with
 * `RestartLimitExceededError`.
 * @internal
 */
export function childFailed(parent: ActorCell, child: ActorCell, error: unknown): void {
  if (child.status !== Status.Suspended || !child.isAwaitingDecision) return;
  // A suspended parent (failed itself, or held) decides once it runs again.
  if (parent.status === Status.Suspended) {
    parent.deferFailure(child, error);
    return;
  }
  if (parent.status >= Status.Stopping) return; // the child is stopped with its parent
  const strategy = child.strategy;
  let directive: Directive;
  try {
    directive = strategy.decider(error);
  } catch (deciderError) {
    directive = 'escalate';
    error = deciderError;
  }
  const sys = parent.system;
  sys.logger.warn(`actor ${child.path} failed: ${describe(error)}; ${directive}`, { restarts: child.restarts });
  if (sys.events.listenerCount('failed') > 0) {
    sys.events.emit('failed', { path: child.path, id: child.id, error, directive });
  }
  switch (directive) {
    case 'resume':
      child.resume();
      return;
    case 'stop':
      void stopGroup(scopeOf(parent, child, strategy), child, error);
      return;
    case 'escalate':
      parent.fail(new EscalatedError(child.path, error), undefined);
      return;
    case 'restart': {
      const now = sys.clock.now();
      const { maxRestarts, windowMs } = strategy.limit;
      const times = (child.restartTimes ?? []).filter((t) => now - t < windowMs);
      child.restartTimes = times;
      if (times.length >= maxRestarts) {
        sys.logger.error(
          `actor ${child.path} exceeded its restart limit (${maxRestarts} in ${windowMs} ms); stopping it and escalating to ${parent.path}`,
        );
        void child.stop({ kind: 'failed', error });
        parent.fail(new RestartLimitExceededError(child.path, times.length, windowMs, error), undefined);
        return;
      }
      times.push(now);
      const delayMs = strategy.backoffDelay(times.length - 1, sys.random);
      const group = scopeOf(parent, child, strategy);
      if (group.length === 1) void child.restart(error, delayMs);
      else void restartGroup(group, error, delayMs);
      return;
    }
  }
}

/** The children a directive applies to, in start order, per the strategy's scope. */
function scopeOf(parent: ActorCell, child: ActorCell, strategy: SupervisionStrategy): ActorCell[] {
  if (strategy.scope === 'one-for-one') return [child];
  const all = [...parent.children.values()];
  if (strategy.scope === 'one-for-all') return all;
  return all.slice(Math.max(0, all.indexOf(child)));
}

/** Stop a group in reverse start order, each after the one started after it. */
async function stopGroup(group: ActorCell[], failed: ActorCell, error: unknown): Promise<void> {
  for (const c of [...group].reverse()) {
    await c.stop(c === failed ? { kind: 'failed', error } : { kind: 'stopped' });
  }
}

/** Terminate a group in reverse start order, wait the backoff once, start it again in start order. */
async function restartGroup(group: ActorCell[], error: unknown, delayMs: number): Promise<void> {
  const prepared: ActorCell[] = [];
  for (const c of [...group].reverse()) if (await c.prepareRestart(error)) prepared.unshift(c);
  await Promise.all(prepared.map((c) => c.waitBackoff(delayMs)));
  for (const c of prepared) c.reinit(error, delayMs);
}
