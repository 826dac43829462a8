/**
 * Two-party PSI benchmark (issue 11): n x n with the two parties in two
 * processes over a loopback nats-server (`psi party`, one masking thread
 * each) against the single-process `psi` run (two masking threads), same
 * total threads, same files, in the same run; with the bytes that crossed the
 * server per item (from its monitoring endpoint), each process's peak RSS
 * (its own `maxRssMb` from its `--json` summary) and the raw X25519 rate of
 * the cores. Writes the `psi-two-party` section of BENCHMARKS.md. A
 * benchmark, not a test: it asserts nothing.
 *
 *   npm run bench:psi                          # after the psi rows: n = 1M, one run each
 *   PSI_TWO_PARTY_N=100000 node --import tsx packages/examples/bench/psiTwoParty.bench.ts
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { human, machine, writeSection } from '../../core/bench/report.js';
import { freePort, startNatsServer } from '../../remote/test/helpers/NatsServer.js';
import { generatePsiData } from '../src/psi/generate.js';
import { rawX25519 } from './rawX25519.js';

const n = Number(process.env.PSI_TWO_PARTY_N ?? 1_000_000);
const threads = 2;
const mainTs = fileURLToPath(new URL('../src/psi/main.ts', import.meta.url));
const benchmarksMd = fileURLToPath(new URL('../../../BENCHMARKS.md', import.meta.url));

interface Exit {
  code: number;
  out: string;
}

function run(args: string[]): Promise<Exit> {
  return new Promise((resolve) => {
    // The libraries from their build (dist/), as users run them; only the command's own file goes through tsx.
    const child = spawn(process.execPath, ['--import', 'tsx', mainTs, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
}
/** `maxRssMb` is MiB (the kernel's KiB / 1024), printed as MB like the other PSI tables. */
const mb = (v: number) => `${v.toFixed(0)} MB`;
const lastJson = (e: Exit) => JSON.parse(e.out.trim().split('\n').pop() as string);

const m = machine();
console.log(`psi two-party bench: ${m.cpu}, ${m.cores} cores, node ${m.node}, load ${m.load.toFixed(2)}, n = ${n}`);
const rawRate = await rawX25519(threads);
console.log(`raw X25519, ${threads} threads: ${human(rawRate)} ops/s`);

