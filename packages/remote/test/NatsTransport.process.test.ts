/**
 * NatsTransport between real `node` processes through a real nats-server:
 * FIFO with chunked batches, credits, kill -9, restarts of a node and of the
 * server, graceful leave. No NATS mock anywhere.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type NatsServer, startNatsServer } from './helpers/NatsServer.js';
import { eventually, PeerProcess } from './helpers/PeerProcess.js';

let server: NatsServer;
const peers: PeerProcess[] = [];
let clusterNo = 0;
/** The cluster name of the running test. */
let current = '';

beforeAll(async () => {
  // A small max_payload, so that batches of a few hundred KB are cut into many chunks.
  server = await startNatsServer({ maxPayload: 64 * 1024 });
});
afterEach(async () => {
  await Promise.all(peers.splice(0).map((p) => p.stop()));
  if (!server.running) await server.start();
});
afterAll(async () => {
  await server?.close();
});

/** Start peers in a fresh cluster and wait until each sees all the others. */
async function cluster(names: string[], extra: Record<string, unknown> = {}): Promise<PeerProcess[]> {
  const name = `t${process.pid}x${clusterNo++}`;
  current = name;
  const started = await Promise.all(
    names.map((node) => PeerProcess.start({ servers: server.url, cluster: name, node, registry: false, ...extra })),
  );
  peers.push(...started);
  for (const p of started)
    for (const other of started)
      if (other !== p) await p.waitFor((e) => e.ev === 'member-up' && e.node === other.name, 15_000);
  return started;
}

async function received(p: PeerProcess, from: string) {
  const r = await p.report();
  return r.received[from] as
    | { count: number; last: number; gaps: number; violations: number; corrupt: number; bytes: number }
    | undefined;
}

