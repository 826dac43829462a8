import {
  type ActorRef,
  ActorStoppedError,
  type ActorSystem,
  decide,
  defaultStrategy,
  defineActor,
  EscalatedError,
  escalate,
  RestartLimitExceededError,
  restart,
  resume,
  type SupervisionStrategy,
  type SystemEventMap,
  stop,
} from '@troupe/core';
import { TestClock } from '@troupe/core/testing';
import { describe, expect, it } from 'vitest';
import { gate, rejectionOf, useSystem, waitFor } from './helpers/system.js';

const start = useSystem();

class Poison extends Error {
  override name = 'Poison';
}

type WMsg =
  | { type: 'inc' }
  | { type: 'get' }
  | { type: 'boom'; error?: unknown }
  | { type: 'boom-async' }
  | { type: 'seen' };
interface WState {
  n: number;
  seen: string[];
}
/** A counter that fails on `boom`; `log` (its input) records its lifecycle. */
const Worker = defineActor<WMsg, WState, { log: string[]; tag: string } | undefined>({
  init: (ctx) => {
    ctx.input?.log.push(`${ctx.input.tag}:init`);
    return { n: 0, seen: [] };
  },
  receive: async (s, m, ctx) => {
    s.seen.push(m.type);
    switch (m.type) {
      case 'inc':
        return { ...s, n: s.n + 1 };
      case 'get':
        return ctx.reply(s.n);
      case 'seen':
        return ctx.reply([...s.seen]);
      case 'boom':
        throw m.error ?? new Poison('poison message');
      case 'boom-async':
        await new Promise((r) => setTimeout(r, 1));
        throw new Poison('async poison');
    }
  },
  afterStop: (_s, ctx) => {
    ctx.input?.log.push(`${ctx.input.tag}:afterStop`);
  },
  beforeRestart: (_s, err, ctx) => {
    ctx.input?.log.push(`${ctx.input.tag}:beforeRestart(${(err as Error).message})`);
  },
});

function events<K extends keyof SystemEventMap>(system: ActorSystem, name: K): SystemEventMap[K][0][] {
  const out: SystemEventMap[K][0][] = [];
  // biome-ignore lint/suspicious/noExplicitAny: generic event listener
  system.events.on(name, ((e: SystemEventMap[K][0]) => out.push(e)) as any);
  return out;
}

describe('a poison message (handler throws)', () => {
  it('rejects the asker with the cause itself', async () => {
    const system = await start();
    const w = system.spawn(Worker, { supervision: resume() });
    const cause = new Poison('bad input');
    expect(await rejectionOf(w.ask({ type: 'boom', error: cause }))).toBe(cause);
    expect(await rejectionOf(w.ask({ type: 'boom-async' }))).toMatchObject({ name: 'Poison', message: 'async poison' });
  });

  it('does not redeliver the failed message after a restart', async () => {
    const system = await start();
    const w = system.spawn(Worker, { supervision: restart() });
    w.tell({ type: 'boom' });
    w.tell({ type: 'inc' });
    expect(await w.ask({ type: 'seen' })).toEqual(['inc', 'seen']);
    expect(system.metrics(w)).toMatchObject({ failed: 1, restarts: 1 });
  });

  it('keeps the rest of the mailbox across a restart, in order, handled with fresh state', async () => {
    const system = await start();
    const w = system.spawn(Worker, { supervision: restart() });
    w.tell({ type: 'inc' });
    w.tell({ type: 'inc' });
    w.tell({ type: 'boom' });
    w.tell({ type: 'inc' });
    const afterRestart = w.ask({ type: 'seen' });
    const n = w.ask({ type: 'get' });
    expect(await afterRestart).toEqual(['inc', 'seen']);
    expect(await n).toBe(1);
  });

  it('keeps the state and goes on with the next message when the strategy resumes', async () => {
    const system = await start();
    const w = system.spawn(Worker, { supervision: resume() });
    w.tell({ type: 'inc' });
    w.tell({ type: 'boom' });
    w.tell({ type: 'inc' });
    expect(await w.ask({ type: 'get' })).toBe(2);
    expect(system.metrics(w)).toMatchObject({ failed: 1, restarts: 0 });
  });

  it('stops the actor with a failed reason when the strategy stops, rejecting queued asks', async () => {
    const system = await start();
    const w = system.spawn(Worker, { supervision: stop() });
    const cause = new Poison('fatal');
    w.tell({ type: 'boom', error: cause });
    const queued = rejectionOf(w.ask({ type: 'get' }));
    expect(await system.whenTerminated(w)).toEqual({ kind: 'failed', error: cause });
    expect(await queued).toBeInstanceOf(ActorStoppedError);
    expect(w.isAlive).toBe(false);
  });

  it('decides by error: resume on one error type, stop on another', async () => {
    const system = await start();
    const strategy = decide((e) => (e instanceof RangeError ? 'resume' : 'stop'));
    const w = system.spawn(Worker, { supervision: strategy });
    w.tell({ type: 'inc' });
    w.tell({ type: 'boom', error: new RangeError('tolerable') });
    expect(await w.ask({ type: 'get' })).toBe(1);
    w.tell({ type: 'boom', error: new TypeError('fatal') });
    expect(await system.whenTerminated(w)).toMatchObject({ kind: 'failed' });
  });

  it('escalates when the decider itself throws', async () => {
    const system = await start();
    const failed = events(system, 'failed');
    const strategy = decide(() => {
      throw new Error('decider bug');
    });
    const Parent = defineActor<{ type: 'spawn' }, undefined>({
      init: (ctx) => {
        ctx.spawn(Worker, { name: 'w', supervision: strategy }).tell({ type: 'boom' });
      },
      receive: () => undefined,
    });
    system.spawn(Parent, { name: 'p', supervision: resume() });
    await waitFor(() => failed.some((e) => e.path === '/user/p'), 'the parent failing');
    expect(failed.find((e) => e.path === '/user/p/w')?.directive).toBe('escalate');
    const pFail = failed.find((e) => e.path === '/user/p');
    expect(pFail?.error).toBeInstanceOf(EscalatedError);
    expect((pFail?.error as Error | undefined)?.cause).toMatchObject({ message: 'decider bug' });
  });
});

