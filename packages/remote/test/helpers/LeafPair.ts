/**
 * Two real `nats-server`s joined as a leaf node, for tests where each party
 * of a cluster talks only to its own server (two organisations, each with
 * its own NATS): the hub listens for leaf connections, the leaf server
 * connects to it, and subjects flow both ways over that one link.
 *
 * The registry (a JetStream KV bucket) lives on the hub only. Across a leaf
 * connection NATS denies the plain JetStream API (`$JS.API.>`, `$KV.>`), so
 * the hub's JetStream has a domain (default `hub`) and every node, on
 * either side, joins with `jetstreamDomain` set to it: {@link LeafPair.hubJoin}
 * and {@link LeafPair.leafJoin} give the options to spread into a join.
 *
 * Import it from other packages' tests by relative path, e.g.
 * `import { startLeafPair } from '../../remote/test/helpers/LeafPair.js'`.
 *
 * @example
 * const pair = await startLeafPair();
 * const a = await joinCluster(systemA, { ...pair.hubJoin(), cluster: 'psi', node: 'alice' });
 * const b = await joinCluster(systemB, { ...pair.leafJoin(), cluster: 'psi', node: 'bob' });
 * // ...
 * await pair.close();
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { freePort, type NatsServer, type NatsServerOptions, startNatsServer } from './NatsServer.js';

export interface LeafPairOptions {
  /** The hub's JetStream domain, where the registry lives. Default `hub`. */
  domain?: string;
  /** More options for the hub (JetStream is on, in `domain`). */
  hub?: Omit<NatsServerOptions, 'jetstreamDomain' | 'extraConfig'> & { extraConfig?: string };
  /** More options for the leaf server (JetStream is off unless given). */
  leaf?: Omit<NatsServerOptions, 'extraConfig'> & { extraConfig?: string };
  /** How long to wait for the leaf link (and the registry through it). Default 15 000 ms. */
  timeoutMs?: number;
}

/** What a node needs to join through one of the two servers. */
export interface LeafJoin {
  servers: string;
  jetstreamDomain: string;
}

/** Two leaf-joined servers. Create with {@link startLeafPair}; `close()` stops both. */
export class LeafPair {
  constructor(
    readonly hub: NatsServer,
    readonly leaf: NatsServer,
    /** The port the hub accepts leaf connections on. */
    readonly leafListenPort: number,
    readonly domain: string,
  ) {}

  /** Join options for a node connected to the hub. */
  hubJoin(): LeafJoin {
    return { servers: this.hub.url, jetstreamDomain: this.domain };
  }

  /** Join options for a node connected to the leaf server. */
  leafJoin(): LeafJoin {
    return { servers: this.leaf.url, jetstreamDomain: this.domain };
  }

  /**
   * Wait until a message published on the leaf reaches a subscriber on the
   * hub and back, and the hub's JetStream answers through the leaf. Called by
   * {@link startLeafPair}; call it again after restarting either server.
   */
  async waitLinked(timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let hubNc: NatsConnection | undefined;
    let leafNc: NatsConnection | undefined;
    try {
      hubNc = await connect({ servers: this.hub.url, ...credentialsOf(this.hub) });
      leafNc = await connect({ servers: this.leaf.url, ...credentialsOf(this.leaf) });
      const subject = `_troupe_leaf_probe.${process.pid}.${Math.random().toString(36).slice(2)}`;
      hubNc.subscribe(subject, {
        callback: (_e, m) => {
          m.respond('pong');
        },
      });
      await hubNc.flush();
      let lastError: unknown;
      const retry = async (what: string, attempt: () => Promise<boolean>): Promise<void> => {
        for (;;) {
          try {
            if (await attempt()) return;
          } catch (e) {
            lastError = e;
          }
          if (Date.now() > deadline)
            throw new Error(
              `leaf pair (hub ${this.hub.url}, leaf ${this.leaf.url}): ${what} not working after ${timeoutMs} ms (${String(
                lastError,
              )})\nhub log:\n${this.hub.output}\nleaf log:\n${this.leaf.output}`,
            );
          await new Promise((r) => setTimeout(r, 100));
        }
      };
      await retry('leaf -> hub request/reply', async () => {
        const r = await leafNc!.request(subject, 'ping', { timeout: 1_000 });
        return r.string() === 'pong';
      });
      await retry(`JetStream domain ${this.domain} from the leaf`, async () => {
        const r = await leafNc!.request(`$JS.${this.domain}.API.INFO`, '', { timeout: 1_000 });
        return !('error' in (r.json<object>() ?? {}));
      });
    } finally {
      await hubNc?.close().catch(() => {});
      await leafNc?.close().catch(() => {});
    }
  }

  /** Stop both servers and remove their directories. */
  async close(): Promise<void> {
    await Promise.all([this.leaf.close(), this.hub.close()]);
  }
}

/** A test server's user/password, if it has one, for the probe's connections. */
function credentialsOf(server: NatsServer): { user?: string; pass?: string } {
  const o = server.options;
  return o.user === undefined ? {} : { user: o.user, pass: o.pass ?? '' };
}

/**
 * Start a hub (JetStream in `domain`, accepting leaf connections on a free
 * port) and a leaf server connected to it, and wait until the link carries
 * messages and the hub's JetStream answers from the leaf side.
 */
export async function startLeafPair(options: LeafPairOptions = {}): Promise<LeafPair> {
  const domain = options.domain ?? 'hub';
  const leafListenPort = await freePort();
  const hub = await startNatsServer({
    ...options.hub,
    jetstream: true,
    jetstreamDomain: domain,
    extraConfig: [`leafnodes { listen: "127.0.0.1:${leafListenPort}" }`, options.hub?.extraConfig ?? ''].join('\n'),
  });
  let leaf: NatsServer | undefined;
  try {
    leaf = await startNatsServer({
      jetstream: false,
      ...options.leaf,
      extraConfig: [
        `leafnodes { remotes: [ { url: "nats-leaf://127.0.0.1:${leafListenPort}" } ] }`,
        options.leaf?.extraConfig ?? '',
      ].join('\n'),
    });
    const pair = new LeafPair(hub, leaf, leafListenPort, domain);
    await leaf.waitForLog('Leafnode connection created', options.timeoutMs ?? 15_000);
    await pair.waitLinked(options.timeoutMs ?? 15_000);
    return pair;
  } catch (e) {
    await Promise.all([leaf?.close(), hub.close()]);
    throw e;
  }
}
