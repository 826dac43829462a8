/**
 * A real `nats-server` for tests and benchmarks: its own free loopback port,
 * JetStream in a temporary directory, optional TLS and user/password. It can
 * be stopped and started again on the same port (to test reconnects) and is
 * always cleaned up: `close()` kills the process and removes the directory,
 * and a process `exit` hook does the same for servers a test forgot.
 *
 * The binary is Debian's `nats-server` (2.9.x), installed by
 * `scripts/ensure-nats.sh` (which `.ci/run` calls). `NATS_SERVER` overrides the path.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface NatsServerOptions {
  /** Fixed port; default: a free one. */
  port?: number;
  /** Enable JetStream (needed by the registry). Default true. */
  jetstream?: boolean;
  /** Require this user and password. */
  user?: string;
  pass?: string;
  /** Serve TLS with this certificate and key (PEM files). */
  tls?: { certFile: string; keyFile: string };
  /** Server `max_payload` in bytes (default: the server's 1 MiB). */
  maxPayload?: number;
  /** Extra lines for the server's config file. */
  extraConfig?: string;
}

const live = new Set<NatsServer>();
process.on('exit', () => {
  for (const s of live) s.killNow();
});

/** Where the `nats-server` binary is; throws with the fix when it is missing. */
export function natsServerBinary(): string {
  const env = process.env.NATS_SERVER;
  if (env !== undefined && env !== '') return env;
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/usr/bin', '/usr/local/bin'])) {
    const p = join(dir, 'nats-server');
    if (dir !== '' && existsSync(p)) return p;
  }
  throw new Error('nats-server is not installed: run `bash scripts/ensure-nats.sh` (installs the Debian package)');
}

/** A free TCP port on 127.0.0.1 (bound once, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** A running (or stopped) server. Create with {@link startNatsServer}. */
export class NatsServer {
  private proc: ChildProcess | undefined;
  private log = '';
  readonly dir: string;
  readonly configFile: string;

  constructor(
    readonly port: number,
    private readonly options: NatsServerOptions,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'troupe-nats-'));
    this.configFile = join(this.dir, 'server.conf');
    const lines = [`host: 127.0.0.1`, `port: ${port}`, `server_name: troupe_test_${port}`];
    if (options.jetstream !== false) lines.push(`jetstream { store_dir: ${JSON.stringify(join(this.dir, 'js'))} }`);
    if (options.maxPayload !== undefined) lines.push(`max_payload: ${options.maxPayload}`);
    if (options.user !== undefined)
      lines.push(
        `authorization { user: ${JSON.stringify(options.user)}, password: ${JSON.stringify(options.pass ?? '')} }`,
      );
    if (options.tls !== undefined)
      lines.push(
        `tls { cert_file: ${JSON.stringify(options.tls.certFile)}, key_file: ${JSON.stringify(options.tls.keyFile)} }`,
      );
    if (options.extraConfig !== undefined) lines.push(options.extraConfig);
    writeFileSync(this.configFile, `${lines.join('\n')}\n`);
  }

  /** `nats://127.0.0.1:PORT` (or `tls://` when TLS is on). */
  get url(): string {
    return `${this.options.tls !== undefined ? 'tls' : 'nats'}://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.proc !== undefined;
  }

  /** The server's stderr so far (for failure messages). */
  get output(): string {
    return this.log;
  }

  /** Start the server and wait until it accepts clients (at most `timeoutMs`). */
  async start(timeoutMs = 10_000): Promise<void> {
    if (this.proc !== undefined) return;
    const proc = spawn(natsServerBinary(), ['-c', this.configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc = proc;
    live.add(this);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`nats-server on port ${this.port} not ready after ${timeoutMs} ms:\n${this.log}`));
      }, timeoutMs);
      proc.stderr?.setEncoding('utf8');
      proc.stderr?.on('data', (chunk: string) => {
        this.log += chunk;
        if (this.log.length > 200_000) this.log = this.log.slice(-100_000);
        if (chunk.includes('Server is ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once('exit', (code, signal) => {
        clearTimeout(timer);
        if (this.proc === proc) this.proc = undefined;
        reject(new Error(`nats-server on port ${this.port} exited (${code ?? signal}):\n${this.log}`));
      });
    });
  }

  /** Stop the server (SIGKILL by default, as a crash; `graceful` sends SIGTERM) and wait for it to exit. */
  async stop(graceful = false): Promise<void> {
    const proc = this.proc;
    if (proc === undefined) return;
    const exited = new Promise<void>((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) resolve();
      else proc.once('exit', () => resolve());
    });
    proc.kill(graceful ? 'SIGTERM' : 'SIGKILL');
    await exited;
    if (this.proc === proc) this.proc = undefined;
  }

  /** Stop, wait `downMs`, and start again on the same port (clients reconnect). */
  async restart(downMs = 0): Promise<void> {
    await this.stop();
    if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
    await this.start();
  }

  /** Stop the server and remove its directory. */
  async close(): Promise<void> {
    await this.stop();
    live.delete(this);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Synchronous last resort, for the process `exit` hook. */
  killNow(): void {
    try {
      this.proc?.kill('SIGKILL');
    } catch {
      // already gone
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Start a server on a free loopback port (or `options.port`). */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const server = new NatsServer(options.port ?? (await freePort()), options);
  try {
    await server.start();
  } catch (e) {
    await server.close();
    throw e;
  }
  return server;
}

/**
 * A self-signed certificate for `127.0.0.1` / `localhost`, made with `openssl`
 * in `dir`; the certificate is also the CA the client trusts.
 */
export function makeTestCertificate(dir: string): { certFile: string; keyFile: string; caFile: string } {
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return { certFile, keyFile, caFile: certFile };
}
