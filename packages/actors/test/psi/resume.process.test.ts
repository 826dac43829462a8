/**
 * `resume` after a real crash: the process running the parties is killed
 * with SIGKILL mid-exchange (no cleanup runs), and a second process resumes
 * from the checkpoints it left (RELIABILITY.md scenario 22).
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { PsiSummary } from '../../src/index.js';
import { csvFile, emails, tmp } from './helpers.js';

const child = fileURLToPath(new URL('../fixtures/psiChild.ts', import.meta.url));

function run(args: string[]) {
  const proc = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', child, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const lines: ((line: Record<string, unknown>) => void)[] = [];
  proc.stdout.on('data', (d: Buffer) => {
    const text = out + d.toString();
    const parts = text.split('\n');
    out = parts.pop() ?? '';
    for (const p of parts) if (p.length > 0) for (const l of lines) l(JSON.parse(p) as Record<string, unknown>);
  });
  proc.stderr.on('data', (d) => {
    err += d;
  });
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    proc.on('close', (code, signal) => resolve({ code, signal })),
  );
  return { proc, exited, err: () => err, onLine: (l: (line: Record<string, unknown>) => void) => lines.push(l) };
}

describe('resume after a crash of the process', { timeout: 240_000 }, () => {
  it('continues from the checkpoints a SIGKILLed run left, then deletes them', async () => {
    const d = tmp('crash');
    const leftKeys = emails(0, 20_000);
    const rightKeys = emails(10_000, 20_000);
    const left = csvFile(d, 'a.csv', leftKeys);
    const right = csvFile(d, 'b.csv', rightKeys);
    const out = join(d, 'out');
    const ck = join(d, 'state');

    const first = run([left, right, out, ck, '0']);
    let killedAt = 0;
    first.onLine((line) => {
      const p = line.progress as { left: number; right: number } | undefined;
      // A fifth of the way through the answers: well inside the exchange.
      if (p !== undefined && killedAt === 0 && p.left >= 4_000) {
        killedAt = p.left;
        first.proc.kill('SIGKILL');
      }
    });
    const ended = await first.exited;
    expect(ended.signal, first.err()).toBe('SIGKILL');
    expect(killedAt).toBeLessThan(20_000);
    // What the crash left: no output, the checkpoints, the keys readable only by their owner.
    expect(existsSync(out) ? readdirSync(out).filter((f) => !f.endsWith('.tmp')) : []).toEqual([]);
    for (const side of ['left', 'right']) expect(statSync(join(ck, side, 'key')).mode & 0o777).toBe(0o600);

    const second = run([left, right, out, ck, '1']);
    let summary: PsiSummary | undefined;
    second.onLine((line) => {
      if (line.summary !== undefined) summary = line.summary as PsiSummary;
    });
    const done = await second.exited;
    expect(done.code, second.err()).toBe(0);
    expect(summary?.intersection).toBe(10_000);
    expect(summary?.left.resumed).toBe(true);
    expect(summary?.left.reusedOwnBatches).toBeGreaterThan(0);
    expect(summary?.right.reusedPeerBatches).toBeGreaterThan(0);
    const want = (keys: string[]) =>
      ['id,n', ...leftKeys.slice(10_000).map((k) => `${k},${keys.indexOf(k)}`)].join('\n') + '\n';
    expect(readFileSync(join(out, 'left.csv'), 'utf8')).toBe(want(leftKeys));
    expect(readFileSync(join(out, 'right.csv'), 'utf8')).toBe(want(rightKeys));
    expect(existsSync(join(ck, 'left'))).toBe(false);
    expect(existsSync(join(ck, 'right'))).toBe(false);
  });
});
