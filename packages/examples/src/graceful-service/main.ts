/**
 * graceful-service: a small HTTP service whose handlers ask long-lived actors
 * to do the work. On SIGTERM (or SIGINT) the actor system's coordinated
 * shutdown runs: intake stops (new requests get 503, the listening socket
 * closes), requests in flight finish, actors stop, the report is printed, and
 * the process exits 0.
 *
 *   node --conditions=source --import tsx packages/examples/src/graceful-service/main.ts --port 8080
 *   curl 'http://127.0.0.1:8080/work?input=hello'
 *   kill -TERM <pid>
 */
import { ActorSystem, consoleLogger, formatShutdownReport } from '@troupe/core';
import { parseFlagsOrExit } from '../shared/cli.js';
import { HttpFront } from './HttpFront.js';
import { Service } from './Service.js';

const flags = parseFlagsOrExit(
  'graceful-service',
  'An HTTP service backed by actors, with coordinated shutdown on SIGTERM/SIGINT.',
  {
    port: { type: 'number', help: 'port on 127.0.0.1 (0: any free port)', default: 0, min: 0, max: 65_535 },
    workers: { type: 'number', help: 'long-lived worker actors', default: 4, min: 1, max: 256 },
    workMs: { type: 'number', help: 'simulated I/O time per request, ms', default: 100, min: 0, max: 60_000 },
    timeoutMs: { type: 'number', help: 'how long a request waits for its worker, ms', default: 10_000, min: 1 },
  },
);

const system = await ActorSystem.start({
  name: 'graceful-service',
  logger: consoleLogger('warn'),
  // Exit by ourselves once the report is printed and the server is closed.
  exitOnSignal: false,
});

const service = system.spawn(Service, {
  name: 'service',
  input: { workers: flags.workers, workMs: flags.workMs, workTimeoutMs: flags.timeoutMs },
});
const http = new HttpFront(service, flags.timeoutMs + 1_000);

// Phase 1 of coordinated shutdown: stop taking work. The runtime closes its own
// intake (new asks from outside reject with ShuttingDownError); this closes the door in front of it.
system.onShutdown('stop-intake', 'http', () => {
  console.log(`shutting down: refusing new requests, ${http.stats.inFlight} in flight`);
  http.stopIntake();
});
// Last phase: every answer has been written (the drain phase waited for the
// actors); wait for the connections to end, cutting stragglers after 3 s.
system.onShutdown('before-exit', 'http-connections', () => http.whenClosed(3_000));

try {
  const port = await http.listen(flags.port);
  console.log(`listening on http://127.0.0.1:${port}  (pid ${process.pid}; stop with kill -TERM ${process.pid})`);
} catch (error) {
  console.error(`graceful-service: cannot listen on port ${flags.port}: ${(error as Error).message}`);
  await system.shutdown({ exitCode: 1 });
}

const report = await system.whenShutdown;
const { ok, refused, failed } = http.stats;
console.log(`served ${ok} requests (200), refused ${refused} (503), failed ${failed}`);
console.log(formatShutdownReport(report));
process.exitCode = report.exitCode;
// Everything is closed, so the process ends by itself; if some handle still
// holds it open (a bug), don't hang a deploy: leave anyway after a second.
setTimeout(() => {
  console.error('graceful-service: a handle kept the process alive after shutdown; exiting');
  process.exit(report.exitCode);
}, 1_000).unref();
