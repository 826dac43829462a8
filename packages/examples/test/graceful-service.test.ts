import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { type Child, runExample } from './helpers/child.js';

interface Reply {
  status: number;
  body: string;
}

/** One HTTP request on its own connection; resolves with the status, or rejects with the socket error. */
function get(port: number, path: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A status, or the socket error code when the connection was refused or cut. */
async function outcome(p: Promise<Reply>): Promise<number | string> {
  try {
    return (await p).status;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? String(error);
  }
}

async function start(args: string[]): Promise<{ child: Child; port: number }> {
  const child = runExample('graceful-service', args);
  const m = (await child.waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+)/)) as RegExpMatchArray;
  return { child, port: Number(m[1]) };
}

/** A POST whose body is sent in two parts: `first` now, the rest with `finish`. */
function startPost(port: number, path: string, first: string, length: number) {
  let req: ReturnType<typeof request> | undefined;
  const reply = new Promise<Reply>((resolve, reject) => {
    req = request(
      { host: '127.0.0.1', port, path, method: 'POST', agent: false, headers: { 'Content-Length': length } },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: '' }));
      },
    );
    req.on('error', reject);
    req.write(first);
  });
  return { reply, finish: (rest: string) => req?.end(rest) };
}

async function stats(port: number): Promise<{ received: number; inFlight: number; ok: number }> {
  return JSON.parse((await get(port, '/stats')).body);
}

describe('graceful-service example', { timeout: 60_000 }, () => {
  it('finishes in-flight requests on SIGTERM, refuses new ones, prints its report and exits 0', async () => {
    const { child, port } = await start(['--workers', '2', '--work-ms', '400']);
    try {
      // 8 requests on 2 workers: about 1.6 s of queued work.
      const inFlight = Array.from({ length: 8 }, (_, i) => get(port, `/work?input=req-${i}`));
      // A request whose body is still arriving when shutdown begins: the server
      // has it, but its handler can only act once intake has closed.
      const late = startPost(port, '/work', 'hello', 10);
      // Wait until the server has all 9 and has handed the 8 GETs to the actors
      // (some may already be answered on a fast machine).
      for (let s = await stats(port); s.received < 9 || s.inFlight + s.ok < 8; s = await stats(port)) {
        await new Promise((r) => setTimeout(r, 20));
      }

      child.proc.kill('SIGTERM');
      const m = (await child.waitFor(/shutting down: refusing new requests, (\d+) in flight/)) as RegExpMatchArray;
      expect(Number(m[1])).toBeGreaterThan(0);

      // After shutdown began: the half-sent request completes and gets 503; new connections are refused.
      late.finish('world');
      const after = await Promise.all([1, 2, 3].map(() => outcome(get(port, '/work?input=after'))));
      for (const o of after) expect([503, 'ECONNREFUSED', 'ECONNRESET']).toContain(o);
      expect(await outcome(late.reply)).toBe(503);

      // Every request that was in flight completed with 200 and a real answer.
      const replies = await Promise.all(inFlight);
      for (const r of replies) {
        expect(r.status).toBe(200);
        expect(JSON.parse(r.body)).toMatchObject({
          worker: expect.stringMatching(/^worker-\d$/),
          digest: expect.any(String),
        });
      }

      const code = await child.exited;
      expect(code, child.stderr()).toBe(0);
      const out = child.stdout();
      expect(out).toMatch(/^served 8 requests \(200\), refused \d+ \(503\), failed 0$/m);
      expect(out).toMatch(/^shutdown of graceful-service: signal \(SIGTERM\), exit code 0/m);
      expect(out).toMatch(/^ {2}drain\s+[\d.]+ ms$/m);
      expect(out).toMatch(/pending asks rejected 0/);
    } finally {
      child.proc.kill('SIGKILL');
    }
  });

  it('answers a crashing request with 500 while the worker restarts and keeps serving', async () => {
    const { child, port } = await start(['--workers', '1', '--work-ms', '10']);
    try {
      const crash = await get(port, '/work?input=x&fail=1');
      expect(crash.status).toBe(500);
      expect(JSON.parse(crash.body).error).toMatch(
        /worker \[\/user\/service\/worker-1\] crashed because the request asked it to/,
      );
      const after = await get(port, '/work?input=y');
      expect(after.status).toBe(200);
      expect(JSON.parse(after.body).worker).toBe('worker-1');
      child.proc.kill('SIGTERM');
      expect(await child.exited).toBe(0);
      expect(child.stdout()).toMatch(/^served 1 requests \(200\), refused 0 \(503\), failed 1$/m);
    } finally {
      child.proc.kill('SIGKILL');
    }
  });

  it('rejects a bad --port with a clear message and exit code 2', async () => {
    const child = runExample('graceful-service', ['--port', '70000']);
    expect(await child.exited).toBe(2);
    expect(child.stderr()).toContain('--port must be an integer between 0 and 65535, got "70000"');
  });
});
