/**
 * Remote benchmark: two processes on one loopback nats-server, side by side in
 * one run — raw @nats-io publish and request/reply, Moleculer's NATS
 * transporter, and @troupe/remote's NatsTransport (batched one-way frames and a
 * request/reply over two transports). Writes the `remote` section of
 * BENCHMARKS.md. A benchmark, not a test: it asserts nothing, but a run that
 * lost messages is marked void.
 *
 *   npm run bench:remote                 # 3 runs per contender, round-robin
 *   REMOTE_BENCH_RUNS=1 npm run bench:remote
 *   REMOTE_BENCH_ONLY='request/reply, 100/Troupe;request/reply, 100/Moleculer' npm run bench:remote
 *                                        # only these (case/contender prefixes, `;`-separated); writes nothing
 *
 * Contenders are entries of `contenders` below, each a `Contender` with its
 * setup in `Ctx`. The Troupe-actor rows send through real ActorRefs: an actor
 * system in each process, joined to the cluster as its own node
 * (`joinCluster`), telling and asking actors of the other.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { type ActorRef, ActorSystem, silentLogger } from '@troupe/core';
import { joinCluster, type NatsTransport, Node, type RemoteAddress } from '@troupe/remote';
import { ServiceBroker } from 'moleculer';
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
import { startNatsServer } from '../test/helpers/NatsServer.js';
import { type BenchMsg, message, Op } from './ops.js';

const RUNS = Number(process.env.REMOTE_BENCH_RUNS ?? 3);
const ONLY = (process.env.REMOTE_BENCH_ONLY ?? '')
  .split(';')
  .map((o) => o.trim().toLowerCase())
  .filter((o) => o.length > 0);
const benchmarksMd = fileURLToPath(new URL('../../../BENCHMARKS.md', import.meta.url));
const responderTs = fileURLToPath(new URL('./responder.ts', import.meta.url));
const CLUSTER = 'bench';

/** Everything a contender may use; set up once for the whole run. */
interface Ctx {
  /** The raw client of this process. */
  nc: NatsConnection;
  /** A Moleculer broker of this process, the responder's `bench.echo` reachable. */
  broker: ServiceBroker;
  /** This process's node and its transport to the responder. */
  node: Node;
  transport: NatsTransport;
  /** A request/reply over the transport: `[Op.Ask, id, msg]` out, `[Op.Reply, id, value]` back, one batch per ask. */
  ask: (msg: unknown) => Promise<unknown>;
  /** The same, but asks made in one turn share one batch (flushed in a microtask), as core's link batches. */
  askBatched: (msg: unknown) => Promise<unknown>;
  /** The responder's counting and echoing actors, through this process's actor system. */
  counter: ActorRef<BenchMsg>;
  echo: ActorRef<BenchMsg>;
  /** Tell the responder how many one-way messages (raw), frames (transport) or tells (actors) to expect; resolves with a promise of "all arrived". */
  expect: (kind: 'raw' | 'frames' | 'actor', n: number) => Promise<{ done: Promise<void> }>;
}

interface Contender {
  case: string;
  contender: string;
  unit: string;
  /** One timed run; returns the rate (or latency) in `unit`. */
  run: (ctx: Ctx, scale: number) => Promise<number>;
}

const yieldToIo = () => new Promise<void>((r) => setImmediate(r));

/** Sequential round trips: the median in microseconds. */
async function medianUs(n: number, once: () => Promise<unknown>): Promise<number> {
  const lat = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await once();
    lat[i] = performance.now() - t0;
  }
  return summarize([...lat]).median * 1000;
}

/** `callers` concurrent sequential callers, `n` calls in all: calls per second. */
async function concurrentRate(n: number, callers: number, once: () => Promise<unknown>): Promise<number> {
  let left = n;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (left-- > 0) await once();
    }),
  );
  return n / ((performance.now() - t0) / 1000);
}

const ONE_WAY = 'one-way, 2 processes';
/** The Troupe-actor rows: what the targets are about. */
const ACTORS = 'Troupe ActorRef';
const SEQ = 'request/reply, sequential (median round trip)';
const CONC = 'request/reply, 100 outstanding';
const CONC_WIDE = 'request/reply, 1000 outstanding';
const FRAMES_PER_BATCH = 1_000;

