/**
 * The core benchmark suite: Troupe side by side with xstate v5, eventemitter3
 * and a minimal microtask-drained mailbox (the floor of what a runtime costs).
 *
 *   npm run bench                       # the whole suite; rewrites the core section of BENCHMARKS.md
 *   BENCH_ONLY=tell/troupe npm run bench # one case/contender (prefix match, comma-separated); writes nothing
 *   BENCH_RUNS=3                        # runs per contender in each process (default 5)
 *   BENCH_FORKS=1                       # fresh processes the whole suite runs in (default 3)
 *
 * Contenders take turns run by run (round-robin), so a slow drift of the
 * machine spreads over all of them instead of favouring whoever ran first.
 * The suite runs in several fresh processes, one after another, and each
 * median is over all their runs: the same code measures up to a third
 * faster or slower from one process to the next (JIT and heap state, and
 * what the other cases left behind), a spread no number of runs inside one
 * process averages out (JMH forks for the same reason).
 * This is a benchmark, not a test: it reports, it never fails.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ActorSystem, silentLogger } from '@troupe/core';
import * as c from './contenders.js';
import {
  human,
  machine,
  type Series,
  seriesTable,
  summarize,
  type Target,
  targetTable,
  writeSection,
} from './report.js';

const TELL_N = 1_000_000;
const ASK_N = 200_000;
const WINDOW = 1_000;
const SPAWN_N = 100_000;
const RUNS = positiveInt(process.env.BENCH_RUNS, 5);
const FORKS = positiveInt(process.env.BENCH_FORKS, 3);
/** Set in the processes this one starts: measure, print the series, and leave the reporting to the parent. */
const CHILD = process.env.BENCH_FORK_CHILD === '1';
const RESULT_MARK = 'BENCH_FORK_RESULT ';
const ONLY = (process.env.BENCH_ONLY ?? '')
  .split(',')
  .map((s) => s.trim())
  .filter((s) => s.length > 0);

interface Contender {
  name: string;
  run: () => Promise<c.RunResult>;
  /** A shorter untimed run first, so every contender is measured with optimised code. */
  warmup: () => Promise<c.RunResult>;
}

interface Case {
  id: string;
  /** One series per number a run yields. */
  series: { case: string; unit: string }[];
  contenders: Contender[];
}

const system = await ActorSystem.start({ name: 'bench', signals: false, logger: silentLogger });

const cases: Case[] = [
  {
    id: 'tell',
    series: [{ case: `tell (1 sender → 1 actor, ${human(TELL_N)} msgs)`, unit: 'msg/s' }],
    contenders: [
      contender('Troupe', (n) => c.troupeTell(system, n), TELL_N),
      contender('minimal mailbox', (n) => c.miniTell(n), TELL_N),
      contender('xstate createActor(machine).send', (n) => c.xstateMachineTell(n), TELL_N),
      contender('xstate fromTransition send', (n) => c.xstateTransitionTell(n), TELL_N),
      contender('eventemitter3 emit', (n) => c.emitterTell(n), TELL_N),
    ],
  },
  {
    id: 'ask-seq',
    series: [{ case: `ask, sequential (${human(ASK_N)} round trips)`, unit: 'asks/s' }],
    contenders: [
      contender('Troupe ask', (n) => c.troupeAskSeq(system, n), ASK_N),
      contender('minimal mailbox ask', (n) => c.miniAskSeq(n), ASK_N),
      contender('xstate machine send+reply', (n) => c.xstateMachineAskSeq(n), ASK_N),
      contender('xstate fromTransition send+reply', (n) => c.xstateTransitionAskSeq(n), ASK_N),
    ],
  },
  {
    id: 'ask-window',
    series: [{ case: `ask, ${human(WINDOW)} outstanding (${human(ASK_N)} round trips)`, unit: 'asks/s' }],
    contenders: [
      contender('Troupe ask', (n) => c.troupeAskWindow(system, n, WINDOW), ASK_N),
      contender('minimal mailbox ask', (n) => c.miniAskWindow(n, WINDOW), ASK_N),
      contender('xstate machine send+reply', (n) => c.xstateMachineAskWindow(n, WINDOW), ASK_N),
      contender('xstate fromTransition send+reply', (n) => c.xstateTransitionAskWindow(n, WINDOW), ASK_N),
    ],
  },
  {
    id: 'spawn',
    series: [
      { case: `spawn (${human(SPAWN_N)} actors)`, unit: 'spawns/s' },
      { case: `heap per idle actor (${human(SPAWN_N)} actors)`, unit: 'B/actor' },
    ],
    contenders: [
      contender('Troupe system.spawn', (n) => c.troupeSpawn(system, n), SPAWN_N),
      contender('minimal mailbox new', (n) => c.miniSpawn(n), SPAWN_N),
      contender('xstate createActor(machine).start', (n) => c.xstateMachineSpawn(n), SPAWN_N),
      contender('xstate createActor(fromTransition).start', (n) => c.xstateTransitionSpawn(n), SPAWN_N),
    ],
  },
];

