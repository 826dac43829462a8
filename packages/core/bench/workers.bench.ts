/**
 * The worker-thread suite: Troupe worker actors side by side with piscina,
 * tinypool and bare `worker_threads` + `postMessage`, all on 2 threads.
 *
 *   npm run bench:workers                       # the whole suite; rewrites the workers section of BENCHMARKS.md
 *   BENCH_ONLY=tell/troupe npm run bench:workers # one case/contender (prefix match, comma-separated); writes nothing
 *   BENCH_RUNS=3                                # runs per contender (default 5)
 *
 * Troupe must run from its sources (`--conditions=source --import tsx`): the
 * worker actors live in `threads/actors.ts`, which a host thread can load only
 * through tsx. Threads and pools start once, before any timing, and are reused
 * by every run. Contenders take turns run by run (round-robin), as in the core
 * suite. This is a benchmark, not a test: it reports, it never fails.
 */
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ActorSystem, silentLogger, workerActor } from '@troupe/core';
import { Piscina } from 'piscina';
import { Tinypool } from 'tinypool';
import { Op } from '../src/internal/wire.js';
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
import type { CounterMsg, HashMsg } from './threads/actors.js';
import * as w from './workerContenders.js';

const THREADS = 2;
const WINDOW = 1_000;
const POOL_N = 20_000;
const RAW_N = 200_000;
const BATCH = 1_000;
const BATCH_N = 2_000_000;
const TELL_N = 1_000_000;
const ASK_SEQ_N = 20_000;
const ASK_WINDOW_N = 200_000;
const PING_N = 10_000;
const HASH_TASKS = 600;
const HASH_BLOCKS = 256;
const HASH_INFLIGHT = 4;
const RUNS = positiveInt(process.env.BENCH_RUNS, 5);
const ONLY = (process.env.BENCH_ONLY ?? '')
  .split(',')
  .map((s) => s.trim())
  .filter((s) => s.length > 0);

if (!import.meta.resolve('@troupe/core').includes('/src/')) {
  process.stderr.write(
    'workers bench: run it from the sources (node --conditions=source --import tsx ...), as `npm run bench:workers` does;\n' +
      'its worker actors are TypeScript and a host thread loads them only through tsx.\n',
  );
  process.exit(1);
}

interface Contender {
  name: string;
  /** Overrides the unit of the case's first series (the `x + 1` case mixes tasks, messages and asks). */
  unit?: string;
  run: () => Promise<w.RunResult>;
  /** A shorter untimed run first, so every contender is measured with optimised code. */
  warmup: () => Promise<w.RunResult>;
}

interface Case {
  id: string;
  /** One series per number a run yields. */
  series: { case: string; unit: string }[];
  contenders: Contender[];
}

// ------------------------------------------------------------------ threads, started once

const here = (path: string) => new URL(path, import.meta.url);
const system = await ActorSystem.start({
  name: 'bench-workers',
  signals: false,
  logger: silentLogger,
  workers: { size: THREADS },
});
const actors = here('./threads/actors.ts');
const CounterSpec = workerActor<CounterMsg>(actors, 'BenchCounter');
const HasherSpec = workerActor<HashMsg>(actors, 'BenchHasher');
const hosts = Array.from({ length: THREADS }, (_, host) => host);
const counters = hosts.map((host) => system.spawnWorker(CounterSpec, { name: `counter-${host}`, host }));
const hashers = hosts.map((host) => system.spawnWorker(HasherSpec, { name: `hasher-${host}`, host }));
const counter = counters[0] as (typeof counters)[number];
// The same actor with a mailbox as large as the burst: its flow-control window is the whole burst.
const wideCounter = system.spawnWorker(CounterSpec, {
  name: 'counter-wide',
  host: 0,
  mailbox: { capacity: 2 * TELL_N },
});

