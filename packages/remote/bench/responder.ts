/**
 * The other process of the remote benchmark: receives one-way traffic and
 * answers requests, for every contender (raw @nats-io, Moleculer,
 * NatsTransport, and Troupe actors: an actor system joined to the cluster
 * as its own node, with a counting actor and an echoing one).
 * Driven over IPC by `remote.bench.ts`; reports when a one-way run is complete.
 */
import { connect } from '@nats-io/transport-node';
import { ActorSystem, defineActor, silentLogger } from '@troupe/core';
import { joinCluster, Node } from '@troupe/remote';
import { ServiceBroker } from 'moleculer';
import { type BenchMsg, Op } from './ops.js';

const [url, cluster] = process.argv.slice(2) as [string, string];
const send = (m: unknown) => process.send?.(m);

// Raw @nats-io: count one-way messages, answer requests.
const nc = await connect({ servers: url });
let rawExpected = 0;
let rawCount = 0;
nc.subscribe('bench.raw.oneway', {
  callback: () => {
    if (++rawCount === rawExpected) send({ ev: 'done', contender: 'raw' });
    if (process.env.BENCH_DEBUG && rawCount % 10000 === 0) console.error('raw', rawCount, rawExpected);
  },
});
nc.subscribe('bench.raw.rr', {
  callback: (_e, m) => {
    m.respond(m.data);
  },
});

// Moleculer: one service with an echo action and a one-way event.
const broker = new ServiceBroker({
  nodeID: 'bench-responder',
  transporter: { type: 'NATS', options: { url } },
  logger: false,
});
broker.createService({
  name: 'bench',
  actions: { echo: (ctx: { params: unknown }) => ctx.params },
});
await broker.start();

// NatsTransport: frames in batches; Op.Tell counted, Op.Ask answered with Op.Reply.
const node = await Node.join({ servers: url, cluster, node: 'responder', registry: false });
let framesExpected = 0;
let frames = 0;
node.on('transport', (t) => {
  t.onBatch((batch) => {
    let replies: unknown[] | undefined;
    for (let i = 0; i < batch.length; i += 3) {
      const op = batch[i];
      if (op === Op.Tell) frames++;
      else if (op === Op.Ask) (replies ??= []).push(Op.Reply, batch[i + 1], batch[i + 2]);
    }
    if (replies !== undefined) t.post(replies);
    if (framesExpected > 0 && frames >= framesExpected) {
      framesExpected = 0;
      send({ ev: 'done', contender: 'transport' });
    }
  });
});

// Troupe actors: a counter that reports when the expected number of tells arrived, and an echo.
const system = await ActorSystem.start({ name: 'responder-actors', signals: false, logger: silentLogger });
const actors = await joinCluster(system, { servers: url, cluster, node: 'responder-actors', registry: false });
const Counter = defineActor<BenchMsg | { type: 'expect'; n: number }, { count: number; expected: number }>({
  init: () => ({ count: 0, expected: 0 }),
  receive: (s, m) => {
    if (m.type === 'expect') {
      s.count = 0;
      s.expected = m.n;
      send({ ev: 'armed' });
      return;
    }
    if (++s.count === s.expected) send({ ev: 'done', contender: 'actors' });
  },
});
const Echo = defineActor<BenchMsg, undefined>({
  init: () => undefined,
  receive: (_s, m, ctx) => ctx.reply(m),
});
const counter = system.spawn(Counter, { name: 'counter' });
const echo = system.spawn(Echo, { name: 'echo' });

process.on('message', (m: { cmd: string; n?: number }) => {
  if (m.cmd === 'expect-raw') {
    rawCount = 0;
    rawExpected = m.n ?? 0;
    send({ ev: 'armed' });
  } else if (m.cmd === 'expect-frames') {
    frames = 0;
    framesExpected = m.n ?? 0;
    send({ ev: 'armed' });
  } else if (m.cmd === 'expect-actor') {
    counter.tell({ type: 'expect', n: m.n ?? 0 });
  } else if (m.cmd === 'quit') {
    void (async () => {
      await node.leave({ timeoutMs: 1_000 });
      await system.shutdown();
      await broker.stop();
      await nc.close();
      process.exit(0);
    })();
  }
});
process.on('disconnect', () => process.exit(0));
send({
  ev: 'ready',
  incarnation: node.incarnation,
  counter: actors.addressOf(counter),
  echo: actors.addressOf(echo),
});
