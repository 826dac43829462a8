import { type ActorRef, type ActorSystem, defineActor, restart, stop } from '@troupe/core';
import { describe, expect, it } from 'vitest';
import {
  consistentHash,
  NoRouteesError,
  type PoolMessage,
  pool,
  poolRoutees,
  type RouteeFactory,
  resizePool,
} from '../../src/routing/index.js';
import { deadLetters, gate, tick, useSystem, waitFor } from './helpers.js';

const start = useSystem();

interface Entry {
  slot: number;
  n: number;
  key?: string;
  sender?: string;
}

type WorkMsg =
  | { type: 'work'; n: number; key?: string; sender?: string; delayMs?: number }
  | { type: 'ask'; n: number; key?: string }
  | { type: 'block'; until: Promise<void> }
  | { type: 'boom' }
  | { type: 'die' };

/** A routee that records what it handles in a shared log, tagged with its slot. */
const Worker = defineActor<WorkMsg, undefined, { slot: number; log: Entry[] }>({
  init: () => undefined,
  receive: (_s, msg, ctx) => {
    const { slot, log } = ctx.input;
    switch (msg.type) {
      case 'work': {
        const record = () => {
          log.push({
            slot,
            n: msg.n,
            ...(msg.key === undefined ? {} : { key: msg.key }),
            ...(msg.sender === undefined ? {} : { sender: msg.sender }),
          });
        };
        if (msg.delayMs === undefined) return record();
        return new Promise<void>((r) => setTimeout(r, msg.delayMs)).then(record);
      }
      case 'ask':
        log.push({ slot, n: msg.n });
        ctx.reply({ slot, path: ctx.self.path, n: msg.n });
        return;
      case 'block':
        return msg.until;
      case 'boom':
        throw new Error(`boom in slot ${slot}`);
      case 'die':
        void ctx.stop();
        return;
    }
  },
});

const workers =
  (log: Entry[]): RouteeFactory<WorkMsg> =>
  (ctx, slot) =>
    ctx.spawn(Worker, { name: `worker-${slot}-${ctx.children.length}`, input: { slot, log } });

const countBySlot = (log: Entry[]) => {
  const counts: Record<number, number> = {};
  for (const e of log) counts[e.slot] = (counts[e.slot] ?? 0) + 1;
  return counts;
};

type Reply = { slot: number; path: string; n: number };

async function routeesOf(p: ActorRef<PoolMessage<WorkMsg>>): Promise<readonly ActorRef<WorkMsg>[]> {
  return (await poolRoutees(p)).routees;
}