describe('escalation', () => {
  it('fails the parent with EscalatedError, and the grandparent`s strategy restarts it with its children', async () => {
    const system = await start();
    const log: string[] = [];
    const failed = events(system, 'failed');
    type PMsg = { type: 'kid' };
    const Parent = defineActor<PMsg, ActorRef<WMsg>, { log: string[] }>({
      init: (ctx) => {
        ctx.input.log.push('parent:init');
        return ctx.spawn(Worker, { name: 'kid', supervision: escalate(), input: { log: ctx.input.log, tag: 'kid' } });
      },
      receive: (kid, _m, ctx) => ctx.reply(kid),
      beforeRestart: (_s, err, ctx) => {
        ctx.input.log.push(`parent:beforeRestart(${(err as Error).name})`);
      },
    });
    const p = system.spawn(Parent, { name: 'p', supervision: restart(), input: { log } });
    const kid1 = await p.ask<ActorRef<WMsg>>({ type: 'kid' });
    const cause = new Poison('deep');
    kid1.tell({ type: 'boom', error: cause });
    await waitFor(() => log.filter((l) => l === 'parent:init').length === 2, 'the parent restart');
    const kid2 = await p.ask<ActorRef<WMsg>>({ type: 'kid' });
    expect(kid1.isAlive).toBe(false);
    expect(kid2.isAlive).toBe(true);
    expect(kid2.path).toBe('/user/p/kid');
    expect(log).toEqual([
      'parent:init',
      'kid:init',
      'kid:afterStop',
      'parent:beforeRestart(EscalatedError)',
      'parent:init',
      'kid:init',
    ]);
    const pFail = failed.find((e) => e.path === '/user/p');
    expect(pFail?.directive).toBe('restart');
    expect(pFail?.error).toBeInstanceOf(EscalatedError);
    expect((pFail?.error as Error | undefined)?.cause).toBe(cause);
  });
});

