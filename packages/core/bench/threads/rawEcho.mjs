// Raw worker_threads reference: answers each post with one post, `x + 1` per number
// (a number, or an array of them when the main thread batches 1000 per post).
import { parentPort } from 'node:worker_threads';

const port = parentPort;
port.on('message', (m) => {
  if (typeof m === 'number') {
    port.postMessage(m + 1);
    return;
  }
  for (let i = 0; i < m.length; i++) m[i] = m[i] + 1;
  port.postMessage(m);
});
