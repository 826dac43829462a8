/**
 * Joining over TLS with user/password (issue 10: credentials passed to NATS), with a
 * certificate the test makes with `openssl`; batches cross between two processes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterJoinError, Node } from '@troupe/remote';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestCertificate, type NatsServer, startNatsServer } from './helpers/NatsServer.js';
import { eventually, PeerProcess } from './helpers/PeerProcess.js';

let dir: string;
let server: NatsServer;
let cert: { certFile: string; keyFile: string; caFile: string };
const peers: PeerProcess[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'troupe-tls-'));
  cert = makeTestCertificate(dir);
  server = await startNatsServer({ tls: cert, user: 'troupe', pass: 's3cret pass' });
});
afterAll(async () => {
  await Promise.all(peers.map((p) => p.stop()));
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('joining over TLS with user and password', () => {
  it('exchanges batches between two processes through a TLS server that requires a password', async () => {
    const options = (node: string) => ({
      servers: server.url,
      cluster: 'tls',
      node,
      tls: { caFile: cert.caFile },
      user: 'troupe',
      pass: 's3cret pass',
    });
    const [a, b] = await Promise.all([PeerProcess.start(options('a')), PeerProcess.start(options('b'))]);
    peers.push(a, b);
    await a.waitFor((e) => e.ev === 'member-up' && e.node === 'b', 15_000);
    await b.waitFor((e) => e.ev === 'member-up' && e.node === 'a', 15_000);
    await Promise.all([
      a.call({ cmd: 'send', to: 'b', batches: 50, payloadBytes: 2_000, bigEvery: 10, bigBytes: 2_000_000 }, 'sent'),
      b.call({ cmd: 'send', to: 'a', batches: 50, payloadBytes: 2_000 }, 'sent'),
    ]);
    for (const [p, from] of [
      [b, 'a'],
      [a, 'b'],
    ] as const) {
      const r = await eventually(
        async () => {
          const got = (await p.report()).received[from];
          return got?.count === 50 ? got : undefined;
        },
        20_000,
        `50 batches at ${p.name}`,
      );
      expect(r).toMatchObject({ last: 49, gaps: 0, violations: 0, corrupt: 0 });
    }
  });

  it('fails to join with a ClusterJoinError when the password is wrong', async () => {
    const attempt = Node.join({
      servers: server.url,
      cluster: 'tls',
      node: 'intruder',
      tls: { caFile: cert.caFile },
      user: 'troupe',
      pass: 'wrong',
      registry: false,
    });
    await expect(attempt).rejects.toThrow(ClusterJoinError);
    await expect(attempt).rejects.toThrow(/Authorization|authorization/);
  });

  it('fails to join when the server certificate is not trusted', async () => {
    const attempt = Node.join({
      servers: server.url,
      cluster: 'tls',
      node: 'untrusting',
      tls: true,
      user: 'troupe',
      pass: 's3cret pass',
      registry: false,
      connectTimeoutMs: 3_000,
    });
    await expect(attempt).rejects.toThrow(ClusterJoinError);
  });
});