describe('children of a restarting actor', () => {
  it('are stopped before beforeRestart runs, and new ones start after init', async () => {
    const system = await start();
    const log: string[] = [];
    type PMsg = { type: 'boom' };
    const Parent = defineActor<PMsg, undefined, { log: string[] }>({
      init: (ctx) => {
        ctx.input.log.push('parent:init');
        ctx.spawn(Worker, { name: 'a', input: { log: ctx.input.log, tag: 'a' } });
        ctx.spawn(Worker, { name: 'b', input: { log: ctx.input.log, tag: 'b' } });
      },
      receive: () => {
        throw new Poison('parent poison');
      },
      beforeRestart: (_s, _e, ctx) => {
        ctx.input.log.push(`parent:beforeRestart children=${ctx.children.length}`);
      },
    });
    const p = system.spawn(Parent, { name: 'p', supervision: restart(), input: { log } });
    p.tell({ type: 'boom' });
    await waitFor(() => log.filter((l) => l === 'parent:init').length === 2, 'the restart');
    await waitFor(() => log.length === 9, 'the new children');
    expect(log).toEqual([
      'parent:init',
      'a:init',
      'b:init',
      'b:afterStop', // reverse start order
      'a:afterStop',
      'parent:beforeRestart children=0',
      'parent:init',
      'a:init',
      'b:init',
    ]);
  }, 20_000);
});

describe('restart limits', () => {
  it('restarts at most N times in the window, then stops the child and escalates RestartLimitExceededError', async () => {
    const system = await start();
    const failed = events(system, 'failed');
    const restarted = events(system, 'restarted');
    const wRef = gate<ActorRef<WMsg>>();
    const Parent = defineActor<{ type: 'x' }, undefined>({
      init: (ctx) => {
        wRef.open(ctx.spawn(Worker, { name: 'w', supervision: restart().withLimit(2, 60_000) }));
      },
      receive: () => undefined,
    });
    const p = system.spawn(Parent, { name: 'p', supervision: resume() });
    const w = await wRef.promise;
    for (let i = 0; i < 3; i++) {
      w.tell({ type: 'boom' });
      w.tell({ type: 'inc' }); // waits for the restart decision
      await waitFor(() => failed.length >= i + 1, `failure ${i + 1}`);
    }
    const reason = await system.whenTerminated(w);
    expect(reason).toMatchObject({ kind: 'failed', error: { name: 'Poison' } });
    expect(restarted.map((r) => r.restarts)).toEqual([1, 2]);
    await waitFor(() => failed.some((e) => e.path === '/user/p'), 'escalation to the parent');
    const escalated = failed.find((e) => e.path === '/user/p')?.error as RestartLimitExceededError;
    expect(escalated).toBeInstanceOf(RestartLimitExceededError);
    expect(escalated).toMatchObject({ child: '/user/p/w', restarts: 2, windowMs: 60_000 });
    expect(escalated.message).toMatch(/failed after 2 restart\(s\) within 60000 ms/);
    expect(p.isAlive).toBe(true);
  });

  it('forgets failures older than the window', async () => {
    const clock = new TestClock();
    const system = await start({ clock });
    const w = system.spawn(Worker, { supervision: restart().withLimit(1, 1_000) });
    w.tell({ type: 'boom' });
    expect(await w.ask({ type: 'get' })).toBe(0);
    await clock.tick(1_000);
    w.tell({ type: 'boom' });
    expect(await w.ask({ type: 'get' })).toBe(0);
    expect(system.metrics(w)?.restarts).toBe(2);
    expect(w.isAlive).toBe(true);
  });

  it('shuts the system down with exit code 1 when a top-level actor exceeds its limit', async () => {
    const system = await start();
    const w = system.spawn(Worker, { name: 'top', supervision: restart().withLimit(1, 60_000) });
    w.tell({ type: 'boom' });
    w.tell({ type: 'boom' });
    const report = await system.whenShutdown;
    expect(report.exitCode).toBe(1);
    expect(report.cause).toBe('failure');
    expect(report.error).toMatch(/RestartLimitExceededError.*\/user\/top/);
    expect(system.state).toBe('stopped');
  });
});

describe('escalation past the top', () => {
  it('shuts the system down with exit code 1 when a top-level actor escalates', async () => {
    const system = await start();
    const w = system.spawn(Worker, { name: 'top', supervision: escalate() });
    w.tell({ type: 'boom', error: new Poison('unrecoverable') });
    const report = await system.whenShutdown;
    expect(report).toMatchObject({ exitCode: 1, cause: 'failure' });
    expect(report.error).toMatch(/EscalatedError.*\/user\/top.*unrecoverable/);
  });
});

