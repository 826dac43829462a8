import { defineActor, type Logger, restart } from '@troupe/core';
import { afterEach, describe, expect, it } from 'vitest';
import { collectDeadLetters, useSystem, waitFor } from '../helpers/system.js';

const start = useSystem();

type Msg = { type: 'boom' } | { type: 'get' };
const Flaky = defineActor<Msg, { n: number }>({
  init: () => ({ n: 0 }),
  receive: (s, m, ctx) => {
    if (m.type === 'boom') throw new Error('flaky failed');
    ctx.reply(++s.n);
  },
});

/** A logger whose `broken` methods throw on every call. */
function brokenLogger(...broken: (keyof Logger)[]): Logger & { calls: number } {
  const logger = { calls: 0 } as Logger & { calls: number };
  for (const level of ['debug', 'info', 'warn', 'error'] as const) {
    logger[level] = () => {
      logger.calls++;
      if (broken.includes(level)) throw new Error(`${level} is broken`);
    };
  }
  return logger;
}

const warnings: Error[] = [];
const onWarning = (w: Error) => warnings.push(w);
process.on('warning', onWarning);
afterEach(() => {
  warnings.length = 0;
});

// Issue 9 item 2: a collaborator that throws never changes what the runtime does.
describe('a logger that throws', () => {
  it('in warn (called when a child fails) does not stop supervision: the child restarts and answers', async () => {
    const s = await start({ logger: brokenLogger('warn', 'error') });
    const f = s.spawn(Flaky, { name: 'flaky', supervision: restart().withLimit(5, 60_000) });
    expect(await f.ask({ type: 'get' })).toBe(1);
    f.tell({ type: 'boom' });
    f.tell({ type: 'boom' });
    expect(await f.ask({ type: 'get' }, { timeoutMs: 2_000 })).toBe(1);
    expect(s.metrics(f)?.restarts).toBe(2);
    const report = await s.shutdown();
    expect(report.exitCode).toBe(0);
    expect(report.durationMs).toBeLessThan(5_000);
    // Reported once, through Node's warnings, however often it failed.
    await waitFor(() => warnings.length > 0, 'the process warning');
    expect(warnings.filter((w) => /logger's warn\(\) threw/.test(w.message))).toHaveLength(1);
  });

  it('in debug does not make a tell to an unknown path throw at the sender', async () => {
    const s = await start({ logger: brokenLogger('debug') });
    const letters = collectDeadLetters(s);
    expect(() => s.select('/user/nobody').tell({ type: 'x' })).not.toThrow();
    expect(letters.of('unknown-actor')).toHaveLength(1);
  });

  for (const [what, fail] of [
    [
      'a circular object without a prototype',
      () => {
        const v = Object.create(null) as Record<string, unknown>;
        v.self = v;
        throw v;
      },
    ],
    [
      'an Error whose message getter throws',
      () => {
        const e = new Error('x');
        Object.defineProperty(e, 'message', {
          get() {
            throw new Error('no message for you');
          },
        });
        throw e;
      },
    ],
    ['a rejected promise (an async logger)', () => Promise.reject(new Error('async logger failed'))],
  ] as const) {
    it(`with ${what} changes nothing either: the child restarts, and it is reported once`, async () => {
      const logger = brokenLogger();
      logger.warn = fail as unknown as Logger['warn'];
      logger.error = fail as unknown as Logger['error'];
      const s = await start({ logger });
      const f = s.spawn(Flaky, { name: 'flaky', supervision: restart().withLimit(5, 60_000) });
      f.tell({ type: 'boom' });
      f.tell({ type: 'boom' });
      expect(await f.ask({ type: 'get' }, { timeoutMs: 2_000 })).toBe(1);
      expect(s.metrics(f)?.restarts).toBe(2);
      expect((await s.shutdown()).exitCode).toBe(0);
      await waitFor(() => warnings.length > 0, 'the process warning');
      expect(warnings.filter((w) => /logger's warn\(\) (threw|rejected)/.test(w.message))).toHaveLength(1);
    });
  }

  it('in info does not make shutdown reject', async () => {
    const s = await start({ logger: brokenLogger('info') });
    s.spawn(Flaky);
    const report = await s.shutdown();
    expect(report.exitCode).toBe(0);
    expect(s.state).toBe('stopped');
  });
});

describe('an event listener that throws', () => {
  it('changes nothing: the failed actor restarts, other listeners still hear it, and it is reported once', async () => {
    const errors: string[] = [];
    const logger: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: (m) => errors.push(m) };
    const s = await start({ logger });
    s.events.on('failed', () => {
      throw new Error('listener is broken');
    });
    const heard: string[] = [];
    s.events.on('failed', (e) => heard.push(e.path));
    s.events.on('deadLetter', () => {
      throw new Error('dead-letter listener is broken');
    });
    const f = s.spawn(Flaky, { name: 'flaky', supervision: restart().withLimit(5, 60_000) });
    f.tell({ type: 'boom' });
    f.tell({ type: 'boom' });
    expect(await f.ask({ type: 'get' }, { timeoutMs: 2_000 })).toBe(1);
    expect(heard).toEqual(['/user/flaky', '/user/flaky']);
    expect(() => s.select('/user/nobody').tell({ type: 'x' })).not.toThrow();
    expect(
      errors.filter((e) => /listener of the 'failed' event threw: Error: listener is broken/.test(e)),
    ).toHaveLength(1);
    expect(errors.filter((e) => /'deadLetter' event threw/.test(e))).toHaveLength(1);
  });

  it('in onLifecycle does not break the shutdown', async () => {
    const s = await start();
    s.onLifecycle(() => {
      throw new Error('lifecycle listener is broken');
    });
    const report = await s.shutdown();
    expect(report.exitCode).toBe(0);
    expect(s.state).toBe('stopped');
  });
});
