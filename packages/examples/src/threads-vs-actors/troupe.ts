import { type ActorRef, type ActorSystem, workerActor } from '@troupe/core';
import { siblingModule } from '../shared/workerModule.js';
import type { HasherInput, HasherMsg, RunResult } from './protocol.js';

/** The hasher actor, as a worker thread finds it: module URL + export name. */
export const HasherSpec = workerActor<HasherMsg, HasherInput>(siblingModule(import.meta.url, 'Hasher'), 'Hasher');

/**
 * Design (b): a pool of Troupe worker actors, one per host thread, fed with
 * asks, up to `outstanding` of them in flight at once (an equal share per
 * actor). Each thread always has jobs queued in its actor's mailbox, and the
 * runtime carries many asks and replies per `postMessage`, so the threads
 * hash instead of waiting.
 */
export async function runTroupe(
  system: ActorSystem,
  items: number,
  rounds: number,
  threads: number,
  outstanding: number,
): Promise<RunResult> {
  const pool: ActorRef<HasherMsg>[] = Array.from({ length: threads }, (_, i) =>
    system.spawnWorker(HasherSpec, { name: `hasher-${i}`, host: i, input: { rounds } }),
  );
  // Start the clock when every actor runs (its thread is up), as the naive run does.
  const threadIds = await Promise.all(pool.map((h) => h.ask<number>({ type: 'where' }, { timeoutMs: 60_000 })));
  const digests = new Array<string>(items);
  // Generous: with many asks queued, the last one waits for all those ahead of it.
  const timeoutMs = 120_000;
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    let next = 0;
    let done = 0;
    // Each hasher keeps its share of the outstanding asks; when one of its
    // answers comes back, it gets the next job. (Dealing the next job
    // round-robin instead would split each thread's batch in two every round
    // trip, down to one job per post: the threads finish at different times.)
    const issue = (hasher: ActorRef<HasherMsg>) => {
      const id = next++;
      hasher.ask<string>({ type: 'hash', id }, { timeoutMs }).then((digest) => {
        digests[id] = digest;
        if (++done === items) resolve();
        else if (next < items) issue(hasher);
      }, reject);
    };
    const share = Math.ceil(outstanding / threads);
    for (let k = 0; k < share; k++) for (const hasher of pool) if (next < items) issue(hasher);
  });
  const elapsedMs = performance.now() - t0;
  await Promise.all(pool.map((h) => system.stop(h)));
  return { digests, elapsedMs, threadIds };
}
