// Raw worker_threads reference for the ping-pong floor: answers the frame a Troupe
// ask posts (`[Ask, handle, { type: 'add', x }, replyId]`) with the frames a host
// posts back (`[Reply, replyId, x + 1, Credit, handle, 1, 1, 0]`), so that a round
// trip clones what Troupe's does and runs none of Troupe's code. The opcodes come
// from core's wire table (workerData), so they cannot drift from it.
import { parentPort, workerData } from 'node:worker_threads';

const { reply, credit } = workerData;
const port = parentPort;
port.on('message', (f) => {
  port.postMessage([reply, f[3], f[2].x + 1, credit, f[1], 1, 1, 0]);
});
