import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type ActorRef, ActorStoppedError, AskTimeoutError, ShuttingDownError } from '@troupe/core';
import type { ServiceMsg, WorkResult } from './protocol.js';
import { RequestedCrashError } from './Worker.js';

/** Counters of the HTTP side, served at `GET /stats` (which, like `/healthz`, is not counted). */
export interface HttpStats {
  /** Requests received (their body may still be arriving). */
  received: number;
  /** Requests whose work has been handed to the actors and not yet answered. */
  inFlight: number;
  /** Answered 200. */
  ok: number;
  /** Answered 503 because the service was shutting down. */
  refused: number;
  /** Answered 4xx/5xx for any other reason. */
  failed: number;
  draining: boolean;
}

const MAX_BODY_BYTES = 64 * 1024;

/**
 * The HTTP side of the service: turns `GET /work?input=...` (or `POST /work`
 * with the input as body) into an ask to the service actor, and the answer
 * into JSON. Once {@link HttpFront.stopIntake} has been called it answers 503
 * to every new request and closes the listening socket, while requests already
 * handed to the actors run to completion.
 *
 * Routes: `GET|POST /work` (`?fail=1` crashes the worker: 500, and the worker
 * restarts), `GET /stats`, `GET /healthz`.
 */
export class HttpFront {
  readonly server: Server;
  readonly stats: HttpStats = { received: 0, inFlight: 0, ok: 0, refused: 0, failed: 0, draining: false };
  private readonly closed: Promise<void>;

  constructor(
    private readonly service: ActorRef<ServiceMsg>,
    private readonly askTimeoutMs: number,
  ) {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        // A bug in the handler itself: answer, don't leave the client hanging.
        process.stderr.write(`graceful-service: request handler failed: ${String(error)}\n`);
        if (!res.headersSent) this.json(res, 500, { error: 'internal error' });
      });
    });
    this.closed = new Promise((resolve) => this.server.once('close', () => resolve()));
  }

  /** Listen on 127.0.0.1:`port` (0: any free port); resolves with the port. */
  listen(port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve((this.server.address() as { port: number }).port);
      });
    });
  }

  /**
   * Stop intake: refuse new requests with 503 and stop accepting connections.
   * Idle keep-alive connections are closed now; busy ones once their answer is sent.
   */
  stopIntake(): void {
    this.stats.draining = true;
    this.server.close();
  }

  /** Resolves when every connection has ended; after `graceMs`, cuts the ones still open. */
  async whenClosed(graceMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const cut = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.server.closeAllConnections();
        resolve();
      }, graceMs);
    });
    await Promise.race([this.closed, cut]);
    clearTimeout(timer);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.stats.draining) return this.refuse(res);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const probe = url.pathname === '/stats' || url.pathname === '/healthz';
    if (!probe) this.stats.received++;
    const body = await this.readBody(req);
    if (body === undefined) return this.json(res, 413, { error: `body larger than ${MAX_BODY_BYTES} bytes` });
    // Checked again: shutdown may have begun while the body was arriving.
    if (this.stats.draining) return this.refuse(res);

    if (url.pathname === '/healthz') return this.json(res, 200, { status: 'ok' }, false);
    if (url.pathname === '/stats') return this.json(res, 200, this.stats, false);
    if (url.pathname !== '/work') return this.json(res, 404, { error: `no route ${req.method} ${url.pathname}` });
    if (req.method !== 'GET' && req.method !== 'POST') {
      return this.json(res, 405, { error: `${req.method} not allowed on /work; use GET or POST` });
    }

    const input = req.method === 'POST' ? body : (url.searchParams.get('input') ?? '');
    const fail = url.searchParams.get('fail') === '1';
    this.stats.inFlight++;
    try {
      const result = await this.service.ask<WorkResult>(
        { type: 'work', input, fail },
        { timeoutMs: this.askTimeoutMs },
      );
      this.json(res, 200, result);
    } catch (error) {
      if (error instanceof ShuttingDownError || error instanceof ActorStoppedError) return this.refuse(res);
      if (error instanceof AskTimeoutError) return this.json(res, 504, { error: error.message });
      if (error instanceof RequestedCrashError) return this.json(res, 500, { error: error.message });
      return this.json(res, 500, { error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
    } finally {
      this.stats.inFlight--;
    }
  }

  private refuse(res: ServerResponse): void {
    res.setHeader('Retry-After', '1');
    this.json(res, 503, { error: 'shutting down; retry on another instance' });
  }

  private json(res: ServerResponse, status: number, value: unknown, counted = true): void {
    if (counted) {
      if (status === 200) this.stats.ok++;
      else if (status === 503) this.stats.refused++;
      else this.stats.failed++;
    }
    const text = JSON.stringify(value);
    res.statusCode = status;
    res.setHeader('Content-Type', 'application/json');
    res.setHeader('Content-Length', Buffer.byteLength(text));
    // While draining, don't keep connections alive: the server can only close once they end.
    if (this.stats.draining) res.setHeader('Connection', 'close');
    res.end(text);
  }

  /** The request body as text, or undefined when it is too large. */
  private async readBody(req: IncomingMessage): Promise<string | undefined> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY_BYTES) return undefined;
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks).toString('utf8');
  }
}