const contenders: Contender[] = [
  {
    case: ONE_WAY,
    contender: 'raw @nats-io publish (one message each, client-batched writes)',
    unit: 'msg/s',
    run: async (ctx, scale) => {
      const n = Math.round(500_000 * scale);
      const payload = new Uint8Array(24); // the size of one v8-serialised tell frame
      const { done } = await ctx.expect('raw', n);
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        ctx.nc.publish('bench.raw.oneway', payload);
        if (i % 10_000 === 9_999) await yieldToIo();
      }
      await done;
      return n / ((performance.now() - t0) / 1000);
    },
  },
  {
    case: ONE_WAY,
    contender: `NatsTransport post (${FRAMES_PER_BATCH} tell frames per batch)`,
    unit: 'frames/s',
    run: async (ctx, scale) => {
      const batches = Math.round(2_000 * scale);
      const { done } = await ctx.expect('frames', batches * FRAMES_PER_BATCH);
      const t0 = performance.now();
      let n = 0;
      for (let b = 0; b < batches; b++) {
        // A fresh batch each time, as a link builds one per turn.
        const batch: unknown[] = new Array(FRAMES_PER_BATCH * 3);
        for (let i = 0; i < batch.length; i += 3) {
          batch[i] = Op.Tell;
          batch[i + 1] = 7;
          batch[i + 2] = message(n++);
        }
        if (!ctx.transport.post(batch)) throw new Error('transport refused a batch');
        if (b % 20 === 19) await yieldToIo();
      }
      await done;
      return n / ((performance.now() - t0) / 1000);
    },
  },
  {
    case: ONE_WAY,
    contender: `${ACTORS} tell (one actor to another, batched by the link)`,
    unit: 'msg/s',
    run: async (ctx, scale) => {
      const n = Math.round(1_000_000 * scale);
      const { done } = await ctx.expect('actor', n);
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        ctx.counter.tell(message(i));
        if (i % 10_000 === 9_999) await yieldToIo();
      }
      await done;
      return n / ((performance.now() - t0) / 1000);
    },
  },
  {
    case: SEQ,
    contender: 'raw @nats-io request/reply',
    unit: 'µs',
    run: (ctx, scale) => {
      const payload = new Uint8Array(24);
      return medianUs(Math.round(5_000 * scale), () => ctx.nc.request('bench.raw.rr', payload, { timeout: 5_000 }));
    },
  },
  {
    case: SEQ,
    contender: 'Moleculer 0.15 broker.call (NATS transporter)',
    unit: 'µs',
    run: (ctx, scale) => medianUs(Math.round(2_000 * scale), () => ctx.broker.call('bench.echo', message(1))),
  },
  {
    case: SEQ,
    contender: 'NatsTransport ask over two transports',
    unit: 'µs',
    run: (ctx, scale) => medianUs(Math.round(5_000 * scale), () => ctx.ask(message(1))),
  },
  {
    case: SEQ,
    contender: `${ACTORS} ask`,
    unit: 'µs',
    run: (ctx, scale) => medianUs(Math.round(5_000 * scale), () => ctx.echo.ask(message(1))),
  },
  {
    case: CONC,
    contender: 'raw @nats-io request/reply',
    unit: 'calls/s',
    run: (ctx, scale) => {
      const payload = new Uint8Array(24);
      return concurrentRate(Math.round(50_000 * scale), 100, () =>
        ctx.nc.request('bench.raw.rr', payload, { timeout: 5_000 }),
      );
    },
  },
  {
    case: CONC,
    contender: 'Moleculer 0.15 broker.call (NATS transporter)',
    unit: 'calls/s',
    run: (ctx, scale) =>
      concurrentRate(Math.round(20_000 * scale), 100, () => ctx.broker.call('bench.echo', message(1))),
  },
  {
    case: CONC,
    contender: 'NatsTransport ask over two transports (one batch per ask)',
    unit: 'calls/s',
    run: (ctx, scale) => concurrentRate(Math.round(50_000 * scale), 100, () => ctx.ask(message(1))),
  },
  {
    case: CONC,
    contender: "NatsTransport ask over two transports (a turn's asks in one batch, as core's link will)",
    unit: 'calls/s',
    run: (ctx, scale) => concurrentRate(Math.round(200_000 * scale), 100, () => ctx.askBatched(message(1))),
  },
  {
    case: CONC,
    contender: `${ACTORS} ask`,
    unit: 'calls/s',
    run: (ctx, scale) => concurrentRate(Math.round(200_000 * scale), 100, () => ctx.echo.ask(message(1))),
  },
  {
    case: CONC_WIDE,
    contender: 'Moleculer 0.15 broker.call (NATS transporter)',
    unit: 'calls/s',
    run: (ctx, scale) =>
      concurrentRate(Math.round(20_000 * scale), 1_000, () => ctx.broker.call('bench.echo', message(1))),
  },
  {
    case: CONC_WIDE,
    contender: `${ACTORS} ask`,
    unit: 'calls/s',
    run: (ctx, scale) => concurrentRate(Math.round(400_000 * scale), 1_000, () => ctx.echo.ask(message(1))),
  },
];

