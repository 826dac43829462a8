/**
 * What the inspector costs: the core bench's tell case, run with the inspector
 * off and with it on and its page open in headless Chromium, side by side.
 *
 *   npm run bench:inspector        # rewrites the inspector section of BENCHMARKS.md
 *   BENCH_RUNS=3                   # runs per contender (default 9)
 *
 * Off and on take turns run by run (round-robin), so a drift of the machine
 * spreads over both. The browser is running in both (launched once); only
 * "on" has the inspector serving and the page open, receiving a frame a
 * second and drawing it. A benchmark, not a test: it reports, it never fails.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ActorSystem, defineActor, silentLogger } from '@troupe/core';
import { type Inspector, inspect } from '@troupe/inspector';
import type { Browser, Page } from 'playwright-core';
import * as c from '../../core/bench/contenders.js';
import {
  human,
  machine,
  type Series,
  seriesTable,
  summarize,
  type Target,
  targetTable,
  writeSection,
} from '../../core/bench/report.js';
import { Feed } from '../src/Feed.js';
import { chromiumPath, launch } from '../test/helpers/browser.js';

const TELL_N = 1_000_000;
const SUSTAIN_MS = 3_000;
const BATCH = 10_000;
const BACKGROUND = 200;
const RUNS = positiveInt(process.env.BENCH_RUNS, 9);

try {
  chromiumPath();
} catch (error) {
  process.stdout.write(`inspector bench skipped: ${(error as Error).message}\n`);
  process.exit(0);
}

const system = await ActorSystem.start({ name: 'bench', signals: false, logger: silentLogger });
// A tree for the inspector to walk each second (idle actors, as in a real service).
const Idle = defineActor<{ type: 'noop' }, undefined>({
  name: 'Idle',
  init: () => undefined,
  receive: () => undefined,
});
for (let i = 0; i < BACKGROUND; i++) system.spawn(Idle, { name: `idle-${i}` });
const browser: Browser = await launch();

type Mode = 'off' | 'on';
let inspector: Inspector | undefined;
let page: Page | undefined;
let framesSeen = 0;
let browserCpuS = 0;
let onWallS = 0;

/** CPU seconds used so far by this process's descendants (the browser we launched), from /proc. */
function descendantsCpuSeconds(): number {
  const parent = new Map<number, number>();
  const cpu = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(d), Number(f[1]));
      cpu.set(Number(d), (Number(f[11]) + Number(f[12])) / 100);
    } catch {
      // gone meanwhile
    }
  }
  let total = 0;
  for (const [pid, t] of cpu) {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) {
      if (p === process.pid) {
        total += t;
        break;
      }
    }
  }
  return total;
}

async function setMode(mode: Mode): Promise<void> {
  if (mode === 'on') {
    inspector = await inspect(system, { token: 'bench-token-0123456789' });
    page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
    await page.goto(inspector.url);
    await page.locator('#live[data-live="live"]').waitFor();
    // Steady state, not page load: parsing, first layout and first full draw are over before the run.
    await new Promise((r) => setTimeout(r, 2_500));
    return;
  }
  if (page !== undefined) {
    framesSeen += Number((await page.locator('body').getAttribute('data-frames')) ?? 0);
    await page.close();
  }
  await inspector?.close();
  page = undefined;
  inspector = undefined;
}

/** The tell flood, yielding to the event loop between batches so timers (the inspector's) run as in a service. */
const Counter = defineActor<{ type: 'inc' }, { n: number }>({
  name: 'bench-sustained-counter',
  init: () => ({ n: 0 }),
  receive: (s) => {
    s.n++;
  },
});
async function sustained(ms: number): Promise<c.RunResult> {
  const ref = system.spawn(Counter);
  await c.tick();
  let sent = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    for (let i = 0; i < BATCH; i++) ref.tell({ type: 'inc' });
    sent += BATCH;
    await c.tick();
  }
  while ((system.metrics(ref)?.processed ?? 0) < sent) await c.tick();
  const elapsed = performance.now() - t0;
  await system.stop(ref);
  return { values: [(sent / elapsed) * 1e3, sent] };
}

