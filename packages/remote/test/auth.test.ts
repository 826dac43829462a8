/**
 * Token and NKey credentials are passed through to the NATS client (TLS with
 * user/password is in tls.process.test.ts).
 */
import { nkeys } from '@nats-io/transport-node';
import { ClusterJoinError, Node } from '@troupe/remote';
import { afterEach, describe, expect, it } from 'vitest';
import { type NatsServer, startNatsServer } from './helpers/NatsServer.js';

let server: NatsServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('joining with credentials', () => {
  it('joins with the token the server requires, and fails with ClusterJoinError without it', async () => {
    server = await startNatsServer({ jetstream: false, extraConfig: 'authorization { token: "t0ken-for-troupe" }' });
    const node = await Node.join({
      servers: server.url,
      cluster: 'auth',
      node: 'a',
      token: 't0ken-for-troupe',
      registry: false,
    });
    expect(node.up).toBe(true);
    await node.leave();
    await expect(
      Node.join({ servers: server.url, cluster: 'auth', node: 'b', token: 'wrong', registry: false }),
    ).rejects.toThrow(ClusterJoinError);
  });

  it('joins with an NKey seed the server knows, and fails with one it does not', async () => {
    const user = nkeys.createUser();
    const seed = new TextDecoder().decode(user.getSeed());
    server = await startNatsServer({
      jetstream: false,
      extraConfig: `authorization { users: [ { nkey: ${user.getPublicKey()} } ] }`,
    });
    const node = await Node.join({ servers: server.url, cluster: 'auth', node: 'a', nkeySeed: seed, registry: false });
    expect(node.up).toBe(true);
    await node.leave();
    const stranger = new TextDecoder().decode(nkeys.createUser().getSeed());
    await expect(
      Node.join({ servers: server.url, cluster: 'auth', node: 'b', nkeySeed: stranger, registry: false }),
    ).rejects.toThrow(ClusterJoinError);
  });
});
