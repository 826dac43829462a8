import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ActorSystem, type Logger } from '@troupe/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolvePsiOptions } from '../../src/index.js';
import { prepareRun } from '../../src/psi/PreparedRun.js';
import { PsiJob, type PsiProgress } from '../../src/psi/PsiJob.js';

const warnings: string[] = [];
const logger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (m) => warnings.push(m),
  error: (m) => warnings.push(m),
};

let system: ActorSystem;
beforeAll(async () => {
  system = await ActorSystem.start({ name: 'psi-job-test', signals: false, logger, workers: { size: 2 } });
});
afterAll(async () => {
  await system.shutdown();
});

describe('PsiJob', () => {
  it('stops at once when stopped outright mid-run (no abort first), abandoning no stage', async () => {
    // Big enough to be hashing and masking for a while; spills (tiny limits) so the reader has stores to drop.
    const d = mkdtempSync(join(tmpdir(), 'troupe-psi-job-'));
    const lines = ['id,v'];
    for (let i = 0; i < 40_000; i++) lines.push(`k${i},${i}`);
    writeFileSync(join(d, 'a.csv'), `${lines.join('\n')}\n`);
    writeFileSync(join(d, 'b.csv'), `${lines.join('\n')}\n`);
    const run = resolvePsiOptions({
      left: join(d, 'a.csv'),
      right: join(d, 'b.csv'),
      key: ['id'],
      outDir: join(d, 'out'),
      threads: 2,
      batchSize: 256,
      limits: { memoryBytes: 65_536, sortBytes: 65_536, buckets: 16 },
    });
    const prepared = await prepareRun(run);
    const job = system.spawn(PsiJob, { name: 'stopped-outright', input: run });
    const result = job.ask({ type: 'result' }, { timeoutMs: 120_000 }).catch((e: unknown) => e);
    // Wait until the readers are still sending and the exchangers are masking (their asks outstanding).
    for (;;) {
      const p = await job.ask<PsiProgress>({ type: 'progress-snapshot' });
      const half = p.left.uniqueKeys / 2;
      if (p.left.readDone && p.left.ownMasked > 0 && p.left.ownMasked < half) break;
      if (p.left.readDone && p.left.ownMasked >= half) throw new Error('the run got too far before the stop');
      await new Promise((r) => setTimeout(r, 5));
    }
    const t0 = Date.now();
    await system.stop(job);
    const took = Date.now() - t0;
    expect((await result) as Error).toMatchObject({ name: 'PsiInterruptedError' });
    // A stage waiting on an ask to a stopped actor would hold the stop until stopTimeoutMs (5 s) and be abandoned.
    expect(warnings.filter((w) => /abandon|did not finish/.test(w))).toEqual([]);
    expect(took).toBeLessThan(4_000);
    await prepared.release(true);
  }, 60_000);
});