describe('a restart storm (init always throws)', () => {
  it('backs off exponentially with jitter from the injected random, then stops and escalates to the root', async () => {
    const clock = new TestClock();
    const system = await start({ clock, random: () => 0.75 });
    let inits = 0;
    const restarted = events(system, 'restarted');
    const Storm = defineActor<{ type: 'x' }, undefined>({
      init: () => {
        inits++;
        throw new Error('cannot connect');
      },
      receive: () => undefined,
    });
    const strategy = restart().withLimit(3, 60_000).withBackoff({ minMs: 100, maxMs: 300, jitter: 0.2 });
    system.spawn(Storm, { name: 'storm', supervision: strategy });
    // random 0.75 → +10 %: 110, 220, then capped 300 → 330.
    await clock.tick(0);
    expect(inits).toBe(1);
    await clock.tick(109);
    expect(inits).toBe(1);
    await clock.tick(1);
    expect(inits).toBe(2);
    await clock.tick(219);
    expect(inits).toBe(2);
    await clock.tick(1);
    expect(inits).toBe(3);
    await clock.tick(330);
    expect(inits).toBe(4);
    expect(restarted.map((r) => r.delayMs)).toEqual([110, 220, 330]);
    // The 4th failure is one too many: stop, escalate past the top, shut down with 1.
    let done = false;
    void system.whenShutdown.then(() => {
      done = true;
    });
    while (!done) await clock.tick(1_000);
    const report = await system.whenShutdown;
    expect(report.exitCode).toBe(1);
    expect(report.error).toContain('/user/storm');
    await clock.tick(10_000);
    expect(inits).toBe(4);
  });

  it('with the default strategy, gives up after 3 restarts and shuts down with exit code 1', async () => {
    const system = await start();
    let inits = 0;
    system.spawn(
      defineActor<{ type: 'x' }, undefined>({
        init: async () => {
          inits++;
          throw new Error('always');
        },
        receive: () => undefined,
      }),
      { name: 'storm' },
    );
    const report = await system.whenShutdown;
    expect(inits).toBe(4);
    expect(report.exitCode).toBe(1);
  });

  it('computes backoff delays from minMs doubling up to maxMs, spread by jitter', () => {
    const s = restart().withBackoff({ minMs: 10, maxMs: 1_000, jitter: 0.5 });
    expect([0, 1, 2, 3].map((a) => s.backoffDelay(a, () => 0.5))).toEqual([10, 20, 40, 80]);
    expect(s.backoffDelay(20, () => 0.5)).toBe(1_000);
    expect(s.backoffDelay(0, () => 0)).toBe(5);
    expect(s.backoffDelay(3, () => 0.999_999)).toBe(120);
    expect(restart().backoffDelay(5, () => 0.3)).toBe(0);
  });
});

describe('supervision strategies', () => {
  it('are immutable values built with chained methods', () => {
    const base = restart();
    const limited = base.withLimit(5, 10_000);
    const backed = limited.withBackoff({ minMs: 1, maxMs: 2 });
    const scoped = backed.withScope('one-for-all');
    expect(base.limit).toEqual({ maxRestarts: 3, windowMs: 5_000 });
    expect(limited.limit).toEqual({ maxRestarts: 5, windowMs: 10_000 });
    expect(limited.backoff).toBeUndefined();
    expect(backed.backoff).toEqual({ minMs: 1, maxMs: 2, jitter: 0.2 });
    expect(backed.scope).toBe('one-for-one');
    expect(scoped.scope).toBe('one-for-all');
    expect(Object.isFrozen(scoped)).toBe(true);
    expect(scoped.decider(new Error())).toBe('restart');
  });

  it('validate their options at the door', () => {
    expect(() => restart().withLimit(-1, 10)).toThrow(/maxRestarts must be a non-negative integer, got -1/);
    expect(() => restart().withLimit(1, 0)).toThrow(/windowMs/);
    expect(() => restart().withBackoff({ minMs: 10, maxMs: 5 })).toThrow(/maxMs must be a number >= minMs/);
    expect(() => restart().withBackoff({ minMs: 1, maxMs: 5, jitter: 2 })).toThrow(/jitter must be in \[0, 1\]/);
    expect(() => restart().withScope('all' as never)).toThrow(/scope/);
  });

  it('default to restart, 3 in 5 s, backoff 10 ms to 1 s with 20 % jitter', () => {
    expect(defaultStrategy.decider(new Error())).toBe('restart');
    expect(defaultStrategy.limit).toEqual({ maxRestarts: 3, windowMs: 5_000 });
    expect(defaultStrategy.backoff).toEqual({ minMs: 10, maxMs: 1_000, jitter: 0.2 });
    expect(defaultStrategy.scope).toBe('one-for-one');
  });
});