if (ONLY.length > 0) {
  const picked = contenders.filter((c) => ONLY.some((o) => `${c.case}/${c.contender}`.toLowerCase().startsWith(o)));
  if (picked.length === 0) throw new Error(`REMOTE_BENCH_ONLY=${process.env.REMOTE_BENCH_ONLY} matches no contender`);
  contenders.splice(0, contenders.length, ...picked);
}

// ---- set-up ---------------------------------------------------------------

function waitFor(child: ChildProcess, ev: string, timeoutMs = 60_000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`responder: no '${ev}' after ${timeoutMs} ms`)), timeoutMs);
    const on = (m: Record<string, unknown>) => {
      if (m.ev !== ev) return;
      clearTimeout(timer);
      child.off('message', on);
      resolve(m);
    };
    child.on('message', on);
  });
}

const m = machine();
process.stdout.write(`remote bench: ${contenders.length} contenders × ${RUNS} runs (load ${m.load.toFixed(2)})\n`);
const suiteStart = performance.now();
const server = await startNatsServer({ jetstream: false });
const child = fork(responderTs, [server.url, CLUSTER], {
  execArgv: ['--conditions=source', '--import', 'tsx', ...process.execArgv.filter((a) => a.startsWith('--cpu-prof'))],
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
let ctx: Ctx | undefined;
let system: ActorSystem | undefined;
const series: Series[] = contenders.map((c) => ({ case: c.case, contender: c.contender, unit: c.unit, values: [] }));
try {
  const ready = await waitFor(child, 'ready');
  const nc = await connect({ servers: server.url });
  const broker = new ServiceBroker({
    nodeID: 'bench-caller',
    transporter: { type: 'NATS', options: { url: server.url } },
    logger: false,
  });
  await broker.start();
  await broker.waitForServices('bench', 20_000);
  const node = await Node.join({ servers: server.url, cluster: CLUSTER, node: 'caller', registry: false });
  await node.whenMember('responder');
  const transport = node.transport('responder');
  system = await ActorSystem.start({ name: 'caller-actors', signals: false, logger: silentLogger });
  const cluster = await joinCluster(system, {
    servers: server.url,
    cluster: CLUSTER,
    node: 'caller-actors',
    registry: false,
  });
  await cluster.node.whenMember('responder-actors');
  const pending = new Map<number, (v: unknown) => void>();
  transport.onBatch((batch) => {
    for (let i = 0; i < batch.length; i += 3)
      if (batch[i] === Op.Reply) {
        const id = batch[i + 1] as number;
        pending.get(id)?.(batch[i + 2]);
        pending.delete(id);
      }
  });
  let nextId = 0;
  let turn: unknown[] | undefined;
  const flushTurn = () => {
    const batch = turn!;
    turn = undefined;
    if (!transport.post(batch)) throw new Error('transport refused a batch of asks');
  };
  ctx = {
    nc,
    broker,
    node,
    transport,
    ask: (msg) =>
      new Promise((resolve) => {
        const id = nextId++;
        pending.set(id, resolve);
        if (!transport.post([Op.Ask, id, msg])) throw new Error('transport refused an ask');
      }),
    askBatched: (msg) =>
      new Promise((resolve) => {
        const id = nextId++;
        pending.set(id, resolve);
        if (turn === undefined) {
          turn = [];
          queueMicrotask(flushTurn);
        }
        turn.push(Op.Ask, id, msg);
      }),
    counter: cluster.refOf<BenchMsg>(ready.counter as RemoteAddress),
    echo: cluster.refOf<BenchMsg>(ready.echo as RemoteAddress),
    expect: async (kind, n) => {
      const done = waitFor(child, 'done', 120_000).then(() => {});
      child.send({ cmd: `expect-${kind === 'raw' ? 'raw' : kind === 'frames' ? 'frames' : 'actor'}`, n });
      await waitFor(child, 'armed');
      return { done };
    },
  };

  // Warm-up: every contender once at a tenth of the size (JIT, connections, Moleculer's discovery).
  for (const c of contenders) {
    process.stdout.write(`  warm-up: ${c.contender}\n`);
    await c.run(ctx!, 0.1);
  }
  for (let r = 0; r < RUNS; r++)
    for (const [i, c] of contenders.entries()) {
      const v = await c.run(ctx!, 1);
      series[i]!.values.push(v);
      process.stdout.write(`  ${c.case} | ${c.contender}: ${human(v)} ${c.unit}\n`);
    }
  const stats = node.transportStats();
  const drops = node.stats().droppedTotal;
  if (drops > 0 || Object.values(stats).some((s) => s.lostBatches > 0))
    for (const s of series) if (s.contender.startsWith('NatsTransport')) s.invalid = 'frames were lost';
  const actorDrops = cluster.stats().droppedTotal;
  const lost = system.deadLetters.total;
  if (actorDrops > 0 || lost > 0)
    for (const s of series)
      if (s.contender.startsWith(ACTORS)) s.invalid = `${lost} dead letters, ${actorDrops} drops at the caller`;
} finally {
  child.send({ cmd: 'quit' });
  await Promise.race([new Promise((r) => child.once('exit', r)), new Promise((r) => setTimeout(r, 5_000))]);
  child.kill('SIGKILL');
  await ctx?.node.leave({ timeoutMs: 1_000 });
  await system?.shutdown();
  await ctx?.broker.stop();
  await ctx?.nc.close();
  await server.close();
}
const loadAtEnd = loadavg()[0] ?? 0;
const suiteS = (performance.now() - suiteStart) / 1000;

// ---- report ---------------------------------------------------------------

const med = (caseName: string, prefix: string) =>
  summarize(series.find((s) => s.case === caseName && s.contender.startsWith(prefix))?.values ?? []).median;
const rawPub = med(ONE_WAY, 'raw');
const tPub = med(ONE_WAY, 'NatsTransport');
const rawRr = med(SEQ, 'raw');
const tRr = med(SEQ, 'NatsTransport');
const molRr = med(SEQ, 'Moleculer');
const tConc = med(CONC, 'NatsTransport ask over two transports (one');
const tConcBatched = med(CONC, "NatsTransport ask over two transports (a turn's");
const molConc = med(CONC, 'Moleculer');
const rawConc = med(CONC, 'raw');
const x = (v: number) => `${v.toFixed(2)}×`;
const aPub = med(ONE_WAY, ACTORS);
const aRr = med(SEQ, ACTORS);
const aConc = med(CONC, ACTORS);
const aWide = med(CONC_WIDE, ACTORS);
const molWide = med(CONC_WIDE, 'Moleculer');
const targets: Target[] = [
  { label: 'ActorRef tells ≥ 1 M msg/s between two processes', measured: `${human(aPub)}/s`, reached: aPub >= 1e6 },
  {
    label: "ActorRef tells ≥ 0.8× the raw client's batched publish",
    measured: x(aPub / rawPub),
    reached: aPub / rawPub >= 0.8,
  },
  {
    label: 'ActorRef ask round trip median ≤ 1.3× raw request/reply',
    measured: x(aRr / rawRr),
    reached: aRr / rawRr <= 1.3,
  },
  {
    label: 'ActorRef asks/s (100 outstanding) ≥ 5× Moleculer calls/s',
    measured: x(aConc / molConc),
    reached: aConc / molConc >= 5,
  },
  {
    label: '(context) ActorRef asks/s vs Moleculer calls/s, both 1000 outstanding',
    measured: x(aWide / molWide),
    reached: undefined,
  },
  { label: '(context) ActorRef tells vs NatsTransport frames', measured: x(aPub / tPub), reached: undefined },
  { label: '(context) ActorRef ask round trip vs NatsTransport ask', measured: x(aRr / tRr), reached: undefined },
  { label: '(context) ActorRef asks/s vs raw request/reply', measured: x(aConc / rawConc), reached: undefined },
  {
    label: "(context) NatsTransport asks/s (a turn's batched) vs Moleculer",
    measured: x(tConcBatched / molConc),
    reached: undefined,
  },
  {
    label: '(context) NatsTransport asks/s (one batch per ask) vs Moleculer',
    measured: x(tConc / molConc),
    reached: undefined,
  },
  { label: '(context) NatsTransport round trip vs Moleculer', measured: x(tRr / molRr), reached: undefined },
];
const busy = Math.max(m.load, loadAtEnd) > m.cores * 0.5;
const body = [
  '## Remote (`@troupe/remote` on NATS)',
  '',
  `Run with \`npm run bench:remote\` (\`packages/remote/bench/remote.bench.ts\`). ${m.date}.`,
  '',
  `- Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB.toFixed(1)} GiB memory; 1-min load average ${m.load.toFixed(2)} at the start, ${loadAtEnd.toFixed(2)} at the end${busy ? ' (busy: other work was running, so rates are low and noisy; trust the ratios more)' : ''}`,
  `- Node ${m.node} (V8 ${m.v8}); nats-server 2.9 (Debian) on 127.0.0.1, one server, JetStream off; two processes (this one and \`bench/responder.ts\`), the server a third; ${RUNS} runs per contender, round-robin, after a warm-up at 1/10 size; suite took ${suiteS.toFixed(0)} s`,
  '- Code under test: `src/` through tsx. Clients: @nats-io/transport-node 3.x; Moleculer 0.15.2 with the `nats` 2.x package (its NATS transporter `require`s `nats`, not @nats-io v3)',
  '',
  ...seriesTable(series),
  '',
  '### Targets (issue 10), at the actor level',
  '',
  "The issue's targets are for Troupe actors: `ActorRef` tells and asks between two actor systems in two processes",
  '(each joined to the cluster as its own node), against the raw client and Moleculer in the same run. The',
  'NatsTransport rows are the layer under the actors, for context.',
  '',
  ...targetTable(targets),
  '',
  '### How each case is measured',
  '',
  '- **one-way**: this process publishes, the responder counts; the clock stops when the responder reports (over IPC)',
  '  that the last one arrived. Raw: 500 k publishes of 24 bytes (the size of a v8-serialised tell frame), one message',
  "  each; the client batches its socket writes, so this is the raw client's batched publish rate. NatsTransport: 2 M",
  `  frames \`[op, handle, { type: 'inc', n }]\` in batches of ${FRAMES_PER_BATCH}, a fresh array per batch, serialised as the transport does (packed: plain data), flow-controlled by`,
  '  credits (8 MiB window); both yield to I/O now and then, as a sender with an event loop does. ActorRef: 1 M',
  "  `counter.tell({ type: 'inc', n })` from this process (no actor of its own needed to send) to a counting actor in",
  "  the responder's actor system; core's link batches a turn's tells (acknowledged per batch), and the clock stops",
  '  when the counter has taken the last one.',
  '- **request/reply, sequential**: one caller, the next request after the reply; median of 5 000 (Moleculer 2 000).',
  "  NatsTransport: `[Ask, id, msg]` posted on this side's transport, the responder posts `[Reply, id, msg]` on its own",
  '  (so a round trip crosses two transports, as an actor ask does). ActorRef: `echo.ask(msg)` to an echoing actor.',
  '- **100 outstanding**: 100 callers, each sequential, 50 k calls (Moleculer 20 k). NatsTransport twice: one batch per',
  "  ask (a NATS message each way per call, like the others), and 200 k calls with a turn's asks sharing one batch (the",
  "  responder answers a batch of asks with one batch of replies), which is what core's link does with every send.",
  '  ActorRef: 200 k asks. **1000 outstanding**: the same with 1000 callers (Moleculer 20 k calls, ActorRef 400 k).',
  '',
  'Reading the ratios: the one-way comparison is batched frames against one raw message per tell (what a user of the',
  'raw client who does not build batches gets); a raw client publishing pre-packed bytes would be faster still.',
  'Troupe pays serialisation on both ends (packed for these plain-data batches; see the remote README), and the',
  "receiver's decoding and garbage collection are its bottleneck, so the tell rate follows the CPU the receiving",
  'process gets (on a loaded 2-core machine, less). Each NATS message also costs a socket write (about 50 µs of CPU',
  'per process per round trip on the half-speed EPYC, profiled), which batching amortises and pipelining would not. A round',
  'trip crosses three processes (two nodes and the server), each woken from idle; on a shared 2-core machine that',
  'wake-up varies between runs more than the contenders differ, so compare within a run. With 100 callers the actor',
  'asks of one turn ride one batch (100 asks per NATS message each way), so that row is bound by round-trip latency and',
  "Moleculer's by its CPU per call; the 1000-outstanding rows show how each grows with more asks in flight (an actor",
  'system has many senders).',
];
if (ONLY.length === 0) {
  writeSection(benchmarksMd, 'remote', body.join('\n'));
  process.stdout.write(`wrote the remote section of ${benchmarksMd}\n`);
} else process.stdout.write(`${body.join('\n')}\nREMOTE_BENCH_ONLY is set: BENCHMARKS.md left unchanged\n`);
process.exit(0);
