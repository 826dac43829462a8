import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const main = fileURLToPath(new URL('../src/psi/main.ts', import.meta.url));

/** `psi unbalanced ...` as a real child process. */
function psi(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', main, 'unbalanced', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d) => {
      out += d;
    });
    proc.stderr.on('data', (d) => {
      err += d;
    });
    proc.on('close', (code) => resolve({ code, out, err }));
  });
}

describe('psi unbalanced (command)', () => {
  it('makes a cache, answers a query into result/client.csv, and reuses the client copy the second time', async () => {
    const d = mkdtempSync(join(tmpdir(), 'troupe-upsi-cli-'));
    const server = ['id,v', ...Array.from({ length: 500 }, (_, i) => `k${i},s${i}`)].join('\n');
    writeFileSync(join(d, 'server.csv'), `${server}\n`);
    writeFileSync(join(d, 'client.csv'), 'id,v\nk7,a\nnope,b\nk499,c\nk7,d\n');
    const files = ['--key', 'id', '--key-file', join(d, 's.key'), '--cache', join(d, 's.cache'), '--threads', '2'];
    const cache = await psi(['cache', '--server', join(d, 'server.csv'), ...files, '--json']);
    expect(cache.code, cache.err).toBe(0);
    expect(JSON.parse(cache.out)).toMatchObject({ count: 500, keyCreated: true });
    const q = ['query', '--client', join(d, 'client.csv'), ...files, '--copy', join(d, 'c.copy'), '--json'];
    const first = await psi([...q, '--out', join(d, 'r1')]);
    expect(first.code, first.err).toBe(0);
    expect(JSON.parse(first.out)).toMatchObject({
      matchedKeys: 2,
      matchedRows: 3,
      fromCopy: false,
      transferredBytes: 6000,
    });
    expect(readFileSync(join(d, 'r1', 'client.csv'), 'utf8')).toBe('id,v\nk499,c\nk7,a\nk7,d\n');
    const second = await psi([...q, '--out', join(d, 'r2')]);
    expect(JSON.parse(second.out)).toMatchObject({ matchedKeys: 2, fromCopy: true, transferredBytes: 0 });
  }, 120_000);

  it('exits 2 naming the problem when the cache was tampered with, and writes nothing', async () => {
    const d = mkdtempSync(join(tmpdir(), 'troupe-upsi-cli-'));
    writeFileSync(join(d, 'server.csv'), 'id,v\na,1\nb,2\n');
    writeFileSync(join(d, 'client.csv'), 'id,v\na,1\n');
    const files = ['--key', 'id', '--key-file', join(d, 's.key'), '--cache', join(d, 's.cache'), '--threads', '2'];
    expect((await psi(['cache', '--server', join(d, 'server.csv'), ...files])).code).toBe(0);
    const bytes = readFileSync(join(d, 's.cache'));
    bytes[9] = (bytes[9] as number) ^ 1;
    writeFileSync(join(d, 's.cache'), bytes);
    const r = await psi(['query', '--client', join(d, 'client.csv'), ...files, '--out', join(d, 'result')]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/s\.cache fails its integrity check \(HMAC\)/);
    expect(existsSync(join(d, 'result'))).toBe(false);
    const usage = await psi(['frobnicate']);
    expect(usage.code).toBe(2);
    expect(usage.err).toMatch(/needs a step, cache or query/);
  }, 120_000);
});
