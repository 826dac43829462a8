import { type Actor, type AnyStateMachine, createActor, type EventFromLogic, type SnapshotFrom } from 'xstate';
import { type ActorDefinition, defineActor } from './ActorDefinition.js';
import type { Message } from './ActorRef.js';

/** Ask a machine actor for its current snapshot. */
export interface GetSnapshot {
  readonly type: 'troupe.getSnapshot';
}

/** The protocol of a machine actor: the machine's events, plus {@link GetSnapshot}. */
export type MachineMessage<TMachine extends AnyStateMachine> = EventFromLogic<TMachine> | GetSnapshot;

/** Options of {@link fromMachine}. */
export interface FromMachineOptions<TMachine extends AnyStateMachine> {
  /** Input for the machine (plain data). */
  input?: unknown;
  /** Called with every snapshot (also published as a `snapshot` system event). */
  onSnapshot?: (snapshot: SnapshotFrom<TMachine>, path: string) => void;
}

interface MachineState<TMachine extends AnyStateMachine> {
  actor: Actor<TMachine>;
  error: { value: unknown } | undefined;
}

/**
 * Host an xstate v5 machine as a Troupe actor. Each message is sent to the
 * machine as an event; `{ type: 'troupe.getSnapshot' }` asks for the snapshot;
 * every snapshot is published on `system.events` (`snapshot`). A machine that
 * errors (an action or guard throws) fails the Troupe actor, so supervision
 * decides: a restart starts a fresh machine. When the machine reaches a final
 * state the actor stops.
 *
 * @example
 * const toggle = createMachine({ initial: 'off', states: { off: { on: { TOGGLE: 'on' } }, on: { on: { TOGGLE: 'off' } } } });
 * const ref = system.spawn(fromMachine(toggle), { name: 'toggle' });
 * ref.tell({ type: 'TOGGLE' });
 * const snap = await ref.ask<{ value: string }>({ type: 'troupe.getSnapshot' });
 */
export function fromMachine<TMachine extends AnyStateMachine>(
  machine: TMachine,
  options: FromMachineOptions<TMachine> = {},
): ActorDefinition<MachineMessage<TMachine> & Message, MachineState<TMachine>> {
  return defineActor<MachineMessage<TMachine> & Message, MachineState<TMachine>>({
    name: `machine:${machine.id}`,
    init: (ctx) => {
      // biome-ignore lint/suspicious/noExplicitAny: xstate's conditional options type cannot be satisfied generically
      const actor = (createActor as any)(
        machine,
        options.input === undefined ? {} : { input: options.input },
      ) as Actor<TMachine>;
      const state: MachineState<TMachine> = { actor, error: undefined };
      const path = ctx.self.path;
      const events = ctx.system.events;
      actor.subscribe({
        next: (snapshot) => {
          options.onSnapshot?.(snapshot as SnapshotFrom<TMachine>, path);
          if (events.listenerCount('snapshot') > 0) events.emit('snapshot', { path, snapshot });
          if ((snapshot as { status?: string }).status === 'done') void ctx.stop();
        },
        error: (error) => {
          state.error = { value: error };
        },
      });
      actor.start();
      if (state.error) throw state.error.value;
      return state;
    },
    receive: (state, message, ctx) => {
      if ((message as Message).type === 'troupe.getSnapshot') {
        ctx.reply(state.actor.getSnapshot());
        return;
      }
      state.actor.send(message as EventFromLogic<TMachine>);
      if (state.error) throw state.error.value;
    },
    afterStop: (state) => {
      state.actor.stop();
    },
    beforeRestart: (state) => {
      state.actor.stop();
    },
  });
}
