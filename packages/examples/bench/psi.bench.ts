/**
 * PSI benchmark: Troupe's psi command end to end (CSV in, CSV out) at n x n,
 * the raw X25519 rate of the machine's cores with the chosen primitive (the
 * physical limit: n x n needs 4n scalar multiplications), and psi.js (OpenMined's
 * WASM ECDH-PSI) at a small n, all in one run. Writes the `psi` section of
 * BENCHMARKS.md. A benchmark, not a test: it asserts nothing.
 *
 *   npm run bench:psi                      # builds, then n = 100k (3 runs) and 1M (1 run)
 *   PSI_BENCH_SIZES=100000 npm run bench:psi
 *   PSI_BENCH_SIZES=10000000 PSI_BENCH_RUNS=1 PSI_BENCH_SECTION=psi-10m npm run bench:psi   # 10M x 10M (~15 min)
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { human, machine, summarize, writeSection } from '../../core/bench/report.js';
import { generatePsiData } from '../src/psi/generate.js';

const threads = 2;
const sizes = (process.env.PSI_BENCH_SIZES ?? '100000,1000000').split(',').map(Number);
const runsFor = (n: number) => Number(process.env.PSI_BENCH_RUNS ?? (n <= 200_000 ? 3 : 1));
const mainTs = fileURLToPath(new URL('../src/psi/main.ts', import.meta.url));
const benchmarksMd = fileURLToPath(new URL('../../../BENCHMARKS.md', import.meta.url));
const require = createRequire(import.meta.url);

interface TroupeRun {
  wallS: number;
  rssMb: number;
  intersection: number;
}

/** One psi run as a child process (its own peak RSS), timed from spawn to exit. */
/** Above a few million rows per side the main thread's key index outgrows V8's default heap limit (~4 GB here). */
const heapFlags = (n: number) => (n > 2_000_000 ? ['--max-old-space-size=16384'] : []);

function runPsi(dir: string, n: number): Promise<TroupeRun> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    // The libraries from their build (dist/), as users run them; only the command's own file goes through tsx.
    const args = [
      ...heapFlags(n),
      '--import',
      'tsx',
      mainTs,
      '--left',
      join(dir, 'left.csv'),
      '--right',
      join(dir, 'right.csv'),
    ];
    // --force: each run of the same n writes over the last one's outputs.
    args.push('--key', 'email', '--out', join(dir, 'out'), '--force', '--threads', String(threads), '--json');
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.on('close', (code) => {
      const wallS = (performance.now() - t0) / 1000;
      if (code !== 0) return reject(new Error(`psi exited ${code}`));
      const s = JSON.parse(out.trim().split('\n').pop() as string);
      resolve({ wallS, rssMb: s.maxRssMb, intersection: s.intersection });
    });
  });
}

/** X25519 scalar multiplications per second on `n` threads (sodium-native, as the maskers use). */
async function rawX25519(n: number, perThread = 40_000): Promise<number> {
  const sodiumPath = require.resolve('sodium-native', {
    paths: [fileURLToPath(new URL('../../actors/', import.meta.url))],
  });
  const code = `
    const { parentPort } = require('node:worker_threads');
    const sodium = require(${JSON.stringify(sodiumPath)});
    const key = Buffer.alloc(32, 7), pt = Buffer.alloc(32, 9), out = Buffer.alloc(32);
    parentPort.once('message', (k) => {
      for (let i = 0; i < 2000; i++) sodium.crypto_scalarmult(out, key, pt);
      const t = performance.now();
      for (let i = 0; i < k; i++) { pt[0] = i & 255; sodium.crypto_scalarmult(out, key, pt); }
      parentPort.postMessage(k / (performance.now() - t) * 1000);
    });`;
  const rates = await Promise.all(
    Array.from({ length: n }, () => {
      const w = new Worker(code, { eval: true });
      return new Promise<number>((resolve) => {
        w.once('message', (r: number) => {
          void w.terminate();
          resolve(r);
        });
        w.postMessage(perThread);
      });
    }),
  );
  return rates.reduce((a, b) => a + b, 0);
}

