/**
 * SIGTERM to a run on the out-of-core path (issue 12): the stages of a large
 * run have long messages (a bucket of spilled records, a chunk of the file,
 * a sorted run), and at 10M rows an interrupted run used to leave a stage
 * busy past the shutdown's 5 s budget (abandoned, wrong exit code). Here tiny
 * `PSI_LIMITS` force every store to spill and the writer to sort through runs
 * on disk; `PSI_FAULT=slow-write=N` makes the small write last as long as a
 * large one. The signal is sent when the scratch folder shows the stage
 * under way (real files of the real command, no timing guesses).
 */
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { killLeftovers, psi } from './helpers/psi.js';

afterEach(killLeftovers);

/** Every store spills at 16 KiB, the writer writes a sorted run per 64 KiB of rows, 16 buckets. */
const TINY = 'memoryBytes=65536,sortBytes=65536,buckets=16';
/** Each writer waits this long per 1 MiB chunk of its file: about 6 s of writing per side, more than the 5 s stop budget. */
const SLOW_WRITE_MS = 1_000;

let d: string;
beforeAll(() => {
  d = mkdtempSync(join(tmpdir(), 'troupe-psi-ooc-sig-'));
  // 60k rows of about 100 bytes, every key on both sides: each writer cuts all 60k rows from a 6 MB file.
  const pad = 'x'.repeat(80);
  const lines = ['id,name,pad'];
  for (let i = 0; i < 60_000; i++) lines.push(`k-${i},name-${i},${pad}`);
  const text = `${lines.join('\n')}\n`;
  writeFileSync(join(d, 'left.csv'), text);
  writeFileSync(join(d, 'right.csv'), text);
});

/** Names in `out` and in its scratch folders (`.psi-<side>-...tmp/<file>`). */
function scratchFiles(out: string): string[] {
  if (!existsSync(out)) return [];
  const names: string[] = [];
  for (const n of readdirSync(out)) {
    names.push(n);
    if (!n.startsWith('.psi-')) continue;
    try {
      for (const f of readdirSync(join(out, n))) names.push(`${n}/${f}`);
    } catch {
      // Removed meanwhile.
    }
  }
  return names;
}

/** Resolves once a file in `out` (or its scratch folders) matches `re`; rejects after `ms` or if `exited` first. */
async function waitForFile(out: string, re: RegExp, exited: () => boolean, ms = 120_000): Promise<string> {
  const t0 = Date.now();
  for (;;) {
    const hit = scratchFiles(out).find((n) => re.test(n));
    if (hit !== undefined) return hit;
    if (exited()) throw new Error(`psi exited before ${re} appeared in ${out}`);
    if (Date.now() - t0 > ms) throw new Error(`no ${re} in ${out} within ${ms} ms: ${scratchFiles(out).join(', ')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('SIGTERM to psi on the out-of-core path', { timeout: 180_000 }, () => {
  for (const [stage, file, fault] of [
    // The reader's stores have spilled and the matcher is filing double-masked values to disk.
    ['while the exchange spills to disk', /\/own-doubles\.spill$/, undefined],
    // The writers are cutting rows and writing sorted runs (and would go on for seconds).
    ['in the middle of the external sort of the write', /\/rows\.run\d+$/, `slow-write=${SLOW_WRITE_MS}`],
  ] as const) {
    it(`stops ${stage} at once: exit 143, nothing abandoned, no output, no scratch folder left`, async () => {
      const out = join(d, `out-${file.source.replace(/\W/g, '')}`);
      let exited = false;
      const run = psi(
        [
          ...['--left', join(d, 'left.csv'), '--right', join(d, 'right.csv'), '--key', 'id'],
          ...['--out', out, '--threads', '2', '--no-progress'],
        ],
        { env: { ...process.env, PSI_LIMITS: TINY, ...(fault === undefined ? {} : { PSI_FAULT: fault }) } },
      );
      void run.code.then(() => {
        exited = true;
      });
      await waitForFile(out, file, () => exited);
      const sent = Date.now();
      run.kill('SIGTERM');
      expect(await run.code, run.err()).toBe(143);
      const took = Date.now() - sent;
      expect(run.err()).toMatch(/^psi: interrupted by SIGTERM; nothing written$/m);
      // Every stage wound down when asked: none was still busy at the stop budget (5 s).
      expect(run.err()).not.toMatch(/abandon|timed out|did not finish/);
      // Generous (a loaded machine), yet well below the seconds the write still had to go.
      expect(took).toBeLessThan(4_500);
      // The run made `out`: it is gone, with the scratch folders, spill files, runs and temporary outputs.
      expect(scratchFiles(out)).toEqual([]);
      expect(existsSync(out)).toBe(false);
    });
  }
});
