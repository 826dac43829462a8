import { defineActor, type Logger, restart, type SystemEventMap, stop } from '@troupe/core';
import { describe, expect, it } from 'vitest';
import { useSystem, waitFor } from './helpers/system.js';

const start = useSystem();

type Msg = { type: 'boom' } | { type: 'ping' };
const Fragile = defineActor<Msg, undefined>({
  init: () => undefined,
  receive: (_s, m, ctx) => {
    if (m.type === 'boom') throw new Error('fragile');
    ctx.reply('pong');
  },
});

function capturingLogger() {
  const lines: { level: string; message: string }[] = [];
  const at =
    (level: string) =>
    (message: string): void => {
      lines.push({ level, message });
    };
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  return { logger, lines };
}

describe('system event bus', () => {
  it('announces spawned, started, failed, restarted and stopped, in order, with path and id', async () => {
    const system = await start();
    const seen: string[] = [];
    const names = ['spawned', 'started', 'failed', 'restarted', 'stopped'] as const;
    const details: Record<string, unknown> = {};
    for (const n of names) {
      system.events.on(n, (e: SystemEventMap[typeof n][0]) => {
        if (e.path !== '/user/f') return;
        seen.push(n);
        details[n] ??= e;
      });
    }
    const f = system.spawn(Fragile, { name: 'f', supervision: restart() });
    f.tell({ type: 'boom' });
    await f.ask({ type: 'ping' });
    await system.stop(f);
    expect(seen).toEqual(['spawned', 'started', 'failed', 'restarted', 'started', 'stopped']);
    expect(details.spawned).toEqual({ path: '/user/f', id: f.id });
    expect(details.failed).toMatchObject({
      path: '/user/f',
      id: f.id,
      directive: 'restart',
      error: { message: 'fragile' },
    });
    expect(details.restarted).toMatchObject({ path: '/user/f', restarts: 1, error: { message: 'fragile' } });
    expect(details.stopped).toEqual({ path: '/user/f', id: f.id, reason: { kind: 'stopped' } });
  });

  it('announces a mailbox overflow with path, capacity, policy and message type', async () => {
    const system = await start();
    const overflows: SystemEventMap['mailboxOverflow'][0][] = [];
    system.events.on('mailboxOverflow', (e) => overflows.push(e));
    const f = system.spawn(Fragile, { name: 'tiny', mailbox: { capacity: 1, overflow: 'drop-oldest' } });
    f.tell({ type: 'ping' });
    f.tell({ type: 'boom' });
    expect(overflows).toEqual([{ path: '/user/tiny', capacity: 1, policy: 'drop-oldest', messageType: 'boom' }]);
  });

  it('reports a failure that nobody handles in the log, naming actor, error and directive', async () => {
    const { logger, lines } = capturingLogger();
    const system = await start({ logger });
    const f = system.spawn(Fragile, { name: 'loud', supervision: stop() });
    f.tell({ type: 'boom' });
    await system.whenTerminated(f);
    expect(lines.some((l) => l.level === 'warn' && /\/user\/loud failed: Error: fragile; stop/.test(l.message))).toBe(
      true,
    );
  });
});

describe('dead letters', () => {
  it('publishes each dead letter with recipient, message, reason and the clock time', async () => {
    const system = await start();
    const letters: SystemEventMap['deadLetter'][0][] = [];
    system.events.on('deadLetter', (l) => letters.push(l));
    const f = system.spawn(Fragile, { name: 'gone' });
    await system.stop(f);
    f.tell({ type: 'ping' });
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ recipient: '/user/gone', message: { type: 'ping' }, reason: 'actor-stopped' });
    expect(typeof letters[0]?.at).toBe('number');
  });

  it('counts by reason, keeps only the most recent letters, and rate-limits its log lines', async () => {
    const { logger, lines } = capturingLogger();
    const system = await start({ logger });
    const f = system.spawn(Fragile);
    await system.stop(f);
    for (let i = 0; i < 2_500; i++) f.tell({ type: 'ping' });
    system.select('/user/missing').tell({ type: 'ping' });
    const dl = system.deadLetters;
    expect(dl.total).toBe(2_501);
    expect(dl.count('actor-stopped')).toBe(2_500);
    expect(dl.count('unknown-actor')).toBe(1);
    expect(dl.byReason()).toEqual({ 'actor-stopped': 2_500, 'unknown-actor': 1 });
    expect(dl.recent()).toHaveLength(dl.keep);
    expect(dl.recent().at(-1)?.reason).toBe('unknown-actor');
    // The first ten, then one line per thousand.
    expect(lines.filter((l) => l.message.startsWith('dead letter')).length).toBe(12);
  });

  it('loses nothing silently: every message told to a failing, stopping actor is handled or dead-lettered', async () => {
    const system = await start();
    let handled = 0;
    const a = system.spawn(
      defineActor<{ type: 'n'; i: number }, undefined>({
        init: () => undefined,
        receive: async (_s, m) => {
          if (m.i === 50) throw new Error('poison');
          await Promise.resolve();
          handled++;
        },
      }),
      { supervision: stop() },
    );
    for (let i = 0; i < 100; i++) a.tell({ type: 'n', i });
    await system.whenTerminated(a);
    for (let i = 100; i < 110; i++) a.tell({ type: 'n', i });
    await waitFor(() => handled + 1 + system.deadLetters.total === 110, 'every message accounted for');
    expect(handled).toBe(50);
    expect(system.deadLetters.count('actor-stopped')).toBe(59);
  });
});
