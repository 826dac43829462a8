import { type Actor, createActor, setup } from 'xstate';
import { IllegalTransitionError } from './errors.js';

/**
 * The lifecycle of an actor system, as an xstate v5 statechart:
 *
 * ```
 * starting ──STARTED──▶ running ──SHUTDOWN──▶ stopping ──DONE──▶ stopped
 *    │                                      (stopIntake → drain →
 *    └──FAIL──▶ failed                        stopActors → beforeExit)
 * ```
 *
 * `stopping` has one child state per shutdown phase; `NEXT` moves to the next
 * phase. Events the chart does not accept in the current state throw
 * {@link IllegalTransitionError} rather than being silently ignored.
 */
export const systemLifecycleMachine = setup({
  types: {
    events: {} as { type: 'STARTED' } | { type: 'FAIL' } | { type: 'SHUTDOWN' } | { type: 'NEXT' } | { type: 'DONE' },
  },
}).createMachine({
  id: 'troupeSystem',
  initial: 'starting',
  states: {
    starting: { on: { STARTED: 'running', FAIL: 'failed' } },
    running: { on: { SHUTDOWN: 'stopping' } },
    stopping: {
      initial: 'stopIntake',
      states: {
        stopIntake: { on: { NEXT: 'drain' } },
        drain: { on: { NEXT: 'stopActors' } },
        stopActors: { on: { NEXT: 'beforeExit' } },
        beforeExit: { on: { DONE: '#troupeSystem.stopped' } },
      },
    },
    stopped: { type: 'final' },
    failed: { type: 'final' },
  },
});

/** A lifecycle event name. */
export type LifecycleEvent = 'STARTED' | 'FAIL' | 'SHUTDOWN' | 'NEXT' | 'DONE';

/** A running lifecycle chart whose illegal transitions throw {@link IllegalTransitionError}. */
export class SystemLifecycle {
  private readonly actor: Actor<typeof systemLifecycleMachine>;
  private readonly listeners = new Set<(state: string) => void>();

  constructor() {
    this.actor = createActor(systemLifecycleMachine);
    this.actor.subscribe((snapshot) => {
      const state = flatten(snapshot.value);
      for (const l of this.listeners) l(state);
    });
    this.actor.start();
  }

  /** The current state as a dotted path, e.g. `stopping.drain`. */
  get state(): string {
    return flatten(this.actor.getSnapshot().value);
  }

  /** Take a transition; throws if the chart does not allow it here. */
  send(type: LifecycleEvent): void {
    const snapshot = this.actor.getSnapshot();
    if (!snapshot.can({ type })) throw new IllegalTransitionError(this.state, type);
    this.actor.send({ type });
  }

  /** Be told of every state change; returns an unsubscribe function. */
  subscribe(listener: (state: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

function flatten(value: unknown): string {
  if (typeof value === 'string') return value;
  const [k, v] = Object.entries(value as Record<string, unknown>)[0] ?? ['?', ''];
  return `${k}.${flatten(v)}`;
}
