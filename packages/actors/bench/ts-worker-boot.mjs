// Worker threads do not inherit tsx's loader hooks; this plain-JS entry
// registers them inside the worker, then loads the TypeScript bench file.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.tsFile);