const piscina = new Piscina({
  filename: here('./threads/poolTask.mjs').href,
  minThreads: THREADS,
  maxThreads: THREADS,
});
const tinypool = new Tinypool({
  filename: here('./threads/poolTask.mjs').href,
  minThreads: THREADS,
  maxThreads: THREADS,
});
const echoes = hosts.map(() => new Worker(here('./threads/rawEcho.mjs')));
// Its own worker: a RawRpc listens to every reply of its worker.
const echoRpc = new w.RawRpc(new Worker(here('./threads/rawEcho.mjs')));
// The floor of a round trip that clones what a Troupe ask clones (an object frame out, a frame array back).
const frameOps = { ask: Op.Ask, reply: Op.Reply, credit: Op.Credit };
const framesRpc = new w.RawRpc(new Worker(here('./threads/rawFrames.mjs'), { workerData: frameOps }));
const rawHashers = hosts.map(() => new w.RawRpc(new Worker(here('./threads/rawHash.mjs'))));

// Every thread up and every module loaded before the clock starts.
await Promise.all([
  ...counters.map((r) => r.ask({ type: 'get' }, { timeoutMs: 60_000 })),
  wideCounter.ask({ type: 'get' }, { timeoutMs: 60_000 }),
  ...hashers.map((r) => r.ask({ type: 'hash', seed: 0, blocks: 1 }, { timeoutMs: 60_000 })),
  ...hosts.map((x) => piscina.run(x)),
  ...hosts.map((x) => tinypool.run(x)),
  echoRpc.call(0),
  framesRpc.call([Op.Ask, 1, { type: 'add', x: 0 }, 0]),
  ...rawHashers.map((r) => r.call({ seed: 0, blocks: 1 })),
]);

const windowed = `\`x + 1\` on ${THREADS} threads, ${human(WINDOW)} outstanding`;
const hashCase = (threads: number) =>
  `SHA-256 of 1 KiB, ${threads} thread${threads > 1 ? 's' : ''} (${HASH_TASKS} tasks × ${HASH_BLOCKS} KiB, ${HASH_INFLIGHT} in flight per thread)`;

const cases: Case[] = [
  {
    id: 'x+1',
    series: [{ case: windowed, unit: 'tasks/s' }],
    contenders: [
      contender('piscina run', (n) => w.piscinaRun(piscina, n, WINDOW), POOL_N, 'tasks/s'),
      contender('tinypool run', (n) => w.tinypoolRun(tinypool, n, WINDOW), POOL_N, 'tasks/s'),
      contender('raw postMessage, 1 per post', (n) => w.rawPerPost(echoes, n, WINDOW), RAW_N, 'msg/s'),
      contender('Troupe worker actors ask', (n) => w.troupeAskWindow(counters, n, WINDOW), ASK_WINDOW_N, 'asks/s'),
    ],
  },
  {
    id: 'batched',
    series: [{ case: `\`x + 1\` on ${THREADS} threads, ${human(BATCH)} per post`, unit: 'msg/s' }],
    contenders: [contender('raw postMessage', (n) => w.rawBatched(echoes, n, BATCH, 2), BATCH_N)],
  },
  {
    id: 'tell',
    series: [{ case: `tell main → worker (${human(TELL_N)} msgs, until all handled)`, unit: 'msg/s' }],
    contenders: [
      contender('Troupe, 1 worker actor', (n) => w.troupeTell([counter], n), TELL_N),
      contender(
        `Troupe, 1 worker actor, mailbox capacity ${human(2 * TELL_N)} (window = the burst)`,
        (n) => w.troupeTell([wideCounter], n),
        TELL_N,
      ),
      contender(`Troupe, ${THREADS} worker actors (1 per thread)`, (n) => w.troupeTell(counters, n), TELL_N),
    ],
  },
  {
    id: 'ask-seq',
    series: [{ case: 'ask, 1 outstanding (1 worker actor)', unit: 'asks/s' }],
    contenders: [contender('Troupe worker actor ask', (n) => w.troupeAskSeq(counter, n), ASK_SEQ_N)],
  },
  {
    id: 'ping-pong',
    series: [
      { case: `ping-pong median (${human(PING_N)} round trips)`, unit: 'µs' },
      { case: `ping-pong p99 (${human(PING_N)} round trips)`, unit: 'µs' },
    ],
    contenders: [
      contender('raw postMessage', (n) => w.rawPingPong(echoRpc, n), PING_N),
      contender("raw postMessage of Troupe's frames", (n) => w.rawFramesPingPong(framesRpc, Op.Ask, n), PING_N),
      contender('Troupe worker actor ask', (n) => w.troupePingPong(counter, n), PING_N),
    ],
  },
  {
    id: 'hash-1',
    series: [
      { case: hashCase(1), unit: 'hashes/s' },
      { case: 'SHA-256, 1 thread: cores busy (process CPU time / wall time)', unit: 'cores' },
    ],
    contenders: [
      contender(
        'raw worker_threads',
        (n) => w.rawHash(rawHashers.slice(0, 1), n, HASH_BLOCKS, HASH_INFLIGHT),
        HASH_TASKS,
      ),
      contender(
        'Troupe worker actor',
        (n) => w.troupeHash(hashers.slice(0, 1), n, HASH_BLOCKS, HASH_INFLIGHT),
        HASH_TASKS,
      ),
    ],
  },
  {
    id: 'hash-2',
    series: [
      { case: hashCase(THREADS), unit: 'hashes/s' },
      { case: `SHA-256, ${THREADS} threads: cores busy (process CPU time / wall time)`, unit: 'cores' },
    ],
    contenders: [
      contender('raw worker_threads', (n) => w.rawHash(rawHashers, n, HASH_BLOCKS, HASH_INFLIGHT), HASH_TASKS),
      contender('Troupe worker actors', (n) => w.troupeHash(hashers, n, HASH_BLOCKS, HASH_INFLIGHT), HASH_TASKS),
    ],
  },
];

