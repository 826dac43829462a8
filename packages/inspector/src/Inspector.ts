import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ActorSystem, Introspection } from '@troupe/core';
import { Feed, type Frame } from './Feed.js';
import {
  baseHeaders,
  bearer,
  HttpError,
  isLoopback,
  readJsonObject,
  sendError,
  sendJson,
  stringField,
  tokenMatches,
} from './internal/http.js';
import type { InspectorSection } from './Section.js';

/** Options of {@link inspect}. */
export interface InspectOptions {
  /** TCP port; default 0 (a free one: read `inspector.url`). */
  port?: number;
  /**
   * Interface to bind; default `127.0.0.1`. Anything but loopback also needs
   * `allowRemote: true` and a `token`: the page has no secrets, but it is a
   * map of the system.
   */
  host?: string;
  /** Allow a non-loopback `host`. */
  allowRemote?: boolean;
  /**
   * Required by every action that changes the system (stop or restart an
   * actor, a section's actions such as cancelling a job), sent as
   * `Authorization: Bearer <token>`. At least 16 characters. Without one, the
   * page is read-only and actions are refused.
   */
  token?: string;
  /** Sampling interval; default 1000 ms. */
  intervalMs?: number;
  /** How far back the charts go; default 300 s. */
  historySeconds?: number;
  /** Actors listed per frame (depth first); default 1000. Counts cover all of them. */
  maxActors?: number;
  /** Open feeds at once; default 16. */
  maxClients?: number;
  /** Panels contributed by other packages (see {@link InspectorSection}). */
  sections?: readonly InspectorSection[];
}

const PAGE_DIR = new URL('../page/', import.meta.url);
const ASSETS: Record<string, string> = {
  '/': 'index.html',
  '/index.html': 'index.html',
  '/app.js': 'app.js',
  '/style.css': 'style.css',
};
const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
};
const SECTION_ID = /^[A-Za-z0-9_-]{1,64}$/;

interface Client {
  res: ServerResponse;
  congested: boolean;
}

/**
 * A running inspector: one page and its live feed for one actor system. Get
 * one with {@link inspect}; it closes by itself when the system has shut down
 * (after sending the final report), or with `close()`.
 */
export class Inspector {
  private readonly sectionList: InspectorSection[] = [];
  private readonly clients = new Set<Client>();
  private readonly assets = new Map<string, { body: Buffer; type: string }>();
  private timer: NodeJS.Timeout | undefined;
  private closed: Promise<void> | undefined;
  private readonly feed: Feed;
  private readonly view: Introspection;
  private readonly allowedHosts: Set<string>;

  /** @internal Use {@link inspect}. */
  constructor(
    readonly system: ActorSystem,
    private readonly server: Server,
    private readonly options: Required<Omit<InspectOptions, 'token' | 'sections' | 'allowRemote'>> & {
      token: string | undefined;
    },
    sections: readonly InspectorSection[],
  ) {
    for (const s of sections) this.addSection(s);
    for (const file of new Set(Object.values(ASSETS))) {
      const ext = file.slice(file.lastIndexOf('.') + 1);
      this.assets.set(file, { body: readFileSync(new URL(file, PAGE_DIR)), type: TYPES[ext] ?? 'text/plain' });
    }
    this.view = system.introspect();
    this.feed = new Feed(system, this.view, () => this.sectionList, {
      maxActors: options.maxActors,
      historyPoints: Math.max(2, Math.ceil((options.historySeconds * 1000) / options.intervalMs)),
      actions: options.token !== undefined,
    });
    const { port } = server.address() as AddressInfo;
    const host = options.host;
    const names = isLoopback(host) ? ['127.0.0.1', 'localhost', '[::1]', host] : [host];
    this.allowedHosts = new Set(names.map((n) => `${n.includes(':') && !n.startsWith('[') ? `[${n}]` : n}:${port}`));
    server.on('request', (req, res) => {
      this.handle(req, res).catch((error) => {
        if (res.headersSent) res.destroy();
        else sendError(res, error instanceof HttpError ? error : new HttpError(500, 'internal error'));
      });
    });
    this.feed.sample();
    this.timer = setInterval(() => this.tick(), options.intervalMs);
    this.timer.unref();
    void system.whenShutdown.then(() => this.close());
  }

