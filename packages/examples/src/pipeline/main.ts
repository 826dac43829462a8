/**
 * pipeline: parse → enrich → aggregate, three actors with bounded mailboxes and
 * backpressure end to end. Each stage awaits `next.send(...)`, so when the
 * aggregator falls behind, the enricher waits, then the parser, then the
 * source: however many lines go in, no mailbox ever holds more than its capacity.
 *
 * With `--worker-stage`, a fourth stage, hash, runs between enrich and
 * aggregate: SHA-256 of every reading, computed by worker-thread actors (one
 * per host thread) behind ordinary refs, with the backpressure unchanged.
 *
 *   node --conditions=source --import tsx packages/examples/src/pipeline/main.ts --lines 1000000 --capacity 64
 *   node --conditions=source --import tsx packages/examples/src/pipeline/main.ts --worker-stage --hash-rounds 20
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { threadId } from 'node:worker_threads';
import {
  type ActorMetrics,
  type ActorRef,
  ActorSystem,
  consoleLogger,
  formatShutdownReport,
  type MailboxOptions,
} from '@troupe/core';
import { parseFlagsOrExit } from '../shared/cli.js';
import { int, mb, table } from '../shared/format.js';
import { Aggregator } from './Aggregator.js';
import { Enricher } from './Enricher.js';
import { HashStage } from './HashStage.js';
import { Parser } from './Parser.js';
import type { FlushResult, HashStageMsg } from './protocol.js';
import { makeLine } from './source.js';

const flags = parseFlagsOrExit(
  'pipeline',
  'A 3-stage pipeline (parse → enrich → aggregate) with bounded mailboxes and backpressure end to end; --worker-stage adds a hash stage on worker threads.',
  {
    lines: { type: 'number', help: 'lines to push through the pipeline', default: 200_000, min: 1, max: 100_000_000 },
    capacity: { type: 'number', help: 'mailbox capacity of each stage', default: 256, min: 1, max: 1_000_000 },
    batch: {
      type: 'number',
      help: 'lines the source reads per chunk before yielding to the event loop',
      default: 1_024,
      min: 1,
      max: 1_000_000,
    },
    checkpointEvery: {
      type: 'number',
      help: 'the aggregator persists a checkpoint every this many readings (0: never)',
      default: 10_000,
      min: 0,
    },
    checkpointMs: {
      type: 'number',
      help: 'simulated time of one checkpoint write, ms',
      default: 10,
      min: 0,
      max: 60_000,
    },
    workerStage: {
      type: 'boolean',
      help: 'add a hash stage (SHA-256 per reading) between enrich and aggregate, run on worker threads',
    },
    hashThreads: {
      type: 'number',
      help: 'with --worker-stage: worker threads, one hasher actor on each',
      default: 2,
      min: 1,
      max: 64,
    },
    hashRounds: {
      type: 'number',
      help: 'with --worker-stage: SHA-256 rounds per reading (CPU cost of the stage)',
      default: 1,
      min: 1,
      max: 100_000,
    },
    hashChunk: {
      type: 'number',
      help: 'with --worker-stage: readings per message to a hasher (capped at --capacity)',
      default: 32,
      min: 1,
      max: 100_000,
    },
    json: { type: 'boolean', help: 'print the summary as one JSON line instead of text' },
  },
);

const signalNumbers: Record<string, number> = { SIGINT: 2, SIGTERM: 15 };
const system = await ActorSystem.start({
  name: 'pipeline',
  logger: consoleLogger('warn'),
  // On Ctrl-C: stop feeding, let the coordinated shutdown drain the stages, print the report, exit 130.
  exitOnSignal: false,
  exitCodeOnSignal: (signal) => 128 + (signalNumbers[signal] ?? 0),
  // Host threads start lazily: none without --worker-stage.
  workers: { size: flags.hashThreads },
});

// Every stage gets a bounded mailbox whose senders wait for room.
const mailbox: MailboxOptions = { capacity: flags.capacity, overflow: 'backpressure' };
const flushTimeoutMs = 30_000;
// Spawned from the end of the line backwards, so each stage can be given the next.
const aggregate = system.spawn(Aggregator, {
  name: 'aggregate',
  mailbox,
  input: { checkpointEvery: flags.checkpointEvery, checkpointMs: flags.checkpointMs },
});
// The hash stage keeps at most `capacity` readings out on its threads, as many as its mailbox holds.
const hash = flags.workerStage
  ? system.spawn(HashStage, {
      name: 'hash',
      mailbox,
      input: {
        next: aggregate,
        flushTimeoutMs,
        threads: flags.hashThreads,
        rounds: flags.hashRounds,
        chunk: Math.min(flags.hashChunk, flags.capacity),
        window: flags.capacity,
        hashTimeoutMs: flushTimeoutMs,
      },
    })
  : undefined;
const afterEnrich: ActorRef<HashStageMsg> = hash ?? aggregate;
const enrich = system.spawn(Enricher, { name: 'enrich', mailbox, input: { next: afterEnrich, flushTimeoutMs } });
const parse = system.spawn(Parser, { name: 'parse', mailbox, input: { next: enrich, flushTimeoutMs } });
const stages = hash === undefined ? [parse, enrich, aggregate] : [parse, enrich, hash, aggregate];
const stageNames = stages.map((ref) => ref.name);
// What can be queued at once: every stage's mailbox, plus the hash stage's window out on the threads.
const maxQueued = (stages.length + (hash === undefined ? 0 : 1)) * flags.capacity;

let peakHeap = process.memoryUsage().heapUsed;
const sampler = setInterval(() => {
  peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
}, 5);

if (!flags.json) {
  const hashLabel = `hash (${flags.hashThreads} worker thread${flags.hashThreads === 1 ? '' : 's'}, ${int(flags.hashRounds)} SHA-256 round${flags.hashRounds === 1 ? '' : 's'})`;
  const line = stageNames.map((n) => (n === 'hash' ? hashLabel : n)).join(' → ');
  console.log(
    `pipeline: ${int(flags.lines)} lines → ${line} (mailbox capacity ${int(flags.capacity)}, overflow: backpressure); Ctrl-C to interrupt`,
  );
}
const t0 = performance.now();
let sent = 0;
while (sent < flags.lines && system.state === 'running') {
  // The source waits here whenever the parser's mailbox is full.
  await parse.send({ type: 'line', text: makeLine(sent) });
  sent++;
  // Like a socket reader, the source hands the event loop back between chunks.
  // (Needed: a promise-only loop of sends and async handlers never yields by itself.)
  if (sent % flags.batch === 0) await yieldToEventLoop();
}
if (system.state !== 'running') {
  clearInterval(sampler);
  const report = await system.shutdown();
  console.log(`pipeline: interrupted after ${int(sent)} of ${int(flags.lines)} lines`);
  console.log(formatShutdownReport(report));
  process.exit(report.exitCode);
}
const result = await parse.ask<FlushResult>({ type: 'flush' }, { timeoutMs: flushTimeoutMs });
const elapsedMs = performance.now() - t0;
clearInterval(sampler);
peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);

const metrics = stages.map((ref) => system.metrics(ref) as ActorMetrics);
const report = await system.shutdown();

const perSec = (n: number) => (n / elapsedMs) * 1000;
const summary = {
  lines: flags.lines,
  capacity: flags.capacity,
  workerStage: flags.workerStage,
  ...(flags.workerStage ? { hashThreads: flags.hashThreads, hashRounds: flags.hashRounds } : {}),
  mainThreadId: threadId,
  elapsedMs,
  throughputPerSec: perSec(flags.lines),
  ...result,
  stages: metrics.map((m) => ({
    path: m.path,
    processed: m.processed,
    throughputPerSec: perSec(m.processed),
    mailboxHighWater: m.mailboxHighWater,
    meanHandlingMs: m.handlingMs.mean,
  })),
  peakHeapBytes: peakHeap,
  report,
};

if (flags.json) {
  console.log(JSON.stringify(summary));
} else {
  console.log('results:');
  console.log(
    table([
      ['throughput', `${int(summary.throughputPerSec)} lines/s  (${(elapsedMs / 1000).toFixed(2)} s)`],
      ['parsed', `${int(result.parsed)}  (malformed ${int(result.malformed)})`],
      ['enriched', `${int(result.enriched)}  (unknown sensor ${int(result.unknownSensor)})`],
      ...(hash === undefined ? [] : ([['hashed', `${int(result.hashed)}  (checksum ${result.checksum})`]] as const)),
      ['aggregated', `${int(result.aggregated)}  (${int(result.checkpoints)} checkpoints written)`],
      ['peak heap', `${mb(peakHeap)}  (at most ${int(maxQueued)} messages queued at any time)`],
    ]),
  );
  // Every stage runs for the whole run, so its throughput is what it handled per second of it;
  // mean handling (the sampled time per message) says how much of that time it was busy.
  console.log('  stage       processed   mailbox high-water   mean handling    throughput');
  const row = (name: string, processed: number, where: string, meanMs: number) =>
    `  ${name.padEnd(10)} ${int(processed).padStart(10)}   ${where.padStart(18)}   ${meanMs.toFixed(4).padStart(9)} ms   ${`${int(perSec(processed))}/s`.padStart(11)}`;
  for (const m of metrics) {
    const name = m.path.split('/').pop() as string;
    console.log(row(name, m.processed, `${int(m.mailboxHighWater)} / ${int(flags.capacity)}`, m.handlingMs.mean));
  }
  // The hashers, as measured inside their threads (handling = hashing time only).
  for (const h of result.hashers) {
    console.log(row(`  ${h.name}`, h.hashed, `on thread ${h.threadId}`, h.hashed > 0 ? h.busyMs / h.hashed : 0));
  }
  console.log('  sites:');
  for (const s of result.sites) {
    console.log(
      `    ${s.site.padEnd(6)} ${int(s.count).padStart(9)} readings, mean ${s.mean.toFixed(2)} °C (min ${s.min.toFixed(2)}, max ${s.max.toFixed(2)})`,
    );
  }
  console.log();
  console.log(formatShutdownReport(report));
}
process.exitCode = report.exitCode;