function contender(name: string, run: (n: number) => Promise<w.RunResult>, n: number, unit?: string): Contender {
  return {
    name,
    ...(unit !== undefined ? { unit } : {}),
    run: () => run(n),
    warmup: () => run(Math.max(100, Math.floor(n / 5))),
  };
}

function selected(caseId: string, name: string): boolean {
  if (ONLY.length === 0) return true;
  const key = `${caseId}/${name}`.toLowerCase();
  return ONLY.some((o) => key.startsWith(o.toLowerCase()));
}

// ------------------------------------------------------------------ the runs

const gc = (globalThis as { gc?: () => void }).gc;
const m = machine();
const started = performance.now();
const results = new Map<string, Series>();
const plan = cases.flatMap((k) => k.contenders.filter((x) => selected(k.id, x.name)).map((x) => ({ k, x })));

process.stdout.write(`workers bench: ${plan.length} contenders × ${RUNS} runs (load ${m.load.toFixed(2)})\n`);
for (const { x } of plan) await x.warmup();
for (let round = 0; round < RUNS; round++) {
  for (const { k, x } of plan) {
    gc?.();
    await w.tick();
    const r = await x.run();
    k.series.forEach((s, i) => {
      const key = `${s.case}\0${x.name}`;
      let series = results.get(key);
      if (series === undefined) {
        const unit = i === 0 && x.unit !== undefined ? x.unit : s.unit;
        results.set(key, (series = { case: s.case, contender: x.name, unit, values: [] }));
      }
      series.values.push(r.values[i] as number);
      if (r.problem !== undefined) series.invalid = r.problem;
    });
  }
  process.stdout.write(`  round ${round + 1}/${RUNS} done (${((performance.now() - started) / 1e3).toFixed(1)} s)\n`);
}
const loadAtEnd = loadavg()[0] ?? 0;
await Promise.all([
  system.shutdown(),
  piscina.destroy(),
  tinypool.destroy(),
  ...echoes.map((x) => x.terminate()),
  echoRpc.worker.terminate(),
  framesRpc.worker.terminate(),
  ...rawHashers.map((r) => r.worker.terminate()),
]);

// ------------------------------------------------------------------ targets and report

const series = [...results.values()];
const median = (caseId: string, name: string, index = 0): number | undefined => {
  const k = cases.find((x) => x.id === caseId);
  const s = k?.series[index];
  const found = s && results.get(`${s.case}\0${name}`);
  return found ? summarize(found.values).median : undefined;
};
const ratio = (a: number | undefined, b: number | undefined) =>
  a !== undefined && b !== undefined ? a / b : undefined;
