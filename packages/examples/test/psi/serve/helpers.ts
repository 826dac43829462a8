import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Expected, generatePsiData } from '../../../src/psi/generate.js';

const main = fileURLToPath(new URL('../../../src/psi/main.ts', import.meta.url));
const signalNumbers: Record<string, number> = { SIGINT: 2, SIGTERM: 15, SIGKILL: 9 };
export const TOKEN = 'serve-test-token-0123456789';

/** `psi serve` as a real child process. */
export interface Service {
  proc: ChildProcess;
  api: string;
  inspector: string | null;
  exited: Promise<number>;
  stderr: () => string;
}

export async function startService(args: string[], ms = 60_000): Promise<Service> {
  const proc = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', main, 'serve', '--port', '0', ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PSI_SERVE_TOKEN: TOKEN },
    },
  );
  let out = '';
  let err = '';
  proc.stderr?.on('data', (d) => {
    err += d;
  });
  const exited = new Promise<number>((resolve) =>
    proc.on('close', (c, s) => resolve(c ?? 128 + (signalNumbers[s ?? ''] ?? 0))),
  );
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`psi serve did not start within ${ms} ms:\n${err}`)), ms);
    proc.stdout?.on('data', (d) => {
      out += d;
      const i = out.indexOf('\n');
      if (i >= 0) {
        clearTimeout(timer);
        resolve(out.slice(0, i));
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`psi serve exited (${code}) before listening:\n${err}`));
    });
  });
  const { api, inspector } = JSON.parse(line) as { api: string; inspector: string | null };
  return { proc, api: api.replace(/\/$/, ''), inspector, exited, stderr: () => err };
}

/** A JSON request to the service; `token: false` sends none. */
export async function call(
  url: string,
  options: { method?: string; body?: unknown; token?: string | false; raw?: string; type?: string } = {},
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON
): Promise<{ status: number; json: any }> {
  const headers: Record<string, string> = { 'content-type': options.type ?? 'application/json' };
  const token = options.token ?? TOKEN;
  if (token !== false) headers.authorization = `Bearer ${token}`;
  const res = await fetch(url, {
    method: options.method ?? (options.body !== undefined || options.raw !== undefined ? 'POST' : 'GET'),
    headers,
    ...(options.raw !== undefined
      ? { body: options.raw }
      : options.body !== undefined
        ? { body: JSON.stringify(options.body) }
        : {}),
  });
  return { status: res.status, json: await res.json() };
}

/** Poll a job until `until(job)`; fail after `ms`, naming the last state. */
// biome-ignore lint/suspicious/noExplicitAny: a job record
export async function waitJob(api: string, id: string, until: (job: any) => boolean, ms = 90_000): Promise<any> {
  const deadline = Date.now() + ms;
  // biome-ignore lint/suspicious/noExplicitAny: a job record
  let last: any;
  while (Date.now() < deadline) {
    last = (await call(`${api}/jobs/${id}`)).json.job;
    if (last !== undefined && until(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `job ${id} did not reach the expected state in ${ms} ms; last: ${JSON.stringify(last?.state)} ${JSON.stringify(last?.progress)}`,
  );
}

/** A folder with generated inputs of `rows` rows a side. */
export async function inputs(rows: number): Promise<{ dir: string; left: string; right: string; expected: Expected }> {
  const dir = mkdtempSync(join(tmpdir(), 'troupe-psi-serve-'));
  mkdirSync(join(dir, 'in'));
  const expected = await generatePsiData(join(dir, 'in'), { rows, overlap: 0.5, duplicates: 0.01, seed: rows }, false);
  return { dir, left: join(dir, 'in', 'left.csv'), right: join(dir, 'in', 'right.csv'), expected };
}

/** Poll `ok` until true; fail after `ms` naming `what`. */
export async function waitFor(ok: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