interface Case {
  case: string;
  run: () => Promise<c.RunResult>;
  warmup: () => Promise<c.RunResult>;
}
const cases: Case[] = [
  {
    case: `tell (1 sender → 1 actor, ${human(TELL_N)} msgs), as in the core bench`,
    run: async () => ({ values: [...(await c.troupeTell(system, TELL_N)).values, TELL_N] }),
    warmup: () => c.troupeTell(system, TELL_N / 5),
  },
  {
    case: `tell, sustained ${SUSTAIN_MS / 1000} s (batches of ${human(BATCH)}, yielding between)`,
    run: () => sustained(SUSTAIN_MS),
    warmup: () => sustained(500),
  },
];

const m = machine();
const started = performance.now();
const results = new Map<string, Series>();
/** on/off ratio of the two runs of one case in one round (adjacent in time, so a drift of the machine cancels). */
const pairs = new Map<string, number[]>();
const gc = (globalThis as { gc?: () => void }).gc;
process.stdout.write(`inspector bench: ${cases.length} cases × 2 modes × ${RUNS} runs\n`);
for (const mode of ['off', 'on'] as const) {
  await setMode(mode);
  for (const k of cases) await k.warmup();
  await setMode('off');
}
for (let round = 0; round < RUNS; round++) {
  for (const k of cases) {
    const roundRates: Record<Mode, number> = { off: 0, on: 0 };
    for (const mode of round % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
      await setMode(mode);
      gc?.();
      await c.tick();
      const cpu0 = descendantsCpuSeconds();
      const own0 = process.cpuUsage();
      const t0 = performance.now();
      const r = await k.run();
      const own = process.cpuUsage(own0);
      // Messages per CPU-second of this process (the inspector's sampling included, the browser not):
      // unlike the wall-clock rate, other work on the machine does not move it.
      const perCpuS = (r.values[1] as number) / ((own.user + own.system) / 1e6);
      if (mode === 'on') {
        browserCpuS += descendantsCpuSeconds() - cpu0;
        onWallS += (performance.now() - t0) / 1000;
      }
      await setMode('off');
      const contender = mode === 'off' ? 'inspector off' : 'inspector on, page open';
      roundRates[mode] = r.values[0] as number;
      for (const [suffix, unit, value] of [
        ['', 'msg/s', r.values[0] as number],
        [' per CPU-second', 'msg/CPU-s', perCpuS],
      ] as const) {
        const key = `${k.case}${suffix}\0${contender}`;
        let series = results.get(key);
        if (series === undefined)
          results.set(key, (series = { case: `${k.case}${suffix}`, contender, unit, values: [] }));
        series.values.push(value);
      }
    }
    let list = pairs.get(k.case);
    if (list === undefined) pairs.set(k.case, (list = []));
    list.push(roundRates.on / roundRates.off);
  }
  process.stdout.write(`  round ${round + 1}/${RUNS} done (${((performance.now() - started) / 1e3).toFixed(1)} s)\n`);
}
await browser.close();

// The inspector's own work per frame (sample the tree, build and serialise the frame), timed directly:
// what it costs this process every interval, independent of other load on the machine.
const perFrameMs = (actors: number): number => {
  const view = system.introspect();
  const feed = new Feed(system, view, () => [], { maxActors: 1000, historyPoints: 300, actions: true });
  const n = 200;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) JSON.stringify(feed.sample());
  view.dispose();
  process.stdout.write(`  a frame with ${actors} actors: ${((performance.now() - t0) / n).toFixed(3)} ms\n`);
  return (performance.now() - t0) / n;
};
const frame200 = perFrameMs(BACKGROUND);
for (let i = BACKGROUND; i < 1000; i++) system.spawn(Idle, { name: `idle-${i}` });
await c.tick();
const frame1000 = perFrameMs(1000);
await system.shutdown();
const loadEnd = machine().load;

const series = [...results.values()];
const targets: Target[] = [];
for (const k of cases.flatMap((x) => [x.case, `${x.case} per CPU-second`])) {
  const off = results.get(`${k}\0inspector off`);
  const on = results.get(`${k}\0inspector on, page open`);
  if (off === undefined || on === undefined) continue;
  const r = summarize(on.values).median / summarize(off.values).median;
  targets.push({
    label: `${k.includes('sustained') ? 'tell, sustained' : 'tell (the core bench run)'}${k.endsWith('per CPU-second') ? ', per CPU-second' : ', wall clock'}: on ≥ 0.9× off`,
    measured: `${r.toFixed(2)}×`,
    reached: r >= 0.9,
  });
}