describe('pool routing logics', () => {
  it('round-robin spreads messages evenly over the routees', async () => {
    const system = await start();
    const log: Entry[] = [];
    const p = system.spawn(pool({ size: 4, routees: workers(log) }), { name: 'rr' });
    for (let n = 0; n < 400; n++) p.tell({ type: 'work', n });
    await waitFor(() => log.length === 400, '400 messages handled');
    expect(countBySlot(log)).toEqual({ 0: 100, 1: 100, 2: 100, 3: 100 });
  });

  it('least-loaded prefers the idle routee over a busy one', async () => {
    const system = await start();
    const log: Entry[] = [];
    const p = system.spawn(pool({ size: 2, routees: workers(log), routing: 'least-loaded' }), { name: 'll' });
    const [busy] = await routeesOf(p);
    const held = gate();
    busy?.tell({ type: 'block', until: held.promise });
    for (let n = 0; n < 5; n++) busy?.tell({ type: 'work', n: 1000 + n });
    await waitFor(() => system.loadOf(busy as ActorRef) === 6, 'the busy routee to hold 1 in flight + 5 queued');

    for (let n = 0; n < 4; n++) p.tell({ type: 'work', n });
    await waitFor(() => log.filter((e) => e.n < 1000).length === 4, 'the 4 pooled messages handled');
    expect(log.filter((e) => e.n < 1000).map((e) => e.slot)).toEqual([1, 1, 1, 1]);

    held.open();
    await waitFor(() => log.length === 9, 'the busy routee to catch up');
  });

  it('consistent-hash sends messages with equal keys to the same routee', async () => {
    const system = await start();
    const log: Entry[] = [];
    const p = system.spawn(
      pool({
        size: 4,
        routees: workers(log),
        routing: 'consistent-hash',
        hashKey: (m: WorkMsg) => ('key' in m ? (m.key ?? '') : ''),
      }),
      { name: 'ch' },
    );
    const slotOf = new Map<string, number>();
    for (let round = 0; round < 3; round++) {
      for (let k = 0; k < 50; k++) {
        const key = `user-${k}`;
        const { slot } = await p.ask<Reply>({ type: 'ask', n: k, key });
        if (round === 0) slotOf.set(key, slot);
        else expect(slot, `key ${key} in round ${round}`).toBe(slotOf.get(key));
      }
    }
    expect(new Set(slotOf.values()).size).toBeGreaterThan(1);
  });

  it('consistent-hash moves only the new routee’s share of keys on a resize, and restores the placement when shrunk back', async () => {
    const system = await start();
    const log: Entry[] = [];
    const p = system.spawn(
      pool({
        size: 4,
        routees: workers(log),
        routing: consistentHash((m: WorkMsg) => ('key' in m ? (m.key ?? '') : '')),
      }),
      { name: 'ch-resize' },
    );
    const keys = Array.from({ length: 1000 }, (_, k) => `order-${k * 7919}`);
    const placement = async () => {
      const out = new Map<string, number>();
      for (const key of keys) out.set(key, (await p.ask<Reply>({ type: 'ask', n: 0, key })).slot);
      return out;
    };
    const before = await placement();
    expect(new Set(before.values())).toEqual(new Set([0, 1, 2, 3]));

    expect((await resizePool(p, 5)).size).toBe(5);
    const grown = await placement();
    const moved = keys.filter((k) => grown.get(k) !== before.get(k));
    // Every moved key went to the new routee, and about 1/5 of them moved (hash mod n would move ~80 %).
    expect(new Set(moved.map((k) => grown.get(k)))).toEqual(new Set([4]));
    expect(moved.length).toBeGreaterThan(100);
    expect(moved.length).toBeLessThan(320);

    await resizePool(p, 4);
    expect(await placement()).toEqual(before);
  });

  it('broadcast delivers each message to every routee', async () => {
    const system = await start();
    const log: Entry[] = [];
    const p = system.spawn(pool({ size: 3, routees: workers(log), routing: 'broadcast' }), { name: 'bc' });
    p.tell({ type: 'work', n: 1 });
    p.tell({ type: 'work', n: 2 });
    await waitFor(() => log.length === 6, 'each routee to get both messages');
    expect(countBySlot(log)).toEqual({ 0: 2, 1: 2, 2: 2 });
  });

  it('delivers a troupe.pool.broadcast message to every routee whatever the routing logic', async () => {
    const system = await start();
    const log: Entry[] = [];
    const p = system.spawn(pool({ size: 3, routees: workers(log) }), { name: 'bc-wrap' });
    p.tell({ type: 'troupe.pool.broadcast', message: { type: 'work', n: 7 } });
    await waitFor(() => log.length === 3, 'every routee to get the broadcast');
    expect(countBySlot(log)).toEqual({ 0: 1, 1: 1, 2: 1 });
  });
});