describe('NatsTransport across processes', () => {
  it('delivers every batch in send order between three processes, also batches cut into many chunks', async () => {
    const [a, b, c] = await cluster(['a', 'b', 'c']);
    const all = [a!, b!, c!];
    // Each sends 300 batches to each other: small ones, and every 25th of 500 KB (8 chunks at 64 KiB).
    await Promise.all(
      all.flatMap((p) =>
        all
          .filter((q) => q !== p)
          .map((q) =>
            p.call(
              { cmd: 'send', to: q.name, batches: 300, payloadBytes: 200, bigEvery: 25, bigBytes: 500_000 },
              'sent',
            ),
          ),
      ),
    );
    for (const p of all)
      for (const q of all) {
        if (q === p) continue;
        const r = await eventually(
          async () => {
            const got = await received(p, q.name);
            return got !== undefined && got.count >= 300 ? got : undefined;
          },
          30_000,
          `300 batches at ${p.name} from ${q.name}`,
        );
        expect(r).toMatchObject({ count: 300, last: 299, gaps: 0, violations: 0, corrupt: 0 });
        expect(r.bytes).toBe(288 * 200 + 12 * 500_000);
      }
    const rep = await a!.report();
    expect(rep.transports.b.chunksPublished).toBeGreaterThan(300 + 12 * 6);
    expect(rep.stats.droppedTotal).toBe(0);
  });

  it('holds a fast sender to the credit window while the receiver is paused, and loses nothing', async () => {
    const windowBytes = 1024 * 1024;
    const [a, b] = await cluster(['a', 'b'], { transport: { windowBytes } });
    await a!.call({ cmd: 'send', to: 'b', batches: 1, payloadBytes: 10 }, 'sent');
    await eventually(async () => ((await received(b!, 'a'))?.count === 1 ? true : undefined), 10_000, 'first batch');
    b!.command({ cmd: 'pause', from: 'a' });
    await new Promise((r) => setTimeout(r, 100));
    // 100 x 256 KB = 25 MB, 25 windows' worth.
    await a!.call({ cmd: 'send', to: 'b', batches: 100, payloadBytes: 256 * 1024 }, 'sent');
    await new Promise((r) => setTimeout(r, 1_500));
    const sender = (await a!.report()).transports.b;
    const receiver = (await b!.report()).transports.a;
    expect(sender.inFlightBytes).toBeLessThanOrEqual(windowBytes + 64 * 1024);
    expect(sender.queuedBytes).toBeGreaterThan(20 * 1024 * 1024);
    expect(receiver.backlogBatches).toBeLessThanOrEqual(Math.ceil(windowBytes / (256 * 1024)) + 1);
    expect((await received(b!, 'a'))?.count).toBe(1);
    b!.command({ cmd: 'resume', from: 'a' });
    const r = await eventually(
      async () => {
        const got = await received(b!, 'a');
        return got !== undefined && got.count === 101 ? got : undefined;
      },
      30_000,
      'all 101 batches after resume',
    );
    expect(r).toMatchObject({ gaps: 0, violations: 0, corrupt: 0 });
    // The server never cut the receiver off as a slow consumer.
    expect(b!.events.filter((e) => e.ev === 'node-status')).toEqual([]);
  });

  it('declares a kill -9ed node dead within the detection bound and closes its transports as peer-dead', async () => {
    const timing = { heartbeatIntervalMs: 250, deadAfterMs: 1_500, checkIntervalMs: 125 };
    const [a, b, c] = await cluster(['a', 'b', 'c'], timing);
    const boundMs = timing.deadAfterMs + timing.checkIntervalMs;
    // a has a live transport to c, with traffic on it.
    await a!.call({ cmd: 'send', to: 'c', batches: 20, payloadBytes: 100 }, 'sent');
    await eventually(async () => ((await received(c!, 'a'))?.count === 20 ? true : undefined), 10_000, 'traffic to c');
    a!.command({ cmd: 'stream', to: 'c', everyMs: 10, payloadBytes: 100 });
    const killedAt = Date.now();
    c!.kill('SIGKILL');
    for (const p of [a!, b!]) {
      const down = await p.waitFor((e) => e.ev === 'member-down' && e.node === 'c', boundMs + 10_000);
      expect(down.reason).toBe('dead');
      expect(down.incarnation).toBe(c!.incarnation);
      // Generous slack for a loaded machine; the bound itself is 1 625 ms here.
      expect(down.at - killedAt).toBeLessThan(boundMs + 2_000);
    }
    const closed = await a!.waitFor((e) => e.ev === 'transport-closed' && e.peer === 'c');
    expect(closed.reason).toBe('peer-dead');
    expect(closed.detail).toContain('no heartbeat');
    // Sends to the dead node are refused (counted), nothing hangs, and a <-> b still works.
    const refusedBefore = (await a!.report()).refused.c ?? 0;
    await new Promise((r) => setTimeout(r, 200));
    expect((await a!.report()).refused.c).toBeGreaterThan(refusedBefore);
    await a!.call({ cmd: 'send', to: 'b', batches: 10, payloadBytes: 100 }, 'sent');
    await eventually(async () => ((await received(b!, 'a'))?.count === 10 ? true : undefined), 10_000, 'a -> b after');
    expect((await a!.report()).members).toEqual(['b']);
  });

  it('quarantines a node that was declared dead but was only frozen (SIGSTOP), and it learns so when it wakes', async () => {
    const timing = { heartbeatIntervalMs: 250, deadAfterMs: 1_500, checkIntervalMs: 125 };
    const [a, b] = await cluster(['a', 'b'], timing);
    await a!.call({ cmd: 'send', to: 'b', batches: 5, payloadBytes: 10 }, 'sent');
    await eventually(async () => ((await received(b!, 'a'))?.count === 5 ? true : undefined), 10_000, 'traffic');
    b!.kill('SIGSTOP');
    const down = await a!.waitFor((e) => e.ev === 'member-down' && e.node === 'b', 10_000);
    expect(down.reason).toBe('dead');
    b!.kill('SIGCONT');
    // b's own checks ran late (it was frozen), so b does not declare a dead; a tells b it is quarantined.
    const q = await b!.waitFor((e) => e.ev === 'member-down' && e.node === 'a', 10_000);
    expect(q.reason).toBe('quarantined');
    const closed = await b!.waitFor((e) => e.ev === 'transport-closed' && e.peer === 'a');
    expect(closed.reason).toBe('peer-dead');
    expect(closed.detail).toContain('declared this node dead');
    expect((await b!.report()).members).toEqual([]);
  });

  it('treats a restarted node as a new incarnation and ends the old one at once', async () => {
    // A long detection time, so that only the new incarnation's heartbeat can end the old one in time.
    const timing = { deadAfterMs: 20_000 };
    const [a, b] = await cluster(['a', 'b'], timing);
    const old = b!.incarnation;
    b!.kill('SIGKILL');
    await b!.exited;
    const b2 = await PeerProcess.start({
      servers: server.url,
      cluster: current,
      node: 'b',
      registry: false,
      ...timing,
    });
    peers.push(b2);
    expect(b2.incarnation).not.toBe(old);
    const down = await a!.waitFor((e) => e.ev === 'member-down' && e.incarnation === old, 5_000);
    expect(down.reason).toBe('replaced');
    await a!.waitFor((e) => e.ev === 'member-up' && e.incarnation === b2.incarnation, 5_000);
    await a!.call({ cmd: 'send', to: 'b', batches: 5, payloadBytes: 10 }, 'sent');
    const r = await eventually(
      async () => ((await received(b2, 'a'))?.count === 5 ? received(b2, 'a') : undefined),
      10_000,
      'batches at the new incarnation',
    );
    expect(r).toMatchObject({ last: 4, violations: 0 });
  });

  it('rides out a NATS server restart: down and up, posts in the outage refused and counted, FIFO after', async () => {
    const [a, b] = await cluster(['a', 'b']);
    a!.command({ cmd: 'stream', to: 'b', everyMs: 5, payloadBytes: 100 });
    await eventually(async () => (((await received(b!, 'a'))?.count ?? 0) > 50 ? true : undefined), 10_000, 'stream');
    await server.restart(1_500);
    await a!.waitFor((e) => e.ev === 'node-status' && e.up === true, 15_000);
    const atReconnect = (await received(b!, 'a'))?.count ?? 0;
    await eventually(
      async () => (((await received(b!, 'a'))?.count ?? 0) > atReconnect + 50 ? true : undefined),
      15_000,
      'traffic after the reconnect',
    );
    a!.command({ cmd: 'stop-stream' });
    await new Promise((r) => setTimeout(r, 500));
    const ra = await a!.report();
    const rb = await received(b!, 'a');
    expect(a!.events.some((e) => e.ev === 'node-status' && e.up === false)).toBe(true);
    expect(a!.events.some((e) => e.ev === 'status' && e.peer === 'b' && e.up === false)).toBe(true);
    expect(ra.refused.b).toBeGreaterThan(0);
    expect(ra.transports.b.refusedDown).toBe(ra.refused.b);
    expect(rb).toMatchObject({ violations: 0, corrupt: 0 });
    // Everything after the reconnect arrived: the last batch is the last one accepted.
    expect(rb!.last).toBe(ra.sent.b - 1);
    // What may be lost: the client's buffer when the server died, and what a published after its reconnect
    // and before b's (the two clients reconnect at jittered times, 250 ms apart or more). Each lost batch is
    // counted by b's receiver, exactly; and far fewer are lost than the stream sent during the outage.
    const lost = ra.sent.b - rb!.count;
    expect((await b!.report()).transports.a.lostBatches).toBe(lost);
    expect(lost).toBeLessThan(200);
    // Nobody was declared dead over a 1.5 s outage.
    expect([...a!.events, ...b!.events].filter((e) => e.ev === 'member-down')).toEqual([]);
  });

  it('keeps a sender with a small credit window going after a server restart (credit lost in the outage is recovered)', async () => {
    // 32 KiB window, 8 KB batches every 5 ms: the window is nearly always full, so credits die with the server.
    const [a, b] = await cluster(['a', 'b'], { transport: { windowBytes: 32 * 1024, stallMs: 300 } });
    a!.command({ cmd: 'stream', to: 'b', everyMs: 5, payloadBytes: 8_000 });
    await eventually(async () => (((await received(b!, 'a'))?.count ?? 0) > 50 ? true : undefined), 10_000, 'stream');
    await server.restart(1_000);
    await a!.waitFor((e) => e.ev === 'node-status' && e.up === true, 15_000);
    const atReconnect = (await received(b!, 'a'))?.count ?? 0;
    await eventually(
      async () => (((await received(b!, 'a'))?.count ?? 0) > atReconnect + 100 ? true : undefined),
      15_000,
      'traffic long after the reconnect',
    );
    a!.command({ cmd: 'stop-stream' });
    const rb = await received(b!, 'a');
    expect(rb).toMatchObject({ violations: 0, corrupt: 0 });
    const sender = (await a!.report()).transports.b;
    expect(sender.inFlightBytes).toBeLessThanOrEqual(32 * 1024 + 8_100);
  });

  it('on a graceful leave, delivers everything sent before it and closes the pair as closed, not peer-dead', async () => {
    const [a, b] = await cluster(['a', 'b']);
    await a!.call({ cmd: 'send', to: 'b', batches: 300, payloadBytes: 1_000, bigEvery: 50, bigBytes: 300_000 }, 'sent');
    const left = await a!.call({ cmd: 'leave' }, 'left');
    expect(left.report.drained).toBe(true);
    const down = await b!.waitFor((e) => e.ev === 'member-down' && e.node === 'a');
    expect(down.reason).toBe('left');
    const closed = await b!.waitFor((e) => e.ev === 'transport-closed' && e.peer === 'a');
    expect(closed.reason).toBe('closed');
    const r = await received(b!, 'a');
    expect(r).toMatchObject({ count: 300, last: 299, gaps: 0, violations: 0, corrupt: 0 });
    expect(await a!.exited).toMatchObject({ code: 0 });
  });
});