for (const [k, ratios] of pairs) {
  const { median, min, max } = summarize(ratios);
  targets.push({
    label: `${k.includes('sustained') ? 'tell, sustained' : 'tell (the core bench run)'}, wall clock, median of the ${ratios.length} paired on/off ratios (min–max ${min.toFixed(2)}–${max.toFixed(2)}): ≥ 0.9`,
    measured: `${median.toFixed(2)}×`,
    reached: median >= 0.9,
  });
}
targets.push({
  label: `(not a target) the inspector's work per frame, once a second: ${BACKGROUND} / 1000 actors`,
  measured: `${frame200.toFixed(2)} / ${frame1000.toFixed(2)} ms`,
  reached: undefined,
});

const elapsed = (performance.now() - started) / 1e3;
const codeUnderTest = import.meta.resolve('@troupe/core').includes('/src/') ? '`src/` through tsx' : '`dist/`';
const lines = [
  '## Inspector cost (`@troupe/inspector`)',
  '',
  `Run with \`npm run bench:inspector\` (\`packages/inspector/bench/inspector.bench.ts\`). ${m.date}.`,
  '',
  `- Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB.toFixed(1)} GiB memory; 1-min load average ${m.load.toFixed(2)} at the start, ${loadEnd.toFixed(2)} at the end`,
  `- Node ${m.node} (V8 ${m.v8}), \`--expose-gc\`; ${RUNS} runs per mode, off and on alternating (order flipped every round), after one warm-up of each; suite took ${elapsed.toFixed(0)} s`,
  `- Code under test: ${codeUnderTest}; Chromium ${browser.version()} (headless, the system's), ${BACKGROUND} idle actors in the tree besides the counter`,
  `- "on": \`inspect(system)\` with its defaults (a frame a second) and the page open in Chromium, connected to the feed and drawing each frame (${framesSeen} frames drawn over all "on" runs; the browser used ${onWallS > 0 ? ((browserCpuS / onWallS) * 100).toFixed(1) : '?'} % of a core during them); "off": no inspector, the browser idle`,
  '',
  ...seriesTable(series),
  '',
  '### Target (issue 13)',
  '',
  ...targetTable(targets),
  '',
  `- **Wall clock vs CPU-second**: the wall-clock rate is the issue's number, but on a shared machine other work moves it${m.load > m.cores ? ' (here the load average exceeded the cores: trust the CPU-second rows)' : ''}; the rate per CPU-second of this process counts the inspector's own sampling and serialising and is not moved by other processes (nor by the browser, reported above as its share of a core).`,
  "- **Reading these numbers**: a 1M-tell run lasts about 0.2 s and its min–max spans about 3× on this shared machine, so its on/off ratios cannot resolve 10 % (on even comes out faster); the sustained case (paired ratios within ±20 %) and the inspector's work per frame timed directly are the measurements that do.",
  '- **tell, as in the core bench**: the same `troupeTell` run as `npm run bench` (a tight loop of tells, then',
  '  wait for the last to be handled). The loop holds the event loop, so few frames fall inside a run: this is',
  '  the number the issue names.',
  `- **tell, sustained**: tells in batches of ${human(BATCH)} for ${SUSTAIN_MS / 1000} s with a \`setImmediate\` between batches, as a`,
  '  service under load would run, so the inspector samples, serialises and sends its frames during the run and',
  '  the page draws them on the other core.',
];
process.stdout.write(`\n${seriesTable(series).join('\n')}\n\n${targetTable(targets).join('\n')}\n`);
const file = fileURLToPath(new URL('../../../BENCHMARKS.md', import.meta.url));
writeSection(file, 'inspector', lines.join('\n'));
process.stdout.write(`wrote the inspector section of ${file}\n`);

function positiveInt(raw: string | undefined, fallback: number): number {
  const n = raw === undefined ? fallback : Number(raw);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}