describe('asks through a pool', () => {
  it('are answered by the routee directly to the asker', async () => {
    const system = await start();
    const log: Entry[] = [];
    const p = system.spawn(pool({ size: 2, routees: workers(log) }), { name: 'asks' });
    const replies = await Promise.all([0, 1, 2, 3].map((n) => p.ask<Reply>({ type: 'ask', n })));
    expect(replies.map((r) => r.slot)).toEqual([0, 1, 0, 1]);
    for (const r of replies) expect(r.path.startsWith('/user/asks/worker-')).toBe(true);
    // The pool forwarded without waiting on any answer: no ask of its own is left behind.
    expect(system.outstandingAsks).toBe(0);
  });

  it('reject with the routee’s error when the routee throws', async () => {
    const system = await start();
    const log: Entry[] = [];
    const p = system.spawn(pool({ size: 1, routees: workers(log), supervision: restart() }), { name: 'ask-fail' });
    await expect(p.ask({ type: 'boom' })).rejects.toThrow('boom in slot 0');
    expect(await p.ask<Reply>({ type: 'ask', n: 1 })).toMatchObject({ slot: 0, n: 1 });
  });

  it('refuse a message whose hash key cannot be computed without failing the pool', async () => {
    const system = await start();
    const log: Entry[] = [];
    const p = system.spawn(
      pool({
        size: 2,
        routees: workers(log),
        routing: 'consistent-hash',
        hashKey: (m: WorkMsg) => (m as { key: string }).key,
      }),
      { name: 'bad-key' },
    );
    await expect(p.ask({ type: 'ask', n: 1 })).rejects.toThrow(/hashKey returned undefined/);
    expect(await p.ask<Reply>({ type: 'ask', n: 2, key: 'a' })).toMatchObject({ n: 2 });
    expect(system.metrics(p)?.restarts).toBe(0);
  });
});

describe('resizing a pool at run time', () => {
  it('grows, then shrinks while the routees taken out finish their queued work before stopping', async () => {
    const system = await start();
    const dead = deadLetters(system);
    const log: Entry[] = [];
    const p = system.spawn(pool({ size: 2, routees: workers(log) }), { name: 'resize' });

    const grown = await resizePool(p, 5);
    expect(grown.size).toBe(5);
    expect(grown.slots).toEqual([0, 1, 2, 3, 4]);
    for (let n = 0; n < 50; n++) p.tell({ type: 'work', n, delayMs: 2 });
    const all = grown.routees;

    const shrunk = await resizePool(p, 1);
    expect(shrunk.size).toBe(1);
    expect(shrunk.routees).toEqual([all[0]]);
    for (let n = 50; n < 60; n++) p.tell({ type: 'work', n });

    await waitFor(() => log.length === 60, 'all 60 messages handled, including those queued in retired routees');
    expect(countBySlot(log)).toEqual({ 0: 20, 1: 10, 2: 10, 3: 10, 4: 10 });
    await waitFor(() => all.slice(1).every((r) => !r.isAlive), 'the retired routees to stop');
    expect((await poolRoutees(p)).retiring).toBe(0);
    expect(dead.filter((d) => d.reason === 'actor-stopped')).toEqual([]);
  });

  it('refuses a resize to a size that is not a positive integer', async () => {
    const system = await start();
    const p = system.spawn(pool({ size: 2, routees: workers([]) }), { name: 'bad-resize' });
    await expect(resizePool(p, 0)).rejects.toThrow(TypeError);
    await expect(resizePool(p, 1.5)).rejects.toThrow(/resize size must be a positive integer, got 1.5/);
    expect((await poolRoutees(p)).size).toBe(2);
  });
});