const targets: Target[] = [];
const addRatio = (label: string, r: number | undefined, reached: (r: number) => boolean | undefined) => {
  if (r !== undefined) targets.push({ label, measured: `${r.toFixed(2)}×`, reached: reached(r) });
};
addRatio(
  'worker-actor asks, 1000 outstanding ≥ 15× piscina (issue 9; issue 4 asked 10×)',
  ratio(median('x+1', 'Troupe worker actors ask'), median('x+1', 'piscina run')),
  (r) => r >= 15,
);
const tell = median('tell', 'Troupe, 1 worker actor');
if (tell !== undefined) {
  targets.push({
    label: 'one-way tells main → worker ≥ 1.5 M msg/s (1 worker actor)',
    measured: `${human(tell)}/s (${(tell / 1.5e6).toFixed(2)}× the target)`,
    reached: tell >= 1.5e6,
  });
}
const tellWide = median('tell', `Troupe, 1 worker actor, mailbox capacity ${human(2 * TELL_N)} (window = the burst)`);
if (tellWide !== undefined) {
  targets.push({
    label: '(not a target) one-way tells, 1 worker actor whose window holds the whole burst',
    measured: `${human(tellWide)}/s (${(tellWide / 1.5e6).toFixed(2)}× 1.5 M)`,
    reached: undefined,
  });
}
const tell2 = median('tell', `Troupe, ${THREADS} worker actors (1 per thread)`);
if (tell2 !== undefined) {
  targets.push({
    label: `(not a target) one-way tells to ${THREADS} worker actors`,
    measured: `${human(tell2)}/s (${(tell2 / 1.5e6).toFixed(2)}× 1.5 M)`,
    reached: undefined,
  });
}
addRatio(
  'ping-pong median ≤ 1.2× raw postMessage (issue 9; issue 4 asked 1.3×)',
  ratio(median('ping-pong', 'Troupe worker actor ask'), median('ping-pong', 'raw postMessage')),
  (r) => r <= 1.2,
);
addRatio(
  '(not a target) ping-pong p99 vs raw postMessage',
  ratio(median('ping-pong', 'Troupe worker actor ask', 1), median('ping-pong', 'raw postMessage', 1)),
  () => undefined,
);
addRatio(
  "(not a target) ping-pong median: Troupe's frames posted raw vs raw postMessage (the floor of any object frame)",
  ratio(median('ping-pong', "raw postMessage of Troupe's frames"), median('ping-pong', 'raw postMessage')),
  () => undefined,
);
addRatio(
  "(not a target) ping-pong median: Troupe vs its own frames posted raw (Troupe's code on both threads)",
  ratio(median('ping-pong', 'Troupe worker actor ask'), median('ping-pong', "raw postMessage of Troupe's frames")),
  () => undefined,
);
addRatio(
  'CPU-bound scaling 1 → 2 threads ≥ 1.7× (Troupe worker actors)',
  ratio(median('hash-2', 'Troupe worker actors'), median('hash-1', 'Troupe worker actor')),
  (r) => r >= 1.7,
);
addRatio(
  '(reference) CPU-bound scaling 1 → 2 threads, raw worker_threads',
  ratio(median('hash-2', 'raw worker_threads'), median('hash-1', 'raw worker_threads')),
  () => undefined,
);
addRatio(
  `(not a target) CPU-bound, ${THREADS} threads: Troupe worker actors vs raw worker_threads`,
  ratio(median('hash-2', 'Troupe worker actors'), median('hash-2', 'raw worker_threads')),
  () => undefined,
);