  /** The page's address, e.g. `http://127.0.0.1:9464/`. */
  get url(): string {
    const { port } = this.server.address() as AddressInfo;
    const h = this.options.host;
    return `http://${h.includes(':') ? `[${h}]` : h}:${port}/`;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** The latest frame (what the page shows). */
  frame(): Frame {
    return this.feed.last ?? this.feed.sample();
  }

  /** Open feeds. */
  get clientCount(): number {
    return this.clients.size;
  }

  /** Add a panel; returns a function that removes it. An `id` already on the page is an error. */
  addSection(section: InspectorSection): () => void {
    if (section === null || typeof section !== 'object' || typeof section.collect !== 'function') {
      throw new TypeError('addSection: expected { id, title, collect() }');
    }
    if (typeof section.id !== 'string' || !SECTION_ID.test(section.id)) {
      throw new TypeError(`addSection: id must be 1-64 letters, digits, '-' or '_', got ${String(section.id)}`);
    }
    if (typeof section.title !== 'string' || section.title.length === 0) {
      throw new TypeError(`addSection(${section.id}): title must be a non-empty string`);
    }
    if (this.sectionList.some((s) => s.id === section.id)) {
      throw new TypeError(`addSection: a section with id ${section.id} is already on the page`);
    }
    this.sectionList.push(section);
    return () => {
      const i = this.sectionList.indexOf(section);
      if (i >= 0) this.sectionList.splice(i, 1);
    };
  }

  /** Stop serving: end every feed and close the port. Idempotent. */
  close(): Promise<void> {
    if (this.closed !== undefined) return this.closed;
    clearInterval(this.timer);
    this.timer = undefined;
    // A last frame, so an open page shows how the system ended.
    this.broadcast('frame', this.feed.sample());
    this.broadcast('end', { at: Date.now() });
    for (const c of this.clients) c.res.end();
    this.clients.clear();
    this.view.dispose();
    this.closed = new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    return this.closed;
  }

  private tick(): void {
    const frame = this.feed.sample();
    this.broadcast('frame', frame);
  }

  private broadcast(event: string, data: unknown): void {
    if (this.clients.size === 0) return;
    const text = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const c of this.clients) {
      // A page that does not keep up misses frames instead of growing our memory.
      if (c.congested) continue;
      if (!c.res.write(text)) {
        c.congested = true;
        c.res.once('drain', () => {
          c.congested = false;
        });
      }
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // A page on another site that resolves its name to 127.0.0.1 (DNS rebinding) sends its own Host.
    if (!this.allowedHosts.has(req.headers.host ?? '')) {
      throw new HttpError(403, `host ${req.headers.host ?? '(none)'} is not served here`);
    }
    const url = new URL(req.url ?? '/', 'http://inspector');
    const path = url.pathname;
    const asset = ASSETS[path];
    if (asset !== undefined) {
      this.method(req, 'GET');
      const a = this.assets.get(asset) as { body: Buffer; type: string };
      res.writeHead(200, { ...baseHeaders, 'content-type': a.type, 'content-length': a.body.length });
      res.end(a.body);
      return;
    }
    if (path === '/api/snapshot') {
      this.method(req, 'GET');
      sendJson(res, 200, this.frame());
      return;
    }
    if (path === '/api/feed') {
      this.method(req, 'GET');
      this.openFeed(req, res);
      return;
    }
    const actorAction = /^\/api\/actors\/([a-z]+)$/.exec(path);
    if (actorAction !== null) {
      this.method(req, 'POST');
      this.authorize(req);
      const action = actorAction[1] as string;
      if (action !== 'stop' && action !== 'restart') {
        throw new HttpError(404, `no actor action ${action}; actions: stop, restart`);
      }
      const target = stringField(await readJsonObject(req), 'path');
      const done = action === 'stop' ? this.view.stop(target) : this.view.restart(target);
      if (!done) throw new HttpError(404, `no live actor at ${target}`, 'path');
      this.system.logger.info(`inspector: ${action} ${target} (by a request with the token)`);
      sendJson(res, 202, { ok: true, action, path: target });
      return;
    }
    const sectionAction = /^\/api\/sections\/([^/]+)\/actions\/([^/]+)$/.exec(path);
    if (sectionAction !== null) {
      this.method(req, 'POST');
      this.authorize(req);
      const [, id, action] = sectionAction as unknown as [string, string, string];
      const section = this.sectionList.find((s) => s.id === id);
      if (section === undefined) throw new HttpError(404, `no section ${id}`);
      const run = section.actions?.[action];
      if (run === undefined) {
        const names = Object.keys(section.actions ?? {});
        throw new HttpError(404, `section ${id} has no action ${action}; actions: ${names.join(', ') || 'none'}`);
      }
      const row = stringField(await readJsonObject(req), 'row');
      let result: unknown;
      try {
        result = await run(row);
      } catch (error) {
        throw new HttpError(409, error instanceof Error ? error.message : `${action} failed`);
      }
      this.system.logger.info(`inspector: ${id}.${action} ${row} (by a request with the token)`);
      sendJson(res, 202, { ok: true, section: id, action, row, ...(result === undefined ? {} : { result }) });
      return;
    }
    throw new HttpError(404, `nothing at ${path}`);
  }

  private method(req: IncomingMessage, expected: 'GET' | 'POST'): void {
    if (req.method === expected || (expected === 'GET' && req.method === 'HEAD')) return;
    throw new HttpError(405, `${req.url} accepts ${expected}, got ${req.method}`);
  }

  private authorize(req: IncomingMessage): void {
    const origin = req.headers.origin;
    if (origin !== undefined && !this.allowedHosts.has(origin.replace(/^https?:\/\//, ''))) {
      throw new HttpError(403, `actions are refused from origin ${origin}`);
    }
    const expected = this.options.token;
    if (expected === undefined) {
      throw new HttpError(403, 'actions are disabled: this inspector was started without a token');
    }
    const given = bearer(req);
    if (given === undefined) throw new HttpError(401, 'this action needs the token (Authorization: Bearer <token>)');
    if (!tokenMatches(given, expected)) throw new HttpError(403, 'wrong token');
  }

  private openFeed(req: IncomingMessage, res: ServerResponse): void {
    if (this.closed !== undefined) throw new HttpError(503, 'the inspector is closing');
    if (this.clients.size >= this.options.maxClients) {
      throw new HttpError(503, `too many open feeds (maxClients ${this.options.maxClients})`);
    }
    res.writeHead(200, {
      ...baseHeaders,
      'content-type': 'text/event-stream; charset=utf-8',
      connection: 'keep-alive',
    });
    const client: Client = { res, congested: false };
    this.clients.add(client);
    req.socket.setNoDelay(true);
    res.write(`retry: 2000\n\nevent: history\ndata: ${JSON.stringify(this.feed.points())}\n\n`);
    res.write(`event: frame\ndata: ${JSON.stringify(this.frame())}\n\n`);
    const drop = () => this.clients.delete(client);
    req.on('close', drop);
    res.on('error', drop);
  }
}

/**
 * Serve a live inspector page for `system`: the supervision tree, an actor
 * table (mailbox depth, messages/s, p50/p99 handling time), worker threads,
 * dead letters by reason, charts of the last minutes, the shutdown phases,
 * and panels other packages add. Off unless called; bound to loopback; every
 * action that changes the system needs `token`. Shows counters and message
 * types, never payloads (unless an actor opts in, see `revealPayloads`).
 *
 * @example
 * const inspector = await inspect(system, { port: 9464, token: process.env.INSPECTOR_TOKEN });
 * console.log(`inspector on ${inspector.url}`);
 */
export async function inspect(system: ActorSystem, options: InspectOptions = {}): Promise<Inspector> {
  if (system === null || typeof system !== 'object' || typeof system.introspect !== 'function') {
    throw new TypeError('inspect: expected an ActorSystem');
  }
  if (options === null || typeof options !== 'object') throw new TypeError('inspect: options must be an object');
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;
  if (typeof host !== 'string' || host.length === 0) throw new TypeError(`inspect: host must be a non-empty string`);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new TypeError(`inspect: port must be an integer in [0, 65535], got ${String(port)}`);
  }
  const token = options.token;
  if (token !== undefined && (typeof token !== 'string' || token.length < 16)) {
    throw new TypeError('inspect: token must be a string of at least 16 characters');
  }
  if (!isLoopback(host) && (options.allowRemote !== true || token === undefined)) {
    throw new TypeError(
      `inspect: host ${host} is not loopback; binding it needs allowRemote: true and a token (the page maps the whole system)`,
    );
  }
  const positive = (key: 'intervalMs' | 'historySeconds' | 'maxActors' | 'maxClients', fallback: number) => {
    const v = options[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new TypeError(`inspect: ${key} must be a positive number, got ${String(v)}`);
    }
    return v;
  };
  const resolved = {
    host,
    port,
    token,
    intervalMs: Math.max(50, positive('intervalMs', 1000)),
    historySeconds: positive('historySeconds', 300),
    maxActors: Math.floor(positive('maxActors', 1000)),
    maxClients: Math.floor(positive('maxClients', 16)),
  };
  if (system.state === 'stopped' || system.state === 'failed') {
    throw new TypeError(`inspect: the system ${system.name} has already ${system.state}`);
  }
  const server = createServer({ keepAliveTimeout: 5_000 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // The inspector does not keep a process alive on its own, not even with a page open.
  server.unref();
  server.on('connection', (socket) => socket.unref());
  return new Inspector(system, server, resolved, options.sections ?? []);
}