describe('supervisor scopes', () => {
  type PMsg = { type: 'kids' };
  function parentWith(strategy: SupervisionStrategy) {
    return defineActor<PMsg, ActorRef<WMsg>[]>({
      init: (ctx) => ['a', 'b', 'c'].map((name) => ctx.spawn(Worker, { name })),
      receive: (kids, _m, ctx) => ctx.reply(kids),
      childSupervision: strategy,
    });
  }

  async function run(strategy: SupervisionStrategy) {
    const system = await start();
    const restarted = events(system, 'restarted');
    const p = system.spawn(parentWith(strategy), { name: 'p' });
    const kids = await p.ask<ActorRef<WMsg>[]>({ type: 'kids' });
    for (const k of kids) k.tell({ type: 'inc' });
    const [a, b, c] = kids as [ActorRef<WMsg>, ActorRef<WMsg>, ActorRef<WMsg>];
    b.tell({ type: 'boom' });
    // b answers after its restart; the siblings' restarts were decided in the same step.
    const countB = await b.ask<number>({ type: 'get' });
    const [countA, countC] = await Promise.all([a.ask<number>({ type: 'get' }), c.ask<number>({ type: 'get' })]);
    const counts = [countA, countB, countC];
    return { system, kids, counts, restarted: restarted.map((r) => r.path).sort() };
  }

  it('one-for-one restarts only the failed child', async () => {
    const { counts, restarted } = await run(restart());
    expect(counts).toEqual([1, 0, 1]);
    expect(restarted).toEqual(['/user/p/b']);
  });

  it('one-for-all restarts every child of the parent', async () => {
    const { counts, restarted } = await run(restart().withScope('one-for-all'));
    expect(counts).toEqual([0, 0, 0]);
    expect(restarted).toEqual(['/user/p/a', '/user/p/b', '/user/p/c']);
  });

  it('rest-for-one restarts the failed child and the siblings started after it', async () => {
    const { counts, restarted } = await run(restart().withScope('rest-for-one'));
    expect(counts).toEqual([1, 0, 0]);
    expect(restarted).toEqual(['/user/p/b', '/user/p/c']);
  });

  it('one-for-all with stop stops every child', async () => {
    const system = await start();
    const p = system.spawn(parentWith(stop().withScope('one-for-all')), { name: 'p' });
    const kids = await p.ask<ActorRef<WMsg>[]>({ type: 'kids' });
    (kids[0] as ActorRef<WMsg>).tell({ type: 'boom' });
    const reasons = await Promise.all(kids.map((k) => system.whenTerminated(k)));
    expect(reasons.map((r) => r.kind)).toEqual(['failed', 'stopped', 'stopped']);
    expect(p.isAlive).toBe(true);
  });
});

// Issue 9 item 6: OTP order for group restarts and stops.
describe('the order of a group restart or stop (OTP)', () => {
  type PMsg = { type: 'kids' };
  function parentWith(strategy: SupervisionStrategy, log: string[]) {
    return defineActor<PMsg, ActorRef<WMsg>[]>({
      init: (ctx) => ['a', 'b', 'c', 'd'].map((tag) => ctx.spawn(Worker, { name: tag, input: { log, tag } })),
      receive: (kids, _m, ctx) => ctx.reply(kids),
      childSupervision: strategy,
    });
  }
  async function failB(strategy: SupervisionStrategy): Promise<{ log: string[]; kids: ActorRef<WMsg>[] }> {
    const system = await start();
    const log: string[] = [];
    const p = system.spawn(parentWith(strategy, log), { name: 'p' });
    const kids = await p.ask<ActorRef<WMsg>[]>({ type: 'kids' });
    log.length = 0;
    (kids[1] as ActorRef<WMsg>).tell({ type: 'boom' });
    await waitFor(() => log.filter((l) => l.endsWith(':init') || l.endsWith(':afterStop')).length >= 2, 'the group');
    await new Promise((r) => setTimeout(r, 20));
    return { log, kids };
  }

  it('one-for-all terminates every child in reverse start order, then starts them in start order', async () => {
    const { log } = await failB(restart().withScope('one-for-all'));
    expect(log).toEqual([
      'd:beforeRestart(poison message)',
      'c:beforeRestart(poison message)',
      'b:beforeRestart(poison message)',
      'a:beforeRestart(poison message)',
      'a:init',
      'b:init',
      'c:init',
      'd:init',
    ]);
  });

  it('rest-for-one terminates the failed child and those started after it in reverse order, then starts them in order', async () => {
    const { log } = await failB(restart().withScope('rest-for-one'));
    expect(log).toEqual([
      'd:beforeRestart(poison message)',
      'c:beforeRestart(poison message)',
      'b:beforeRestart(poison message)',
      'b:init',
      'c:init',
      'd:init',
    ]);
  });

  it('one-for-all with stop stops the children in reverse start order', async () => {
    const { log } = await failB(stop().withScope('one-for-all'));
    expect(log).toEqual(['d:afterStop', 'c:afterStop', 'b:afterStop', 'a:afterStop']);
  });
});

