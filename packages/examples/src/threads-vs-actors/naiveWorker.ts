/**
 * The naive design's worker thread, raw `worker_threads`: announce readiness,
 * then for each job posted to it, hash and post the result back, which is
 * also the request for its next job. It never has more than one job, so it
 * idles for a full round trip between jobs.
 */
import { parentPort, threadId, workerData } from 'node:worker_threads';
import type { HasherInput, NaiveJob, NaiveReport } from './protocol.js';
import { hashItem } from './workload.js';

const port = parentPort;
if (port === null) throw new Error('naiveWorker.ts must run in a worker thread');
const { rounds } = (workerData as { data: HasherInput }).data;

const post = (report: NaiveReport) => port.postMessage(report);
port.on('message', (job: NaiveJob) => {
  if (job.type === 'stop') {
    port.close();
    return;
  }
  post({ type: 'result', id: job.id, digest: hashItem(job.id, rounds) });
});
post({ type: 'ready', threadId });
