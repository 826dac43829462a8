// Worker threads do not inherit tsx's loader hooks. When Troupe runs from its
// TypeScript sources (tests, development), a host thread starts here: it
// registers tsx inside the thread, then loads the real entry.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.tsEntry);
