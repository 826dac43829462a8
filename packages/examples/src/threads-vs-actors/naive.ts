import type { Worker } from 'node:worker_threads';
import { startRawWorker } from '../shared/rawWorker.js';
import { siblingModule } from '../shared/workerModule.js';
import type { NaiveJob, NaiveReport, RunResult } from './protocol.js';

/**
 * Design (a), "threads + a shared queue", the way the seed design did it: a
 * job queue on the main thread and `threads` raw workers, each pulling one
 * job per `postMessage` round trip (result in, next job out).
 *
 * It is correct and simple, and it leaves each thread idle for a whole round
 * trip per job: when a job takes less than a round trip, the threads spend
 * most of their time waiting for the main thread.
 */
export async function runNaive(items: number, rounds: number, threads: number): Promise<RunResult> {
  const entry = siblingModule(import.meta.url, 'naiveWorker');
  const workers: Worker[] = Array.from({ length: threads }, () => startRawWorker(entry, { rounds }));
  const digests = new Array<string>(items);
  // The shared queue: jobs 0..items-1, taken in order (a cursor over them).
  let nextJob = 0;
  let done = 0;
  const threadIds: number[] = [];
  let t0 = 0;

  const elapsedMs = await new Promise<number>((resolve, reject) => {
    const give = (w: Worker) => {
      if (nextJob < items) w.postMessage({ type: 'job', id: nextJob++ } satisfies NaiveJob);
    };
    for (const w of workers) {
      w.on('error', reject);
      w.on('exit', (code) => {
        if (done < items) reject(new Error(`a naive worker exited with code ${code} before the work was done`));
      });
      w.on('message', (m: NaiveReport) => {
        if (m.type === 'ready') {
          threadIds.push(m.threadId);
          // Start the clock when every thread is up, as the Troupe run does.
          if (threadIds.length === threads) {
            t0 = performance.now();
            for (const each of workers) give(each);
          }
          return;
        }
        digests[m.id] = m.digest;
        if (++done === items) resolve(performance.now() - t0);
        else give(w);
      });
    }
  });
  for (const w of workers) w.postMessage({ type: 'stop' } satisfies NaiveJob);
  await Promise.all(workers.map((w) => w.terminate()));
  return { digests, elapsedMs, threadIds };
}
