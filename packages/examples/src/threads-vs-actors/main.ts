/**
 * threads-vs-actors: one CPU-bound workload (N items, each SHA-256 applied R
 * times to a 1 KiB buffer) done three ways, and the results compared digest
 * by digest:
 *
 *   baseline  the main thread alone, no messaging (the reference digests);
 *   (a)       threads + a shared queue: raw worker_threads pulling one job
 *             per postMessage round trip, as the seed design did;
 *   (b)       a Troupe pool: one worker actor per host thread, fed with asks,
 *             many outstanding.
 *
 *   node --conditions=source --import tsx packages/examples/src/threads-vs-actors/main.ts --items 50000 --rounds 4 --threads 2
 */
import { threadId } from 'node:worker_threads';
import { ActorSystem, consoleLogger } from '@troupe/core';
import { parseFlagsOrExit } from '../shared/cli.js';
import { int, table } from '../shared/format.js';
import { runNaive } from './naive.js';
import type { RunResult } from './protocol.js';
import { runTroupe } from './troupe.js';
import { fingerprint, hashItem, ITEM_BYTES } from './workload.js';

const flags = parseFlagsOrExit(
  'threads-vs-actors',
  'The same hashing workload with raw threads + a shared job queue, and with a pool of Troupe worker actors.',
  {
    items: { type: 'number', help: 'items to hash (N)', default: 20_000, min: 1, max: 10_000_000 },
    rounds: {
      type: 'number',
      help: `SHA-256 rounds per item (R); the first over ${ITEM_BYTES} bytes`,
      default: 4,
      min: 1,
      max: 1_000_000,
    },
    threads: { type: 'number', help: 'worker threads in each design', default: 2, min: 1, max: 64 },
    outstanding: {
      type: 'number',
      help: 'Troupe design: asks in flight at once, over the whole pool',
      default: 1_000,
      min: 1,
      max: 1_000_000,
    },
    json: { type: 'boolean', help: 'print the summary as one JSON line instead of text' },
  },
);

const { items, rounds, threads, outstanding } = flags;
const perSec = (r: { elapsedMs: number }) => (items / r.elapsedMs) * 1000;
const seconds = (r: { elapsedMs: number }) => `${(r.elapsedMs / 1000).toFixed(2)} s`;

if (!flags.json) {
  console.log(
    `threads-vs-actors: ${int(items)} items × SHA-256 ×${int(rounds)} of ${ITEM_BYTES} bytes, ${threads} thread${threads === 1 ? '' : 's'} per design`,
  );
}

// The reference: every digest computed right here, with no thread or message involved.
const b0 = performance.now();
const reference: string[] = new Array(items);
for (let i = 0; i < items; i++) reference[i] = hashItem(i, rounds);
const baseline: RunResult = { digests: reference, elapsedMs: performance.now() - b0, threadIds: [threadId] };

const naive = await runNaive(items, rounds, threads);

const system = await ActorSystem.start({
  name: 'threads-vs-actors',
  logger: consoleLogger('warn'),
  workers: { size: threads },
});
const troupe = await runTroupe(system, items, rounds, threads, outstanding);
const report = await system.shutdown();

/** Items whose digest differs from the reference (first few indices). */
function mismatches(r: RunResult): number[] {
  const bad: number[] = [];
  for (let i = 0; i < items && bad.length < 5; i++) if (r.digests[i] !== reference[i]) bad.push(i);
  return bad;
}
const naiveBad = mismatches(naive);
const troupeBad = mismatches(troupe);
const identical = naiveBad.length === 0 && troupeBad.length === 0;
const ratio = perSec(troupe) / perSec(naive);

const summary = {
  items,
  rounds,
  threads,
  outstanding,
  mainThreadId: threadId,
  baseline: { elapsedMs: baseline.elapsedMs, itemsPerSec: perSec(baseline) },
  naive: {
    elapsedMs: naive.elapsedMs,
    itemsPerSec: perSec(naive),
    threadIds: naive.threadIds,
    fingerprint: fingerprint(naive.digests),
  },
  troupe: {
    elapsedMs: troupe.elapsedMs,
    itemsPerSec: perSec(troupe),
    threadIds: troupe.threadIds,
    fingerprint: fingerprint(troupe.digests),
  },
  ratio,
  identical,
  fingerprint: fingerprint(reference),
  exitCode: identical ? report.exitCode : 1,
};

if (flags.json) {
  console.log(JSON.stringify(summary));
} else {
  const threadList = (r: RunResult) => `thread${r.threadIds.length === 1 ? '' : 's'} ${r.threadIds.join(', ')}`;
  console.log('results:');
  console.log(
    table([
      ['main thread alone', `${int(perSec(baseline))} items/s  (${seconds(baseline)})  the reference, no messaging`],
      [
        'threads + shared queue',
        `${int(perSec(naive))} items/s  (${seconds(naive)})  one job per postMessage round trip; ${threadList(naive)}`,
      ],
      [
        'troupe worker actors',
        `${int(perSec(troupe))} items/s  (${seconds(troupe)})  ${int(outstanding)} asks outstanding; ${threadList(troupe)}`,
      ],
      ['ratio', `${ratio.toFixed(2)}× (troupe / threads + shared queue)`],
      [
        'digests',
        identical
          ? `identical in all three (${int(items)} items, fingerprint ${summary.fingerprint.slice(0, 16)})`
          : `DIFFERENT: threads + shared queue at items [${naiveBad.join(', ')}], troupe at items [${troupeBad.join(', ')}]`,
      ],
    ]),
  );
}
process.exitCode = summary.exitCode;