const elapsed = (performance.now() - started) / 1e3;
const busy = Math.max(m.load, loadAtEnd) > m.cores * 0.5;
const lines = [
  '## Worker threads (`@troupe/core` worker actors vs piscina, tinypool, raw `worker_threads`)',
  '',
  `Run with \`npm run bench\` or \`npm run bench:workers\` (\`packages/core/bench/workers.bench.ts\`). ${m.date}.`,
  '',
  `- Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB.toFixed(1)} GiB memory; 1-min load average ${m.load.toFixed(2)} at the start, ${loadAtEnd.toFixed(2)} at the end${busy ? ' (busy: other work was running, so rates are low and noisy; trust the ratios more)' : ''}`,
  `- Node ${m.node} (V8 ${m.v8}); ${RUNS} runs per contender, round-robin, after one shorter warm-up run; suite took ${elapsed.toFixed(0)} s`,
  `- Every contender uses ${THREADS} threads, started before any timing and reused by every run. Troupe runs from \`src/\` through tsx,`,
  '  with flow control on (it always is: credits per worker actor, a window of 8192 messages, and the ledger of tells not yet taken).',
  '',
  ...seriesTable(series),
  '',
  '### Targets (issues 4 and 9)',
  '',
  ...targetTable(targets),
  '',
  '### How each case is measured',
  '',
  `- **\`x + 1\`, ${human(WINDOW)} outstanding**: ${human(WINDOW)} callers each await one task after another, so about`,
  `  ${human(WINDOW)} are always in flight. piscina and tinypool run \`threads/poolTask.mjs\` with`,
  `  \`minThreads = maxThreads = ${THREADS}\` and default options. The raw contender posts one number per \`postMessage\``,
  '  to two bare workers (`threads/rawEcho.mjs`), which answer each with one post; a reply triggers the next post.',
  `  Troupe: callers alternate between two \`BenchCounter\` worker actors (\`threads/actors.ts\`), one per host thread,`,
  "  each answering `{ type: 'add', x }` with `x + 1`.",
  `- **${human(BATCH)} per post**: fresh arrays of ${human(BATCH)} numbers, 2 posts in flight per worker; the worker`,
  '  adds 1 to each in place and posts the array back. The floor for any batching transport.',
  "- **tell**: a fresh `{ type: 'inc' }` per tell in a tight loop on the main thread (alternating between the actors",
  "  in the 2-actor row); the clock stops when each actor has answered a `{ type: 'get' }` sent after the last",
  '  tell, which per-sender FIFO order puts behind all of them, and the counts are checked. Flow control lets a',
  '  window (8192 for these unbounded mailboxes) into the thread while the loop runs; the rest waits in the',
  "  proxy's mailbox until the loop ends, so producer and thread overlap only for a window. The wide row gives the",
  '  actor a mailbox (and so a window) as large as the burst, which overlaps them fully.',
  "- **ask, 1 outstanding**: `await ref.ask({ type: 'add', x })` in a loop.",
  '- **ping-pong**: the same sequential round trip, each one timed with `performance.now()`; the raw contender',
  '  posts a number to one bare worker and awaits its reply through a promise, as an ask does. A second raw',
  '  contender (`threads/rawFrames.mjs`) posts the frame a Troupe ask posts (`[Ask, handle, { type, x }, id]`) and',
  '  answers with the frames a host posts back (`[Reply, id, value, Credit, handle, 1, 1, 0]`), running none of',
  "  Troupe's code: the floor for any transport that posts object frames, and the reference for Troupe's own cost.",
  `- **SHA-256**: ${HASH_TASKS} tasks, each hashing ${HASH_BLOCKS} distinct 1 KiB blocks (\`threads/hashBlocks.mjs\`, the same`,
  `  code in both contenders), ${HASH_INFLIGHT} in flight per thread. 1 thread: one actor (one host) or one worker;`,
  `  ${THREADS} threads: one actor per host or ${THREADS} workers. Scaling is the ratio of the medians. On a ${m.cores}-core`,
  '  machine the main thread, both workers and whatever else runs share the cores, so scaling is bounded by load.',
];
lines.push(
  '',
  '### What costs the rest (profiled with `--cpu-prof` on the main and worker threads; changes tried on a scratch copy)',
  '',
  'Measured while writing this suite, on this 2-core VM shared with other work. Every case depends on how busy the',
  'machine is: at load ≈ 4–7, 1-actor tells ran at 1.1–1.3 M/s (target missed) and both 2-thread hashing runs were',
  'slower than 1 thread; at load ≈ 1–2 tells and scaling met theirs, and ping-pong met its target in one run',
  '(1.18×) and missed it in another (1.54×; see below).',
  '',
  '- **Tells: the worker deserialises its whole backlog at once.** Node hands JS every batch queued on a port in',
  '  one callback, and the host actor drains 1000 messages per event-loop turn (`mailbox.throughput`), so during a',
  "  1 M-tell burst the worker actor's mailbox peaked at 993,001 messages: the backlog became live objects, promoted",
  '  to old space (worker thread: 27% of its time in GC, `Mailbox.grow` 4%; a raw worker handling the same frames',
  '  spends 4% in GC). Pausing the port (now `Link` + `worker/PortTransport.ts`) while a running, synchronously draining actor is',
  '  more than 16 k messages behind (`port.off` / `port.on`, resumed below 4 k; FIFO unchanged) left the backlog',
  '  serialised in the port: worker GC 6.8%, ≈ 1.0–1.3 M → 1.5–2.0 M tells/s, process CPU 0.96–0.99 → 0.68–0.80 µs',
  '  per tell (alternating A/B runs at load ≈ 3–5; worker tests pass).',
  '- **Tells and asks: `codec.walk` builds an error path string per field of every message** (parent path + key),',
  '  used only when a message is refused. Building the path on the way back up from a throw (same messages) took',
  '  `encode` from 74–100 to 55–70 ns for `{ type }`, 98–146 → 62–83 ns for two fields, 603–893 → 353–389 ns for a',
  '  nested 4-field message. With the port pause: 1.6–3.2 M tells/s, 0.53–0.61 µs CPU per tell.',
  '- What is left of a tell is structured clone: `postMessage` is ≈ 45% of the main thread, deserialisation',
  '  (`(program)`) ≈ 60% of the worker. A raw loop posting the same `[op, handle, { type }]` frames, 4096 fields per',
  '  post, reaches ≈ 2.2–2.5 M msg/s.',
  '- **Ping-pong is dominated by thread wake-ups, whose cost depends on the regime** (re-measured for issue 9, 2026-12-02).',
  '  When the other core is busy (the threads never sleep), a raw round trip takes ≈ 8–9 µs, and posting the frames',
  '  Troupe posts (an ask frame carrying `{ type, x }`, then a reply and a credit frame back) instead of a bare number',
  '  already costs 1.2–1.3× that (`[op, handle, { type, x }, id]` against `7`: structured clone of an object), so the',
  '  1.2× target is out of reach in this regime; Troupe is 1.4–1.5× (12.5–13.6 µs). When the VM is idle, a raw round',
  '  trip takes ≈ 55–95 µs (the wake-ups themselves) and Troupe is within about 1.0–1.2× of it. Fixed for issue 9: an',
  '  emptied ask-timeout queue scheduled a `setImmediate` per ask (to unref its timer at the end of the turn), an extra',
  "  event-loop pass per round trip; one unref'd check timer per 20 ms does it now (Troupe over the same frames raw:",
  '  1.26–1.45× before, 1.13–1.21× after, alternating 500-round-trip blocks at load 4–8).',
  '- **Asks, 1000 outstanding**: the main thread is the bottleneck (≈ 20–25% GC, ≈ 20% `postMessage`); of what is',
  "  sampled as allocated there, about half is each ask's promise and record and a third the callers' own async",
  '  frames. Issue 9 removed a wrapper object per ask, the per-ask executor closure and the Map of pending replies (a',
  '  ring by reply id now). The ratio to piscina swings with the regime more than with the code: runs of the same',
  '  code gave 230–730 k asks/s here.',
  '- **CPU-bound scaling**: Troupe matches raw `worker_threads` at 1 and 2 threads; "cores busy" shows how many',
  '  cores a run actually got. At load ≈ 1 both scale (raw alone: 1.62–1.83×); at load ≈ 4–6 neither does.',
  '- **`--expose-gc`**: worker threads get only the module-resolution flags of the parent (`sourceExecArgv` in',
  '  `internal/WorkerTransport.ts`; Node refuses per-process flags in a worker), so worker actors start under it; this',
  '  suite still runs without it, as it always has, so its numbers stay comparable.',
);
if (series.some((s) => s.invalid !== undefined)) {
  lines.push('', '⚠ marks a series whose runs did not complete as expected; its numbers are void.');
}

process.stdout.write(`\n${seriesTable(series).join('\n')}\n\n${targetTable(targets).join('\n')}\n`);
process.stdout.write(
  `\n${m.cpu} ×${m.cores}, Node ${m.node}; load ${m.load.toFixed(2)} → ${loadAtEnd.toFixed(2)}; ${elapsed.toFixed(0)} s\n`,
);
if (ONLY.length === 0) {
  const file = fileURLToPath(new URL('../../../BENCHMARKS.md', import.meta.url));
  writeSection(file, 'workers', lines.join('\n'));
  process.stdout.write(`wrote the workers section of ${file}\n`);
} else {
  process.stdout.write('BENCH_ONLY is set: BENCHMARKS.md left unchanged\n');
}

function positiveInt(raw: string | undefined, fallback: number): number {
  const n = raw === undefined ? fallback : Number(raw);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}