describe('supervision of routees', () => {
  it('restarts a failed routee while the other routees’ queued work completes', async () => {
    const system = await start();
    const dead = deadLetters(system);
    const log: Entry[] = [];
    const p = system.spawn(pool({ size: 3, routees: workers(log), supervision: restart() }), { name: 'sup' });
    const before = await routeesOf(p);
    // Round-robin: message i goes to slot i % 3; message 4 (slot 1) is poison.
    for (let i = 0; i < 30; i++) p.tell(i === 4 ? { type: 'boom' } : { type: 'work', n: i, delayMs: 1 });

    await waitFor(() => log.length === 29, 'the 29 good messages handled');
    expect(countBySlot(log)).toEqual({ 0: 10, 1: 9, 2: 10 });
    // Slot 1 kept its queue through the restart: its messages after the poison were handled.
    expect(
      log
        .filter((e) => e.slot === 1)
        .map((e) => e.n)
        .filter((n) => n > 4),
    ).toEqual([7, 10, 13, 16, 19, 22, 25, 28]);
    const after = await routeesOf(p);
    expect(after).toEqual(before);
    expect(after.map((r) => system.metrics(r)?.restarts)).toEqual([0, 1, 0]);
    expect(dead.filter((d) => d.reason === 'actor-stopped')).toEqual([]);
  });

  it('replaces a routee that stops in the same slot, keeping the pool’s size', async () => {
    const system = await start();
    const log: Entry[] = [];
    const p = system.spawn(pool({ size: 3, routees: workers(log) }), { name: 'replace' });
    const before = await routeesOf(p);
    before[1]?.tell({ type: 'die' });
    await waitFor(() => before[1]?.isAlive === false, 'routee 1 to stop');
    await tick(5);
    const after = await poolRoutees(p);
    expect(after.size).toBe(3);
    expect(after.slots).toEqual([0, 1, 2]);
    expect(after.routees[0]).toBe(before[0]);
    expect(after.routees[2]).toBe(before[2]);
    expect(after.routees[1]?.isAlive).toBe(true);
    expect(after.routees[1]).not.toBe(before[1]);
    expect(await after.routees[1]?.ask<Reply>({ type: 'ask', n: 1 })).toMatchObject({ slot: 1 });
  });

  it('removes a routee stopped by a stop directive with whenRouteeStops: remove, then refuses asks with NoRouteesError once none is left', async () => {
    const system = await start();
    const log: Entry[] = [];
    const p = system.spawn(pool({ size: 2, routees: workers(log), supervision: stop(), whenRouteeStops: 'remove' }), {
      name: 'remove',
    });
    const sizeIs = async (size: number) => {
      for (let i = 0; i < 1000; i++) {
        const info = await poolRoutees(p);
        if (info.size === size) return info;
        await tick(2);
      }
      throw new Error(`the pool never reached size ${size}`);
    };
    p.tell({ type: 'boom' });
    expect((await sizeIs(1)).slots).toEqual([1]);
    expect(await p.ask<Reply>({ type: 'ask', n: 1 })).toMatchObject({ slot: 1 });

    p.tell({ type: 'boom' });
    await sizeIs(0);
    await expect(p.ask({ type: 'ask', n: 2 })).rejects.toBeInstanceOf(NoRouteesError);
    expect((await resizePool(p, 2)).slots).toEqual([0, 1]);
    expect(await p.ask<Reply>({ type: 'ask', n: 3 })).toMatchObject({ n: 3 });
  });

  it('stops replacing routees past its replaceLimit and removes them instead', async () => {
    const system = await start();
    const log: Entry[] = [];
    const p = system.spawn(
      pool({ size: 2, routees: workers(log), replaceLimit: { maxReplacements: 1, windowMs: 60_000 } }),
      { name: 'limit' },
    );
    const sizeAfterDeath = async (slot: number) => {
      const victim = (await poolRoutees(p)).routees[slot] as ActorRef<WorkMsg>;
      victim.tell({ type: 'die' });
      await waitFor(() => !victim.isAlive, 'the routee to stop');
      await tick(5);
      return (await poolRoutees(p)).size;
    };
    expect(await sizeAfterDeath(0)).toBe(2);
    expect(await sizeAfterDeath(0)).toBe(1);
  });
});

describe('backpressure through a pool', () => {
  it('waits for room in a full routee mailbox instead of failing, carrying backpressure back to the sender', async () => {
    const system = await start();
    const dead = deadLetters(system);
    const log: Entry[] = [];
    const p = system.spawn(
      pool({
        size: 2,
        routee: Worker,
        routeeInput: { slot: -1, log },
        routeeMailbox: { capacity: 2, overflow: 'backpressure' },
        mailbox: { capacity: 4, overflow: 'backpressure' },
      }),
      { name: 'bp' },
    );
    for (let n = 0; n < 100; n++) await p.send({ type: 'work', n, delayMs: 1 });
    await waitFor(() => log.length === 100, 'all 100 messages handled');
    expect(new Set(log.map((e) => e.n)).size).toBe(100);
    expect(system.metrics(p)?.mailboxHighWater).toBeLessThanOrEqual(4);
    for (const r of await routeesOf(p)) expect(system.metrics(r)?.mailboxHighWater).toBeLessThanOrEqual(2);
    expect(system.metrics(p)?.restarts).toBe(0);
    expect(dead).toEqual([]);
  });
});