function contender(name: string, run: (n: number) => Promise<c.RunResult>, n: number): Contender {
  return { name, run: () => run(n), warmup: () => run(Math.max(1_000, Math.floor(n / 5))) };
}

function selected(caseId: string, name: string): boolean {
  if (ONLY.length === 0) return true;
  const key = `${caseId}/${name}`.toLowerCase();
  return ONLY.some((o) => key.startsWith(o.toLowerCase()));
}

/** `src/` (run through tsx) or `dist/` (tsc output): decided by `--conditions=source`. */
const codeUnderTest = import.meta.resolve('@troupe/core').includes('/src/')
  ? '`src/` through tsx (esbuild `keepNames` wraps each named closure in `__name()`, which inflates spawn cost and heap per actor)'
  : '`dist/` (tsc output, as published)';
const gc = (globalThis as { gc?: () => void }).gc;
const m = machine();
const started = performance.now();
const results = new Map<string, Series>();
const plan = cases.flatMap((k) => k.contenders.filter((x) => selected(k.id, x.name)).map((x) => ({ k, x })));

/** Per fork, the values each series got there (for the spread of the ratios from process to process). */
const forkValues: Map<string, number[]>[] = [];
if (FORKS > 1 && !CHILD) {
  process.stdout.write(`core bench: ${plan.length} contenders × ${RUNS} runs × ${FORKS} processes\n`);
  const script = fileURLToPath(import.meta.url);
  for (let f = 0; f < FORKS; f++) {
    const child = spawnSync(process.execPath, [...process.execArgv, script], {
      env: { ...process.env, BENCH_FORK_CHILD: '1' },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 64 * 1024 * 1024,
    });
    const line = child.stdout.split('\n').find((l) => l.startsWith(RESULT_MARK));
    if (child.status !== 0 || line === undefined)
      throw new Error(`core bench: process ${f + 1} failed (${child.status})`);
    const got = JSON.parse(line.slice(RESULT_MARK.length)) as Series[];
    const mine = new Map<string, number[]>();
    for (const g of got) {
      const key = `${g.case}\0${g.contender}`;
      let series = results.get(key);
      if (series === undefined) results.set(key, (series = { ...g, values: [] }));
      series.values.push(...g.values);
      if (g.invalid !== undefined) series.invalid = g.invalid;
      mine.set(key, g.values);
    }
    forkValues.push(mine);
    process.stdout.write(`  process ${f + 1}/${FORKS} done (${((performance.now() - started) / 1e3).toFixed(1)} s)\n`);
  }
} else {
  process.stdout.write(`core bench: ${plan.length} contenders × ${RUNS} runs\n`);
  for (const { x } of plan) await x.warmup();
  for (let round = 0; round < RUNS; round++) {
    for (const { k, x } of plan) {
      gc?.();
      await c.tick();
      const r = await x.run();
      k.series.forEach((s, i) => {
        const key = `${s.case}\0${x.name}`;
        let series = results.get(key);
        if (series === undefined)
          results.set(key, (series = { case: s.case, contender: x.name, unit: s.unit, values: [] }));
        series.values.push(r.values[i] as number);
        if (r.problem !== undefined) series.invalid = r.problem;
      });
    }
    process.stdout.write(`  round ${round + 1}/${RUNS} done (${((performance.now() - started) / 1e3).toFixed(1)} s)\n`);
  }
}
await system.shutdown();
if (CHILD) {
  process.stdout.write(`${RESULT_MARK}${JSON.stringify([...results.values()])}\n`);
  process.exit(0);
}

