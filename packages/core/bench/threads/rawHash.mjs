// Raw worker_threads reference for the CPU-bound case: one post per task, one post back.
import { parentPort } from 'node:worker_threads';
import { hashBlocks } from './hashBlocks.mjs';

const port = parentPort;
port.on('message', (m) => port.postMessage(hashBlocks(m.seed, m.blocks)));
