/**
 * PSI benchmark: Troupe's psi command end to end (CSV in, CSV out) at n x n,
 * the raw X25519 rate of the machine's cores with the chosen primitive (the
 * physical limit: n x n needs 4n scalar multiplications), and psi.js (OpenMined's
 * WASM ECDH-PSI) at a small n, all in one run. Writes the `psi` section of
 * BENCHMARKS.md. A benchmark, not a test: it asserts nothing.
 *
 *   npm run bench:psi                      # builds, then n = 100k (3 runs) and 1M (1 run): section psi
 *   PSI_BENCH_SIZES=1000000,3000000,10000000 PSI_BENCH_SECTION=psi-10m npm run bench:psi   # the scale table (~25 min)
 *   PSI_BENCH_SECTION=psi-unbalanced npm run bench:psi   # 10k client vs a cached 10M server (cache ~15 min)
 *   PSI_BENCH_SIZES=50000000 PSI_BENCH_SECTION=psi-50m npm run bench:psi   # once, by hand (~1 h)
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { human, machine, summarize, writeSection } from '../../core/bench/report.js';
import { generatePsiData } from '../src/psi/generate.js';
import { rawX25519 } from './rawX25519.js';

const threads = 2;
const section = process.env.PSI_BENCH_SECTION ?? 'psi';
const sizes = (process.env.PSI_BENCH_SIZES ?? (section === 'psi-unbalanced' ? '' : '100000,1000000'))
  .split(',')
  .filter((x) => x.length > 0)
  .map(Number);
const runsFor = (n: number) => Number(process.env.PSI_BENCH_RUNS ?? (n <= 200_000 ? 3 : 1));
/** Unbalanced: server rows (a cache made once) against a 10k-row client, in its own section. */
const unbalancedServer = Number(process.env.PSI_BENCH_UNBALANCED ?? (section === 'psi-unbalanced' ? 10_000_000 : 0));
const unbalancedClient = Number(process.env.PSI_BENCH_CLIENT ?? 10_000);
const mainTs = fileURLToPath(new URL('../src/psi/main.ts', import.meta.url));
const benchmarksMd = fileURLToPath(new URL('../../../BENCHMARKS.md', import.meta.url));
const require = createRequire(import.meta.url);

interface TroupeRun {
  wallS: number;
  rssMb: number;
  intersection: number;
  loadStart: number;
  loadEnd: number;
  spilledMb: number;
}

/** One `psi` command as a child process (its own peak RSS), timed from spawn to exit; Node's default heap. */
function psiCommand(
  args: string[],
): Promise<{ wallS: number; summary: Record<string, unknown>; loadStart: number; loadEnd: number }> {
  return new Promise((resolve, reject) => {
    const loadStart = loadavg()[0] as number;
    const t0 = performance.now();
    // The libraries from their build (dist/), as users run them; only the command's own files go through tsx.
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', mainTs, ...args, '--threads', String(threads), '--json'],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.on('close', (code) => {
      const wallS = (performance.now() - t0) / 1000;
      if (code !== 0) return reject(new Error(`psi ${args.join(' ')} exited ${code}`));
      resolve({
        wallS,
        summary: JSON.parse(out.trim().split('\n').pop() as string),
        loadStart,
        loadEnd: loadavg()[0] as number,
      });
    });
  });
}

