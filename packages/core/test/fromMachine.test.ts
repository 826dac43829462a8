import { type ActorRef, defineActor, fromMachine, type MachineMessage, restart, stop } from '@troupe/core';
import { describe, expect, it } from 'vitest';
import { assign, createMachine, setup } from 'xstate';
import { rejectionOf, useSystem, waitFor } from './helpers/system.js';

const start = useSystem();

const toggle = createMachine({
  id: 'toggle',
  initial: 'off',
  states: { off: { on: { TOGGLE: 'on' } }, on: { on: { TOGGLE: 'off' } } },
});

const counter = setup({
  types: {
    context: {} as { count: number },
    events: {} as { type: 'INC' } | { type: 'CRASH' } | { type: 'FINISH' },
    input: {} as { start: number } | undefined,
  },
  actions: {
    explode: () => {
      throw new Error('machine action failed');
    },
  },
}).createMachine({
  id: 'counter',
  context: ({ input }) => ({ count: input?.start ?? 0 }),
  initial: 'counting',
  states: {
    counting: {
      on: {
        INC: { actions: assign({ count: ({ context }) => context.count + 1 }) },
        CRASH: { actions: 'explode' },
        FINISH: 'done',
      },
    },
    done: { type: 'final' },
  },
});

type Snap = { value: unknown; context: { count: number }; status: string };

describe('fromMachine', () => {
  it('turns messages into machine events and answers a snapshot ask', async () => {
    const system = await start();
    const ref = system.spawn(fromMachine(toggle), { name: 'toggle' });
    expect((await ref.ask<Snap>({ type: 'troupe.getSnapshot' })).value).toBe('off');
    ref.tell({ type: 'TOGGLE' });
    expect((await ref.ask<Snap>({ type: 'troupe.getSnapshot' })).value).toBe('on');
    ref.tell({ type: 'TOGGLE' });
    expect((await ref.ask<Snap>({ type: 'troupe.getSnapshot' })).value).toBe('off');
  });

  it('publishes every snapshot on the system bus and to onSnapshot', async () => {
    const system = await start();
    const fromBus: unknown[] = [];
    const fromOption: string[] = [];
    system.events.on('snapshot', (e) => fromBus.push([e.path, (e.snapshot as Snap).context.count]));
    const ref = system.spawn(
      fromMachine(counter, { onSnapshot: (s, path) => fromOption.push(`${path}=${s.context.count}`) }),
      { name: 'c' },
    );
    ref.tell({ type: 'INC' });
    ref.tell({ type: 'INC' });
    await ref.ask({ type: 'troupe.getSnapshot' });
    expect(fromBus).toEqual([
      ['/user/c', 0],
      ['/user/c', 1],
      ['/user/c', 2],
    ]);
    expect(fromOption).toEqual(['/user/c=0', '/user/c=1', '/user/c=2']);
  });

  it('starts the machine with the given input', async () => {
    const system = await start();
    const ref = system.spawn(fromMachine(counter, { input: { start: 40 } }));
    ref.tell({ type: 'INC' });
    expect((await ref.ask<Snap>({ type: 'troupe.getSnapshot' })).context.count).toBe(41);
  });

  it('sends a machine error to supervision, and a restart gives a fresh machine', async () => {
    const system = await start();
    const ref = system.spawn(fromMachine(counter), { name: 'c', supervision: restart() });
    ref.tell({ type: 'INC' });
    ref.tell({ type: 'INC' });
    const err = await rejectionOf(ref.ask({ type: 'CRASH' }));
    expect(err).toMatchObject({ message: 'machine action failed' });
    const snap = await ref.ask<Snap>({ type: 'troupe.getSnapshot' });
    expect(snap.status).toBe('active');
    expect(snap.context.count).toBe(0);
    expect(system.metrics(ref)).toMatchObject({ failed: 1, restarts: 1 });
    ref.tell({ type: 'INC' });
    expect((await ref.ask<Snap>({ type: 'troupe.getSnapshot' })).context.count).toBe(1);
  });

  it('stops the machine actor when the supervisor says stop after a machine error', async () => {
    const system = await start();
    const ref = system.spawn(fromMachine(counter), { supervision: stop() });
    ref.tell({ type: 'CRASH' });
    expect(await system.whenTerminated(ref)).toMatchObject({ kind: 'failed' });
  });

  it('fails the actor when the machine errors while starting', async () => {
    const system = await start();
    const broken = createMachine({
      id: 'broken',
      initial: 'a',
      states: {
        a: {
          entry: () => {
            throw new Error('entry failed');
          },
        },
      },
    });
    const ref = system.spawn(fromMachine(broken), { supervision: stop() });
    const reason = await system.whenTerminated(ref);
    expect(reason).toMatchObject({ kind: 'failed', error: { message: 'entry failed' } });
  });

  it('stops the actor when the machine reaches a final state', async () => {
    const system = await start();
    const ref = system.spawn(fromMachine(counter), { name: 'finite' });
    ref.tell({ type: 'FINISH' });
    expect(await system.whenTerminated(ref)).toEqual({ kind: 'stopped' });
    expect(ref.isAlive).toBe(false);
  });

  it('can be spawned as a child and watched like any actor', async () => {
    const system = await start();
    const ended: string[] = [];
    const Parent = defineActor<{ type: 'finish' }, ActorRef<MachineMessage<typeof counter>>>({
      init: (ctx) => {
        const child = ctx.spawn(fromMachine(counter), { name: 'm' });
        ctx.watch(child);
        return child;
      },
      receive: (child) => {
        child.tell({ type: 'FINISH' });
      },
      onTerminated: (_s, t) => {
        ended.push(t.ref.path);
      },
    });
    const p = system.spawn(Parent, { name: 'p' });
    p.tell({ type: 'finish' });
    await waitFor(() => ended.length === 1, 'the machine child to end');
    expect(ended).toEqual(['/user/p/m']);
  });
});