const series = [...results.values()];
const median = (caseId: string, name: string, index = 0): number | undefined => {
  const k = cases.find((x) => x.id === caseId);
  const s = k?.series[index];
  const found = s && results.get(`${s.case}\0${name}`);
  return found ? summarize(found.values).median : undefined;
};
const ratio = (a: number | undefined, b: number | undefined) =>
  a !== undefined && b !== undefined ? a / b : undefined;
/** The ratio of two contenders' medians in each process (empty when the suite ran in one). */
const perFork = (caseId: string, a: string, b: string): string => {
  const k = cases.find((x) => x.id === caseId);
  const s = k?.series[0];
  if (s === undefined || forkValues.length === 0) return '';
  const rs = forkValues.map((f) => {
    const va = f.get(`${s.case}\0${a}`);
    const vb = f.get(`${s.case}\0${b}`);
    return va && vb ? (summarize(va).median / summarize(vb).median).toFixed(2) : '?';
  });
  return ` (per process: ${rs.join(', ')})`;
};
const targets: Target[] = [];
const addRatio = (label: string, r: number | undefined, min: number | undefined) => {
  if (r !== undefined)
    targets.push({ label, measured: `${r.toFixed(2)}×`, reached: min === undefined ? min : r >= min });
};
addRatio(
  `tell ≥ 0.9× the minimal mailbox (issue 9; issue 2 asked 0.8×)${perFork('tell', 'Troupe', 'minimal mailbox')}`,
  ratio(median('tell', 'Troupe'), median('tell', 'minimal mailbox')),
  0.9,
);
addRatio(
  `sequential ask ≥ 0.8× the minimal mailbox (issue 9)${perFork('ask-seq', 'Troupe ask', 'minimal mailbox ask')}`,
  ratio(median('ask-seq', 'Troupe ask'), median('ask-seq', 'minimal mailbox ask')),
  0.8,
);
addRatio(
  'tell ≥ 6× the xstate machine actor',
  ratio(median('tell', 'Troupe'), median('tell', 'xstate createActor(machine).send')),
  6,
);
addRatio(
  'sequential ask ≥ 10× xstate send+reply',
  ratio(median('ask-seq', 'Troupe ask'), median('ask-seq', 'xstate machine send+reply')),
  10,
);
const askSeq = median('ask-seq', 'Troupe ask');
if (askSeq !== undefined) {
  // The issue measured xstate's round trip at 0.31 M/s on this machine; 10× the one measured here can
  // exceed even the minimal mailbox's ask, so the absolute form of the target is reported too.
  targets.push({
    label: "sequential ask ≥ 3.1 M/s (10× the issue's 0.31 M/s xstate reference)",
    measured: `${human(askSeq)}/s`,
    reached: askSeq >= 3_100_000,
  });
}
addRatio(
  '(not a target) 1000-outstanding ask vs xstate send+reply',
  ratio(median('ask-window', 'Troupe ask'), median('ask-window', 'xstate machine send+reply')),
  undefined,
);
const heap = median('spawn', 'Troupe system.spawn', 1);
if (heap !== undefined)
  targets.push({ label: '≤ 1 KB heap per idle actor', measured: `${heap.toFixed(0)} B`, reached: heap <= 1024 });
const spawns = median('spawn', 'Troupe system.spawn', 0);
if (spawns !== undefined)
  targets.push({ label: '≥ 300k spawns/s', measured: `${human(spawns)}/s`, reached: spawns >= 300_000 });