async function runPsi(dir: string, right = 'right.csv'): Promise<TroupeRun> {
  const r = await psiCommand([
    '--left',
    join(dir, 'left.csv'),
    '--right',
    join(dir, right),
    '--key',
    'email',
    '--out',
    join(dir, 'out'),
    // Each run of the same size writes over the last one's outputs.
    '--force',
  ]);
  const s = r.summary as {
    maxRssMb: number;
    intersection: number;
    left: { spilledBytes: number };
    right: { spilledBytes: number };
  };
  return {
    wallS: r.wallS,
    rssMb: s.maxRssMb,
    intersection: s.intersection,
    loadStart: r.loadStart,
    loadEnd: r.loadEnd,
    spilledMb: (s.left.spilledBytes + s.right.spilledBytes) / 1e6,
  };
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
console.log(`psi bench (${section}): ${m.cpu}, ${m.cores} cores, node ${m.node}, load ${m.load.toFixed(2)}`);
const raw = [await rawX25519(threads), await rawX25519(threads), await rawX25519(threads)];
const rawRate = summarize(raw).median;
console.log(`raw X25519, ${threads} threads: ${human(rawRate)} ops/s`);
const psijsN = 10_000;
const psijs = section === 'psi' ? await psiJs(psijsN) : undefined;
if (section === 'psi')
  console.log(`psi.js n=${psijsN}: ${psijs === undefined ? 'not installed' : `${human(psijs)} items/s per side`}`);

const results: { n: number; runs: TroupeRun[] }[] = [];
for (const n of sizes) {
  const dir = await mkdtemp(join(tmpdir(), `troupe-psi-bench-${n}-`));
  await mkdir(dir, { recursive: true });
  console.log(`generating ${n} x ${n} rows in ${dir}`);
  await generatePsiData(dir, { rows: n, overlap: 0.5, duplicates: 0, seed: 7 }, false);
  const runs: TroupeRun[] = [];
  for (let r = 0; r < runsFor(n); r++) {
    const run = await runPsi(dir);
    console.log(
      `  n=${n}: ${run.wallS.toFixed(2)} s, peak RSS ${run.rssMb.toFixed(0)} MB, intersection ${run.intersection}, spilled ${run.spilledMb.toFixed(0)} MB, load ${run.loadStart.toFixed(2)} -> ${run.loadEnd.toFixed(2)}`,
    );
    runs.push(run);
  }
  await rm(dir, { recursive: true, force: true });
  results.push({ n, runs });
}

interface UnbalancedResult {
  server: number;
  client: number;
  cacheS: number;
  cacheRssMb: number;
  first: { wallS: number; rssMb: number; transferredMb: number; matched: number; load: [number, number] };
  again: { wallS: number; rssMb: number; matched: number; load: [number, number] };
}
let unbalanced: UnbalancedResult | undefined;
if (unbalancedServer > 0) {
  const dir = await mkdtemp(join(tmpdir(), 'troupe-psi-bench-unbalanced-'));
  console.log(`generating a ${unbalancedServer}-row server file and a ${unbalancedClient}-row client file in ${dir}`);
  await generatePsiData(dir, { rows: unbalancedServer, overlap: 0.5, duplicates: 0, seed: 11 }, false);
  // The client: the first rows of the left file (its keys: half shared with the right file, the server).
  // Only the head of the file: the whole of a 10M-row file is longer than a string may be.
  const handle = await open(join(dir, 'left.csv'), 'r');
  const head = Buffer.alloc(Math.max(1 << 20, unbalancedClient * 400));
  const { bytesRead } = await handle.read(head, 0, head.length, 0);
  await handle.close();
  const left = head.subarray(0, bytesRead).toString('utf8');
  let cut = 0;
  for (let i = 0; i <= unbalancedClient; i++) cut = left.indexOf('\n', cut) + 1;
  await writeFile(join(dir, 'client.csv'), left.slice(0, cut));
  await rm(join(dir, 'left.csv'));
  const common = ['--key', 'email', '--key-file', join(dir, 'server.key'), '--cache', join(dir, 'server.cache')];
  const cache = await psiCommand(['unbalanced', 'cache', '--server', join(dir, 'right.csv'), ...common]);
  console.log(
    `  cache of ${unbalancedServer}: ${cache.wallS.toFixed(1)} s, load ${cache.loadStart.toFixed(2)} -> ${cache.loadEnd.toFixed(2)}`,
  );
  const query = (out: string) =>
    psiCommand([
      'unbalanced',
      'query',
      '--client',
      join(dir, 'client.csv'),
      ...common,
      '--out',
      join(dir, out),
      '--copy',
      join(dir, 'client.copy'),
    ]);
  const first = await query('out1');
  const again = await query('out2');
  const sum = (r: typeof first) => r.summary as { maxRssMb: number; transferredBytes: number; matchedKeys: number };
  unbalanced = {
    server: unbalancedServer,
    client: unbalancedClient,
    cacheS: cache.wallS,
    cacheRssMb: (cache.summary as { maxRssMb: number }).maxRssMb,
    first: {
      wallS: first.wallS,
      rssMb: sum(first).maxRssMb,
      transferredMb: sum(first).transferredBytes / 1e6,
      matched: sum(first).matchedKeys,
      load: [first.loadStart, first.loadEnd],
    },
    again: {
      wallS: again.wallS,
      rssMb: sum(again).maxRssMb,
      matched: sum(again).matchedKeys,
      load: [again.loadStart, again.loadEnd],
    },
  };
  console.log(
    `  query ${unbalancedClient} vs ${unbalancedServer}: ${first.wallS.toFixed(2)} s (transfer), ${again.wallS.toFixed(2)} s (copy)`,
  );
  await rm(dir, { recursive: true, force: true });
}

const loadEnd = loadavg()[0] as number;
const lines: string[] = [];
lines.push(
  section === 'psi-10m'
    ? '## PSI at scale: 1M, 3M and 10M rows per side (`PSI_BENCH_SIZES=1000000,3000000,10000000 PSI_BENCH_SECTION=psi-10m npm run bench:psi`)'
    : section === 'psi-unbalanced'
      ? '## Unbalanced PSI: a 10k-row client against a cached 10M-row server (`PSI_BENCH_SECTION=psi-unbalanced npm run bench:psi`)'
      : section === 'psi'
        ? '## PSI (`npm run bench:psi`)'
        : `## PSI (\`PSI_BENCH_SIZES=${sizes.join(',')} PSI_BENCH_SECTION=${section} npm run bench:psi\`)`,
  '',
);
lines.push(
  `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB.toFixed(0)} GiB; Node ${m.node}; ${m.date}; 1-min load average ${m.load.toFixed(2)} at the start, ${loadEnd.toFixed(2)} at the end.`,
);
lines.push(
  `Troupe runs the real \`psi\` command (CSV in and out; @troupe/core and @troupe/actors from their build, \`npm run build\`) with ${threads} masking threads in Node's default heap, keys 50% shared, unique. Each run is a fresh process: wall time includes start-up, reading, writing and the atomic commit.`,
  '',
);
lines.push(
  `Raw X25519 (sodium-native \`crypto_scalarmult\`), ${threads} threads: **${human(rawRate)} ops/s** (median of 3; ${raw.map(human).join(', ')}). An n × n run needs 4n of them, so at 100% of the raw rate 2^20 × 2^20 takes ${(((4 * 2 ** 20) / rawRate) * threads).toFixed(0)} core-seconds on this machine.`,
  '',
);
const coreS = (n: number, wall: number) => (wall * threads * 2 ** 20) / n;
if (results.length > 0) {
  lines.push(
    '| n × n | runs | wall median (min – max) | µs per item per core | X25519 efficiency (4n / wall ÷ raw) | core-s per 2^20 × 2^20 | peak RSS | spilled to disk | load at start → end |',
    '|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  );
  for (const { n, runs } of results) {
    const w = summarize(runs.map((r) => r.wallS));
    const rss = Math.max(...runs.map((r) => r.rssMb));
    const loads = runs.map((r) => `${r.loadStart.toFixed(1)} → ${r.loadEnd.toFixed(1)}`).join(', ');
    lines.push(
      `| ${human(n)} | ${runs.length} | ${w.median.toFixed(1)} s (${w.min.toFixed(1)} – ${w.max.toFixed(1)}) | ${((w.median * threads * 1e6) / (2 * n)).toFixed(1)} | ${(((4 * n) / w.median / rawRate) * 100).toFixed(0)}% | ${coreS(n, w.median).toFixed(0)} | ${rss.toFixed(0)} MB | ${Math.max(...runs.map((r) => r.spilledMb)).toFixed(0)} MB | ${loads} |`,
    );
  }
  lines.push('');
}
if (psijs !== undefined) {
  lines.push(
    `psi.js ${'2.0.6'} (WASM, raw data structure, reveal intersection) at n = ${human(psijsN)}: **${human(psijs)} items/s per side**.`,
    '',
  );
}
const targets: [string, string, boolean | undefined][] = [];
const at = (n: number) => results.find((r) => r.n === n);
const wallAt = (n: number) => summarize((at(n)?.runs ?? []).map((r) => r.wallS)).median;
const rssAt = (n: number) => Math.max(...(at(n)?.runs ?? []).map((r) => r.rssMb));
const eff = (n: number) => ((4 * n) / wallAt(n) / rawRate) * 100;
if (at(1_000_000)) {
  targets.push(["1M × 1M: ≥ 90% of the two cores' raw X25519 rate", `${eff(1e6).toFixed(0)}%`, eff(1e6) >= 90]);
  targets.push([
    '1M × 1M: ≤ 140 core-seconds for 2^20 × 2^20 (SecretFlow: 160)',
    `${coreS(1e6, wallAt(1e6)).toFixed(0)} core-s`,
    coreS(1e6, wallAt(1e6)) <= 140,
  ]);
  targets.push(['1M × 1M: peak RSS ≤ 600 MB', `${rssAt(1e6).toFixed(0)} MB`, rssAt(1e6) <= 600]);
}
if (at(10_000_000)) {
  targets.push([
    "10M × 10M: ≥ 80% of the raw X25519 rate, Node's default heap",
    `${eff(1e7).toFixed(0)}%`,
    eff(1e7) >= 80,
  ]);
  targets.push([
    '10M × 10M: peak RSS ≤ 2 GB (both parties, one process)',
    `${rssAt(1e7).toFixed(0)} MB`,
    rssAt(1e7) <= 2048,
  ]);
}
if (at(1_000_000) && at(10_000_000)) {
  const t = wallAt(1e7) / wallAt(1e6);
  targets.push(['time grows linearly (10M / 1M wall, ideal 10×)', `${t.toFixed(1)}×`, t <= 11.5]);
  const r = rssAt(1e7) / rssAt(1e6);
  targets.push(['RSS grows at most linearly (10M / 1M, bounded: ideally far below 10×)', `${r.toFixed(1)}×`, r <= 10]);
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
if (unbalanced !== undefined) {
  const u = unbalanced;
  lines.push(
    '| step | wall | peak RSS | notes |',
    '|---|--:|--:|---|',
    `| cache (offline, once): ${human(u.server)} server rows | ${u.cacheS.toFixed(1)} s | ${u.cacheRssMb.toFixed(0)} MB | ${((u.cacheS * threads * 1e6) / u.server).toFixed(0)} µs per key per core (hash to group + one scalar multiplication) |`,
    `| query: ${human(u.client)} client rows, first time | ${u.first.wallS.toFixed(2)} s | ${u.first.rssMb.toFixed(0)} MB | ${u.first.transferredMb.toFixed(0)} MB of entries transferred and kept as the client's copy; ${u.first.matched} keys matched; load ${u.first.load[0].toFixed(1)} → ${u.first.load[1].toFixed(1)} |`,
    `| query again, from the client's copy | ${u.again.wallS.toFixed(2)} s | ${u.again.rssMb.toFixed(0)} MB | no transfer; ${u.again.matched} keys matched; load ${u.again.load[0].toFixed(1)} → ${u.again.load[1].toFixed(1)} |`,
    '',
    "Wall times are the whole command (process start to exit: reading the key, verifying the cache's HMAC, the CSVs, the OPRF, writing the output).",
    '',
  );
  targets.push([
    `unbalanced: ${human(u.client)}-row client vs cached ${human(u.server)}-row server, end to end < 10 s (first query, with the transfer)`,
    `${u.first.wallS.toFixed(2)} s`,
    u.first.wallS < 10,
  ]);
}
if (targets.length > 0) {
  lines.push('| Target | Measured | Reached |', '|---|--:|:-:|');
  for (const [label, measured, ok] of targets)
    lines.push(`| ${label} | ${measured} | ${ok === undefined ? '–' : ok ? 'yes' : '**no**'} |`);
}
const body = lines.join('\n');
console.log(`\n${body}`);
if (process.env.PSI_BENCH_WRITE !== '0') writeSection(benchmarksMd, section, body);
