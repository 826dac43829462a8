/**
 * The code that runs inside a worker host thread (all of it is in this
 * folder): the thread's port becomes a transport, and a host runtime serves
 * the main thread's proxies over it. The hosted actors are real cells (own
 * mailbox, children, timers, supervision of their children) whose own
 * supervisor is their proxy on the main thread.
 *
 * There is no ActorSystem here: signals, shutdown and the tree's root belong
 * to the main thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { startHostRuntime } from '../internal/HostRuntime.js';
import type { HostWorkerData } from '../internal/WorkerTransport.js';
import { PortTransport } from './PortTransport.js';

if (parentPort === null) throw new Error('@troupe/core worker entry must run in a worker thread');
const { address, askTimeoutMs } = workerData as HostWorkerData;

startHostRuntime(new PortTransport(parentPort, 'main thread'), { address, askTimeoutMs });