const dir = await mkdtemp(join(tmpdir(), 'troupe-psi-2p-bench-'));
const monitor = await freePort();
const server = await startNatsServer({ extraConfig: `http: "127.0.0.1:${monitor}"` });
try {
  console.log(`generating ${n} x ${n} rows in ${dir}`);
  await generatePsiData(dir, { rows: n, overlap: 0.5, duplicates: 0, seed: 7 }, false);
  const left = join(dir, 'left.csv');
  const right = join(dir, 'right.csv');

  // Single process: both parties, two masking threads.
  let t0 = performance.now();
  const single = await run([
    '--left',
    left,
    '--right',
    right,
    '--key',
    'email',
    '--out',
    join(dir, 'out1'),
    '--force',
    '--threads',
    String(threads),
    '--json',
  ]);
  const singleS = (performance.now() - t0) / 1000;
  if (single.code !== 0) throw new Error(`psi exited ${single.code}`);
  const singleSummary = lastJson(single);
  const singleRss = singleSummary.maxRssMb as number;
  console.log(
    `single process: ${singleS.toFixed(2)} s, intersection ${singleSummary.intersection}, peak RSS ${singleRss.toFixed(0)} MB`,
  );

  // Two processes over NATS: one masking thread each.
  const varz = async () =>
    (await (await fetch(`http://127.0.0.1:${monitor}/varz`)).json()) as { in_bytes: number; in_msgs: number };
  const before = await varz();
  const party = (side: 'left' | 'right') =>
    run([
      'party',
      '--side',
      side,
      '--file',
      side === 'left' ? left : right,
      '--key',
      'email',
      '--out',
      join(dir, `out2-${side}`),
      '--session',
      `bench-${process.pid}`,
      '--nats',
      server.url,
      '--threads',
      String(threads / 2),
      '--json',
    ]);
  t0 = performance.now();
  const [l, r] = await Promise.all([party('left'), party('right')]);
  const twoS = (performance.now() - t0) / 1000;
  if (l.code !== 0 || r.code !== 0) throw new Error(`psi party exited ${l.code} / ${r.code}`);
  const after = await varz();
  const ls = lastJson(l);
  const rs = lastJson(r);
  // Each party's own peak RSS, as its process reports it (issue 12: at most 1 GB per party).
  const leftRss = ls.maxRssMb as number;
  const rightRss = rs.maxRssMb as number;
  const partyRss = Math.max(leftRss, rightRss);
  const wireBytes = after.in_bytes - before.in_bytes;
  const payload = ls.bytesSent + rs.bytesSent;
  console.log(
    `two processes: ${twoS.toFixed(2)} s, intersection ${ls.matchedKeys}; ${(wireBytes / n).toFixed(1)} B/item on the wire, ${(payload / n).toFixed(1)} B/item payload; peak RSS left ${leftRss.toFixed(0)} MB, right ${rightRss.toFixed(0)} MB`,
  );

  const ratio = singleS / twoS;
  const x = (s: number) => `${(((4 * n) / s / rawRate) * 100).toFixed(0)}%`;
  const st = (s: { stages: Record<string, number> }) =>
    ['handshake', 'read', 'exchange', 'write', 'commit']
      .map((k) => `${k} ${(s.stages[k]! / 1000).toFixed(1)} s`)
      .join(', ');
  const lines = [
    '## PSI, two parties in two processes (`npm run bench:psi`, after the rows above)',
    '',
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB.toFixed(0)} GiB; Node ${m.node}; ${m.date}; load average at start ${m.load.toFixed(2)}, at end ${machine().load.toFixed(2)}.`,
    `The same ${human(n)} × ${human(n)} files (keys 50% shared, unique), in the same run: the single-process \`psi\` with ${threads} masking threads, and two \`psi party\` processes (one masking thread each, so the same ${threads} in all) meeting on a loopback nats-server 2.9 (\`@troupe/remote\`, default reveal both). Wall time from spawn to the last exit, start-up and the commit included. Raw X25519 (sodium-native), ${threads} threads: **${human(rawRate)} ops/s**; an n × n run needs 4n.`,
    '',
    '| run | wall | items/s (2n / wall) | X25519 efficiency (4n / wall ÷ raw) | bytes per item crossing the server | peak RSS |',
    '|---|--:|--:|--:|--:|--:|',
    `| single process, ${threads} threads | ${singleS.toFixed(1)} s | ${human((2 * n) / singleS)} | ${x(singleS)} | (none) | ${mb(singleRss)} (both parties) |`,
    `| two processes over NATS, ${threads / 2} + ${threads / 2} threads | ${twoS.toFixed(1)} s | ${human((2 * n) / twoS)} | ${x(twoS)} | ${(wireBytes / n).toFixed(1)} (payload ${(payload / n).toFixed(1)}) | left ${mb(leftRss)}, right ${mb(rightRss)} |`,
    '',
    `Bytes per item: all bytes published to the server during the two-party run (its \`/varz\` \`in_bytes\`: frames, heartbeats, registry) ÷ n; the payload is what the two sessions count (\`bytesSent\`, both sides). Floor: 32 + 32 + 12 = 76 (each side's point out, 12 compared bytes back; with reveal both each side gets its 12 back: 88). Peak RSS: each process's own, from its \`--json\` summary (\`maxRssMb\`, the kernel's high-water mark of its resident memory, worker threads included). Stages (left): ${st(ls)}; (right): ${st(rs)}.`,
    '',
    '| Target | Measured | Reached |',
    '|---|--:|:-:|',
    `| two processes ≥ 0.9× the single-process throughput | ${ratio.toFixed(2)}× | ${ratio >= 0.9 ? 'yes' : '**no**'} |`,
    `| bytes per item near the floor (76; 88 with reveal both) | ${(wireBytes / n).toFixed(1)} | ${wireBytes / n <= 100 ? 'yes' : '**no**'} |`,
    `| two processes: peak RSS ≤ 1 GB per party (issue 12) | ${mb(partyRss)} | ${partyRss <= 1024 ? 'yes' : '**no**'} |`,
    ...(n === 1_000_000
      ? [
          `| single process, 1M × 1M: peak RSS ≤ 600 MB (issue 12) | ${mb(singleRss)} | ${singleRss <= 600 ? 'yes' : '**no**'} |`,
        ]
      : []),
  ];
  writeSection(benchmarksMd, 'psi-two-party', lines.join('\n'));
  console.log(lines.join('\n'));
} finally {
  await server.close();
  await rm(dir, { recursive: true, force: true });
}