/** psi.js (WASM): server setup over n, client request over n, server response, client intersection. Items/s per side. */
async function psiJs(n: number): Promise<number | undefined> {
  let load: () => Promise<PsiJs>;
  try {
    load = require('@openmined/psi.js');
  } catch {
    return undefined;
  }
  const psi = await load();
  const server = psi.server.createWithNewKey(true);
  const client = psi.client.createWithNewKey(true);
  const serverItems = Array.from({ length: n }, (_, i) => `cust-${i}@example.com`);
  const clientItems = Array.from({ length: n }, (_, i) => `cust-${i + n / 2}@example.com`);
  const t0 = performance.now();
  const setup = server.createSetupMessage(0.000001, n, serverItems, psi.dataStructure.Raw);
  const request = client.createRequest(clientItems);
  const response = server.processRequest(request);
  const intersection = client.getIntersection(setup, response);
  const s = (performance.now() - t0) / 1000;
  if (intersection.length !== n / 2) throw new Error(`psi.js found ${intersection.length}, expected ${n / 2}`);
  server.delete?.();
  client.delete?.();
  return n / s;
}

// Only the parts of psi.js's API used above.
interface PsiJs {
  server: { createWithNewKey(reveal: boolean): PsiServer };
  client: { createWithNewKey(reveal: boolean): PsiClient };
  dataStructure: { Raw: unknown };
}
interface PsiServer {
  createSetupMessage(fpr: number, n: number, items: string[], ds: unknown): unknown;
  processRequest(r: unknown): unknown;
  delete?(): void;
}
interface PsiClient {
  createRequest(items: string[]): unknown;
  getIntersection(setup: unknown, response: unknown): number[];
  delete?(): void;
}

const m = machine();
console.log(`psi bench: ${m.cpu}, ${m.cores} cores, node ${m.node}, load ${m.load.toFixed(2)}`);
const raw = [await rawX25519(threads), await rawX25519(threads), await rawX25519(threads)];
const rawRate = summarize(raw).median;
console.log(`raw X25519, ${threads} threads: ${human(rawRate)} ops/s`);
const psijsN = 10_000;
const psijs = await psiJs(psijsN);
console.log(`psi.js n=${psijsN}: ${psijs === undefined ? 'not installed' : `${human(psijs)} items/s per side`}`);

const results: { n: number; runs: TroupeRun[] }[] = [];
for (const n of sizes) {
  const dir = await mkdtemp(join(tmpdir(), `troupe-psi-bench-${n}-`));
  await mkdir(dir, { recursive: true });
  console.log(`generating ${n} x ${n} rows in ${dir}`);
  await generatePsiData(dir, { rows: n, overlap: 0.5, duplicates: 0, seed: 7 }, false);
  const runs: TroupeRun[] = [];
  for (let r = 0; r < runsFor(n); r++) {
    const run = await runPsi(dir, n);
    console.log(
      `  n=${n}: ${run.wallS.toFixed(2)} s, peak RSS ${run.rssMb.toFixed(0)} MB, intersection ${run.intersection}`,
    );
    runs.push(run);
  }
  await rm(dir, { recursive: true, force: true });
  results.push({ n, runs });
}

