/**
 * Signals sent to the documented command, `npm run psi -- ...`, stop the run
 * and leave nothing, whichever process gets them (issue 14, item 2;
 * RELIABILITY.md scenarios 18 and 24). The signal goes to npm's pid, as
 * `timeout`, CI or a container whose PID 1 is npm would send it.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { childrenOf, gone, killLeftovers, npmRun, rows } from './helpers/psi.js';

afterEach(killLeftovers);

let d: string;
beforeAll(() => {
  // Large enough to be still masking many seconds after the first progress line.
  d = mkdtempSync(join(tmpdir(), 'troupe-psi-sig-'));
  writeFileSync(join(d, 'left.csv'), rows(150_000));
  writeFileSync(join(d, 'right.csv'), rows(150_000, 'other'));
});

function run(out: string) {
  return npmRun('psi', [
    ...['--left', join(d, 'left.csv'), '--right', join(d, 'right.csv'), '--key', 'id'],
    ...['--out', join(d, out), '--threads', '2'],
  ]);
}

/** psi is npm's direct child (the script execs it): find it once it runs. */
async function psiUnder(npm: number): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const [child] = childrenOf(npm);
    if (child !== undefined) return child;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`npm (${npm}) has no child`);
}

describe('signals to `npm run psi`', { timeout: 180_000 }, () => {
  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    it(`${signal} sent to npm stops psi, npm exits ${code} after it, and nothing is written`, async () => {
      const npm = run(`out-${signal}`);
      await npm.waitErr(/psi \d+s \| (reading|masking)/);
      const child = await psiUnder(npm.pid);
      npm.kill(signal);
      expect(await npm.code, npm.err()).toBe(code);
      // npm waited for psi: by the time npm is gone, so is psi.
      expect(await gone(child, 1_000)).toBe(true);
      expect(npm.err()).toMatch(new RegExp(`^psi: interrupted by ${signal}; nothing written$`, 'm'));
      // Every stage wound down when asked: none had to be abandoned at the stop budget.
      expect(npm.err()).not.toMatch(/abandon|timed out/);
      expect(existsSync(join(d, `out-${signal}`))).toBe(false);
    });
  }

  it('SIGKILL of npm (which cannot pass it on) still stops psi: it notices its parent is gone', async () => {
    const npm = run('out-SIGKILL');
    await npm.waitErr(/psi \d+s \| (reading|masking)/);
    const child = await psiUnder(npm.pid);
    npm.kill('SIGKILL');
    await npm.code;
    expect(await gone(child, 20_000)).toBe(true);
    expect(existsSync(join(d, 'out-SIGKILL'))).toBe(false);
  });
});