describe('ordering through a pool', () => {
  it('keeps each sender’s order through a round-robin pool of one', async () => {
    const system = await start();
    const log: Entry[] = [];
    const p = system.spawn(pool({ size: 1, routees: workers(log) }), { name: 'order-rr' });
    for (let n = 0; n < 1000; n++) p.tell({ type: 'work', n, ...(n % 10 === 0 ? { delayMs: 1 } : {}) });
    await waitFor(() => log.length === 1000, 'all messages handled');
    expect(log.map((e) => e.n)).toEqual(Array.from({ length: 1000 }, (_, n) => n));
  });

  it('keeps the order of each key’s messages through consistent-hash', async () => {
    const system = await start();
    const log: Entry[] = [];
    const p = system.spawn(
      pool({
        size: 4,
        routees: workers(log),
        routing: 'consistent-hash',
        hashKey: (m: WorkMsg) => (m.type === 'work' ? (m.key ?? '') : ''),
      }),
      { name: 'order-ch' },
    );
    for (let n = 0; n < 800; n++)
      p.tell({ type: 'work', n, key: `k${n % 16}`, ...(n % 7 === 0 ? { delayMs: 1 } : {}) });
    await waitFor(() => log.length === 800, 'all messages handled');
    for (let k = 0; k < 16; k++) {
      const mine = log.filter((e) => e.key === `k${k}`);
      expect(new Set(mine.map((e) => e.slot)).size).toBe(1);
      expect(mine.map((e) => e.n)).toEqual([...mine.map((e) => e.n)].sort((a, b) => a - b));
    }
  });
});

describe('pool options', () => {
  it('rejects bad options at the door with a TypeError naming the option', () => {
    const bad: [unknown, RegExp][] = [
      [undefined, /options must be an object/],
      [{ size: 0, routee: Worker }, /size must be a positive integer, got 0/],
      [{ size: 2 }, /give routee .* or routees/],
      [{ size: 2, routee: Worker, routees: () => undefined }, /not both/],
      [{ size: 2, routee: {} }, /routee must be an actor definition/],
      [{ size: 2, routees: 'x' }, /routees must be a factory/],
      [
        { size: 2, routee: Worker, routing: 'random' },
        /routing must be one of round-robin, least-loaded, consistent-hash, broadcast/,
      ],
      [{ size: 2, routee: Worker, routing: 'consistent-hash' }, /needs hashKey/],
      [{ size: 2, routee: Worker, hashKey: () => 'k' }, /hashKey is only used with routing: 'consistent-hash'/],
      [{ size: 2, routee: Worker, supervision: 'restart' }, /supervision must be a SupervisionStrategy/],
      [{ size: 2, routee: Worker, whenRouteeStops: 'ignore' }, /whenRouteeStops must be 'replace' or 'remove'/],
      [{ size: 2, routee: Worker, replaceLimit: { maxReplacements: -1, windowMs: 1 } }, /replaceLimit.maxReplacements/],
      [{ size: 2, routee: Worker, retireTimeoutMs: 0 }, /retireTimeoutMs must be a positive finite number/],
      [{ size: 2, routees: () => undefined, routeeInput: 1 }, /routeeInput applies to routee only/],
    ];
    for (const [options, message] of bad) {
      expect(() => pool(options as never), String(message)).toThrow(TypeError);
      expect(() => pool(options as never)).toThrow(message);
    }
    expect(() => consistentHash((m) => m.type, { virtualNodes: 0 })).toThrow(/virtualNodes must be an integer/);
  });

  it('spawns local routees from a definition with the routee shortcut', async () => {
    const system: ActorSystem = await start();
    const log: Entry[] = [];
    const p = system.spawn(pool({ size: 3, routee: Worker, routeeInput: { slot: -1, log } }), { name: 'shortcut' });
    const info = await poolRoutees(p);
    expect(info.routees.map((r) => r.path)).toEqual([
      '/user/shortcut/routee-0',
      '/user/shortcut/routee-1',
      '/user/shortcut/routee-2',
    ]);
    expect(info.routing).toBe('round-robin');
  });
});