const lines: string[] = [];
lines.push(
  process.env.PSI_BENCH_SECTION === 'psi-10m'
    ? '## PSI at 10M × 10M (`PSI_BENCH_SIZES=10000000 PSI_BENCH_SECTION=psi-10m npm run bench:psi`)'
    : '## PSI (`npm run bench:psi`)',
  '',
);
lines.push(
  `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB.toFixed(0)} GiB; Node ${m.node}; ${m.date}; load average at start ${m.load.toFixed(2)}.`,
);
lines.push(
  `Troupe runs the real \`psi\` command (CSV in and out; @troupe/core and @troupe/actors from their build, \`npm run build\`) with ${threads} masking threads, keys 50% shared, unique. Each run is a fresh process: wall time includes start-up, reading, writing and the atomic commit.`,
  '',
);
lines.push(
  `Raw X25519 (sodium-native \`crypto_scalarmult\`), ${threads} threads: **${human(rawRate)} ops/s** (median of 3; ${raw.map(human).join(', ')}). An n × n run needs 4n of them.`,
  '',
);
lines.push(
  '| n × n | runs | wall median (min – max) | items/s (2n / wall) | peak RSS | X25519 efficiency (4n / wall ÷ raw) |',
  '|--:|--:|--:|--:|--:|--:|',
);
for (const { n, runs } of results) {
  const w = summarize(runs.map((r) => r.wallS));
  const rss = Math.max(...runs.map((r) => r.rssMb));
  lines.push(
    `| ${human(n)}${heapFlags(n).length > 0 ? ` (${heapFlags(n).join(' ')})` : ''} | ${runs.length} | ${w.median.toFixed(1)} s (${w.min.toFixed(1)} – ${w.max.toFixed(1)}) | ${human((2 * n) / w.median)} | ${rss.toFixed(0)} MB | ${(((4 * n) / w.median / rawRate) * 100).toFixed(0)}% |`,
  );
}
lines.push('');
if (psijs !== undefined) {
  lines.push(
    `psi.js ${'2.0.6'} (WASM, raw data structure, reveal intersection) at n = ${human(psijsN)}: **${human(psijs)} items/s per side**.`,
    '',
  );
}
const million = results.find((r) => r.n === 1_000_000);
const targets: [string, string, boolean | undefined][] = [];
if (million) {
  const w = summarize(million.runs.map((r) => r.wallS)).median;
  targets.push(['1M × 1M end to end ≤ 75 s', `${w.toFixed(1)} s`, w <= 75]);
  const eff = (4e6 / w / rawRate) * 100;
  targets.push(["≥ 80% of the two cores' raw X25519 rate", `${eff.toFixed(0)}%`, eff >= 80]);
  const rss = Math.max(...million.runs.map((r) => r.rssMb));
  targets.push(['peak RSS ≤ 1.5 GB at 1M × 1M', `${rss.toFixed(0)} MB`, rss <= 1536]);
  targets.push([
    '≤ 150 core-seconds for 2^20 × 2^20 (SecretFlow: 160)',
    `${((w * threads * 2 ** 20) / 1e6).toFixed(0)} core-s`,
    (w * threads * 2 ** 20) / 1e6 <= 150,
  ]);
}
if (psijs !== undefined && results.length > 0) {
  const best = results[results.length - 1] as (typeof results)[number];
  const perSide = best.n / summarize(best.runs.map((r) => r.wallS)).median;
  targets.push([
    `≥ 30× psi.js per item (Troupe at n = ${human(best.n)} vs psi.js at n = ${human(psijsN)})`,
    `${(perSide / psijs).toFixed(0)}×`,
    perSide / psijs >= 30,
  ]);
}
const small = results.find((r) => r.n === 100_000);
if (small && million) {
  const a = Math.max(...small.runs.map((r) => r.rssMb));
  const b = Math.max(...million.runs.map((r) => r.rssMb));
  targets.push(['RSS grows linearly (1M / 100k, ideal ≤ 10×)', `${(b / a).toFixed(1)}×`, b / a <= 10]);
}
if (targets.length > 0) {
  lines.push('| Target | Measured | Reached |', '|---|--:|:-:|');
  for (const [label, measured, ok] of targets)
    lines.push(`| ${label} | ${measured} | ${ok === undefined ? '–' : ok ? 'yes' : '**no**'} |`);
}
const section = lines.join('\n');
console.log(`\n${section}`);
// The long 10M run writes its own section (PSI_BENCH_SECTION=psi-10m), so it does not replace the usual one.
if (process.env.PSI_BENCH_WRITE !== '0') writeSection(benchmarksMd, process.env.PSI_BENCH_SECTION ?? 'psi', section);