// Issue 9 item 5: every spawn option is validated at the door.
describe('spawn options', () => {
  it('refuse a supervision that is not a strategy, naming the option and the fix, and spawn nothing', async () => {
    const system = await start();
    expect(() => system.spawn(Worker, { name: 'w', supervision: 'restart' as never })).toThrow(
      /spawn under \[\/user\]: supervision must be a SupervisionStrategy, built with restart\(\).*got 'restart'/,
    );
    expect(system.select('/user/w').isAlive).toBe(false);
    expect(() => system.spawn(Worker, { supervision: { decider: () => 'restart' } as never })).toThrow(
      /supervision must be a SupervisionStrategy/,
    );
  });

  it('refuse an unknown option (a typo) and a mailbox that is not an object', async () => {
    const system = await start();
    expect(() => system.spawn(Worker, { nmae: 'w' } as never)).toThrow(
      /unknown option 'nmae'; the options are name, input, mailbox, supervision/,
    );
    expect(() => system.spawn(Worker, { host: 0 } as never)).toThrow(/host is an option of spawnWorker/);
    expect(() => system.spawn(Worker, { mailbox: 100 } as never)).toThrow(/mailbox must be an object/);
    expect(() => system.spawn(Worker, null as never)).toThrow(/options must be an object/);
  });

  it('check the strategies of a definition and of the system at the door too', async () => {
    expect(() => defineActor({ init: () => 0, receive: () => undefined, childSupervision: 'stop' as never })).toThrow(
      /childSupervision must be a SupervisionStrategy/,
    );
    const { ActorSystem } = await import('@troupe/core');
    await expect(ActorSystem.start({ name: 'x', signals: false, supervision: 'resume' as never })).rejects.toThrow(
      /ActorSystem.start: supervision must be a SupervisionStrategy/,
    );
  });
});

// Issue 9 item 10: the children of a suspended actor are suspended with it (Akka suspends the subtree).
describe('children of a failed actor', () => {
  it('handle nothing while their parent waits for its supervisor decision, and go on when it resumes', async () => {
    const system = await start();
    const handled: string[] = [];
    const Leaf = defineActor<{ type: 'note'; text: string }, undefined>({
      init: () => undefined,
      receive: (_s, m) => {
        handled.push(m.text);
      },
    });
    type MidMsg = { type: 'leaf' } | { type: 'boom' };
    const Mid = defineActor<MidMsg, ActorRef<{ type: 'note'; text: string }>>({
      init: (ctx) => ctx.spawn(Leaf, { name: 'leaf' }),
      receive: (leaf, m, ctx) => {
        if (m.type === 'leaf') ctx.reply(leaf);
        else throw new Error('mid failed');
      },
    });
    let seenAtDecision: string[] | undefined;
    const mid = system.spawn(Mid, {
      name: 'mid',
      supervision: decide(() => {
        seenAtDecision = [...handled];
        return 'resume';
      }),
    });
    const leaf = await mid.ask<ActorRef<{ type: 'note'; text: string }>>({ type: 'leaf' });
    leaf.tell({ type: 'note', text: 'before' });
    await waitFor(() => handled.length === 1, 'the first note');
    // In one turn: the parent fails, then its child is told something.
    mid.tell({ type: 'boom' });
    leaf.tell({ type: 'note', text: 'during' });
    await waitFor(() => handled.length === 2, 'the second note, after the decision');
    expect(seenAtDecision).toEqual(['before']);
    expect(handled).toEqual(['before', 'during']);
  });
});
