/**
 * A child whose only job is to trip its parent's stop signal when the parent
 * stops. A parent stops its children newest first, each only after its
 * message in flight has ended; spawned last, this one is stopped first, so
 * the stages spawned before it (the reader, waiting on an ask that a stopping
 * stage may never answer; the writer, minutes into a 10M-row write) see the
 * signal and end their message at its next step, instead of holding their own
 * stop until the runtime abandons them.
 *
 * An abort trips the same signal earlier; this covers a stop that comes
 * without one (a job stopped outright, an abort that ran out of time).
 *
 * @internal
 */
import { defineActor } from '@troupe/core';
import { PsiInterruptedError } from './errors.js';

export interface StopSignalInput {
  /** The parent's stop signal (its controller): aborted with `PsiInterruptedError` when this actor stops. */
  controller: AbortController;
}

export const StopSignal = defineActor<{ type: 'none' }, undefined, StopSignalInput>({
  name: 'psi-stop-signal',
  init: () => undefined,
  receive: () => undefined,
  afterStop: (_s, ctx) => {
    const { controller } = ctx.input;
    if (!controller.signal.aborted) controller.abort(new PsiInterruptedError('stopped'));
  },
});
