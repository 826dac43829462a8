import { Worker } from 'node:worker_threads';

/**
 * Start a raw `worker_threads` Worker on `entry` (a module URL), TypeScript or
 * not: a `.ts` entry boots through `ts-worker-boot.mjs`, which registers tsx in
 * the thread first. `workerData` reaches the entry as `workerData.data`.
 */
export function startRawWorker(entry: URL, data: unknown): Worker {
  const fromSource = entry.pathname.endsWith('.ts');
  const boot = fromSource ? new URL('./ts-worker-boot.mjs', import.meta.url) : entry;
  return new Worker(boot, { workerData: { entry: entry.href, data } });
}
