import { type ActorRef, type Batch, defineActor, type Message, silentLogger, workerActor } from '@troupe/core';
import { describe, expect, it } from 'vitest';
import { startHostRuntime } from '../../src/internal/HostRuntime.js';
import { Op, type SpawnFrame, type WireRef } from '../../src/internal/wire.js';
import type { CounterMsg } from '../fixtures/workers/actors.js';
import { memoryPair } from '../helpers/memoryTransport.js';
import { collectDeadLetters, useSystem, waitFor } from '../helpers/system.js';

/**
 * The seam `@troupe/remote` plugs into (`system.remoting`), over an
 * in-memory transport pair whose far end the test drives frame by frame, as
 * another node would: external intake, named-definition hosts, the count of
 * unacknowledged tells, and the node address.
 */
const start = useSystem();
const nodeB = { cluster: 'test', node: 'b', incarnation: 'b1' };

type Msg = { type: 'note'; n: number } | { type: 'get' };
const notes: number[] = [];
const Notes = defineActor<Msg, undefined>({
  init: () => undefined,
  receive: (_s, m, ctx) => {
    if (m.type === 'note') notes.push(m.n);
    else ctx.reply(notes.length);
  },
});

/** What the far end received from this side, flattened. */
function farEnd(external: boolean) {
  return async () => {
    const system = await start({ name: 'a', logger: silentLogger });
    system.remoting.setAddress({ cluster: 'test', node: 'a', incarnation: 'a1' });
    const ends = memoryPair();
    const link = system.remoting.connect(ends[0], { address: nodeB, external });
    const got: unknown[] = [];
    ends[1].onBatch((b: Batch) => got.push(...b));
    return { system, link, ends, got };
  };
}

describe('the remoting seam', () => {
  for (const external of [true, false]) {
    it(`${external ? 'refuses' : 'takes'} a peer's tells and asks once shutdown begins when the link is ${external ? 'external (another node)' : 'not external (a thread of this system)'}`, async () => {
      notes.length = 0;
      const { system, ends, got } = await farEnd(external)();
      const letters = collectDeadLetters(system);
      const ref = system.spawn(Notes, { name: 'notes' });
      const wire: WireRef = system.remoting.toWire(ref);
      ends[1].post([Op.TellTo, wire, { type: 'note', n: 1 }]);
      await waitFor(() => notes.length === 1, 'the tell before shutdown');
      let during: Promise<void> | undefined;
      system.onShutdown('stop-intake', 'probe', () => {
        // Intake is closed now: the peer's tell and ask arrive.
        ends[1].post([Op.TellTo, wire, { type: 'note', n: 2 }, Op.AskTo, wire, { type: 'get' }, 9]);
        during = waitFor(() => got.includes(9), 'the answer to the ask during shutdown');
        return during;
      });
      await system.shutdown();
      await during;
      const i = got.lastIndexOf(9);
      if (external) {
        expect(notes).toEqual([1]);
        expect(letters.of('shutting-down').map((l) => l.recipient)).toEqual(['/user/notes', '/user/notes']);
        expect(got[i - 1]).toBe(Op.ReplyError);
        expect(got[i + 1]).toMatchObject({ name: 'ShuttingDownError' });
      } else {
        expect(notes).toEqual([1, 2]);
        expect(got[i - 1]).toBe(Op.Reply);
        expect(got[i + 1]).toBe(2);
      }
    });
  }

  it('hosts only what its loader gives for a peer’s spawn frame, and reports the loader’s refusal to the peer', async () => {
    const system = await start({ name: 'a', logger: silentLogger });
    const ends = memoryPair();
    const asked: [string, string][] = [];
    system.remoting.connect(ends[0], {
      address: nodeB,
      host: {
        load: async (module, exportName) => {
          asked.push([module, exportName]);
          if (exportName === 'Notes') return Notes as never;
          throw new Error(`no ${exportName} here`);
        },
      },
    });
    const got: unknown[] = [];
    ends[1].onBatch((b: Batch) => got.push(...b));
    const frame = (handle: number, exportName: string): SpawnFrame => ({
      handle,
      module: 'named:',
      exportName,
      input: undefined,
      name: 'n',
      path: `/user/n${handle}`,
      self: { $troupeRef: { path: `/user/n${handle}`, uid: `u${handle}`, ...nodeB } },
      window: 16,
    });
    ends[1].post([Op.Spawn, frame(1, 'Notes'), Op.Spawn, frame(2, 'Evil')]);
    await waitFor(() => got.includes(Op.Started) && got.includes(Op.Failed), 'Started and Failed');
    expect(asked).toEqual([
      ['named:', 'Notes'],
      ['named:', 'Evil'],
    ]);
    const failed = got.indexOf(Op.Failed);
    expect(got[failed + 1]).toBe(2);
    expect(got[failed + 2]).toMatchObject({ message: 'no Evil here' });
    ends[1].post([Op.Ask, 1, { type: 'get' }, 5]);
    await waitFor(() => got.includes(5), 'the reply of the hosted actor');
    expect(got[got.indexOf(5) - 1]).toBe(Op.Reply);
  });

  it('counts tells by address until the far side acknowledges them', async () => {
    const system = await start({ name: 'a', logger: silentLogger });
    system.remoting.setAddress({ cluster: 'test', node: 'a', incarnation: 'a1' });
    const ends = memoryPair();
    const link = system.remoting.connect(ends[0], { address: nodeB, host: false });
    startHostRuntime(ends[1], { address: nodeB, logger: silentLogger });
    const far = system.remoting.resolve({ $troupeRef: { path: '/user/nobody', ...nodeB } }) as ActorRef<Message>;
    far.tell({ type: 'x' });
    far.tell({ type: 'y' });
    link.flush();
    expect(link.unacknowledged).toBe(2);
    await waitFor(() => link.unacknowledged === 0, 'the acknowledgement');
  });

  it('refuses a new node address while worker threads run with the old one', async () => {
    const system = await start({ name: 'a', logger: silentLogger, workers: { size: 1 } });
    const counter = system.spawnWorker(
      workerActor<CounterMsg>(new URL('../fixtures/workers/actors.ts', import.meta.url), 'Counter'),
    );
    await counter.ask({ type: 'get' }, { timeoutMs: 20_000 });
    expect(() => system.remoting.setAddress({ cluster: 'test', node: 'a', incarnation: 'a2' })).toThrow(
      /worker threads are already running with the previous node address; join the cluster before spawning worker actors/,
    );
  });
});
