// Raw worker threads do not inherit tsx's loader hooks. A thread whose code is
// TypeScript (the examples run from sources) starts here: it registers tsx
// inside the thread, then loads the real entry. (@troupe/core does the same
// for its host threads; this is for the examples' own raw workers.)
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