const elapsed = (performance.now() - started) / 1e3;
const lines = [
  '## Core runtime (`@troupe/core`)',
  '',
  `Run with \`npm run bench\` (\`packages/core/bench/core.bench.ts\`). ${m.date}.`,
  '',
  `- Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB.toFixed(1)} GiB memory; 1-min load average ${m.load.toFixed(2)} at the start${m.load > m.cores * 0.5 ? ' (busy: other work was running, so rates are low and noisy; trust the ratios more)' : ''}`,
  `- Node ${m.node} (V8 ${m.v8}), \`--expose-gc\`; ${forkValues.length > 0 ? `${forkValues.length} fresh processes one after another, each ` : ''}${RUNS} runs per contender, round-robin, after one shorter warm-up run${forkValues.length > 0 ? '; medians over all the runs' : ''}; suite took ${elapsed.toFixed(0)} s`,
  `- Code under test: ${codeUnderTest}`,
  '',
  ...seriesTable(series),
  '',
  '### Targets (issues 2 and 9)',
  '',
  ...targetTable(targets),
  '',
  '### How each case is measured',
  '',
  '- **tell**: one sender outside the actors sends a fresh `{ type: "inc" }` per message in a tight loop; the',
  '  clock stops when the actor has handled the last one. xstate and eventemitter3 handle each event inside',
  '  `send`/`emit`, so their loop is the whole run. The xstate machine counts with `assign`.',
  '- **ask, sequential**: `await ref.ask({ type: "get" })` in a loop (default 5 s timeout). xstate has no',
  '  ask for outside callers, so its round trip is `await new Promise((reply) => actor.send({ type: "get", reply }))`',
  '  with the machine action calling `reply`; the minimal mailbox likewise uses one promise per request.',
  `- **ask, ${WINDOW} outstanding**: ${WINDOW} callers each ask sequentially, so about ${WINDOW} asks are always in flight.`,
  `- **spawn / heap**: ${human(SPAWN_N)} actors spawned and kept; the rate is timed until every one has run \`init\``,
  '  (Troupe starts actors in a microtask); heap is `process.memoryUsage().heapUsed` after `global.gc()`',
  '  before and after, divided by the count. An idle Troupe actor includes its cell, ref, context, mailbox,',
  "  nanoid id, path and its entry in the parent's children map.",
  '- **minimal mailbox** (`bench/MinimalMailbox.ts`): two arrays drained in one microtask; no fairness, supervision,',
  '  timeouts or dead letters. It is the floor, not a competitor.',
];
lines.push(
  '',
  '### What costs the rest (profiled with `--cpu-prof`, changes tried on a scratch copy)',
  '',
  '- **Heap and spawn under tsx**: esbuild `keepNames` wraps every named closure in `__name()`, which costs',
  '  ~300 B per closure; an idle actor has six (`runBound` and five `ctx.timers` closures). The same code built',
  '  by tsc measured 1734 B/actor instead of 3269 B. Timers as a prototype class, a lazily bound `run`, lazy',
  '  `children` map and `id`, and shared default mailbox options brought both to 685 B/actor, spawns ×2–4.',
  "- **Sequential ask**: Node's `queueMicrotask` allocates an AsyncResource and a bound function per call;",
  '  `Promise.resolve().then(run)` does not (≈ +40%). `TimeoutQueue.settledOne` set `items.length = 0` each time',
  '  the queue emptied, a runtime call per ask (≈ +35% more). Together ≈ 1.9 → 3.3–3.8 M asks/s.',
);
if (series.some((s) => s.invalid !== undefined)) {
  lines.push('', '⚠ marks a series whose runs did not complete as expected; its numbers are void.');
}

process.stdout.write(`\n${seriesTable(series).join('\n')}\n\n${targetTable(targets).join('\n')}\n`);
process.stdout.write(`\n${m.cpu} ×${m.cores}, Node ${m.node}; ${elapsed.toFixed(0)} s\n`);
if (ONLY.length === 0) {
  const file = fileURLToPath(new URL('../../../BENCHMARKS.md', import.meta.url));
  writeSection(file, 'core', lines.join('\n'));
  process.stdout.write(`wrote the core section of ${file}\n`);
} else {
  process.stdout.write('BENCH_ONLY is set: BENCHMARKS.md left unchanged\n');
}

function positiveInt(raw: string | undefined, fallback: number): number {
  const n = raw === undefined ? fallback : Number(raw);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}
