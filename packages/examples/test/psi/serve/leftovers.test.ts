import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { removeLeftovers } from '../../../src/psi/serve/leftovers.js';

/** The pid of a process that has exited (a real child, waited for). */
const deadPid = () => spawnSync(process.execPath, ['-e', '0']).pid as number;

function folder(files: string[]): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'troupe-leftovers-')), 'out');
  mkdirSync(dir);
  for (const f of files) writeFileSync(join(dir, f), 'x');
  return dir;
}

describe('removeLeftovers', () => {
  it('removes a dead writer’s temporary files and then the folder its run made', async () => {
    const pid = deadPid();
    const dir = folder([`.left.csv.${pid}.0123456789ab.tmp`, `.psi-write-check.${pid}.ba9876543210.tmp`]);
    const said = await removeLeftovers(dir, true);
    expect(said).toEqual([
      expect.stringMatching(/^removed \.left\.csv\.\d+\.0123456789ab\.tmp, a temporary file/),
      expect.stringMatching(/^removed \.psi-write-check/),
      `removed the folder ${dir}, made by the run the service was killed under`,
    ]);
    expect(existsSync(dir)).toBe(false);
  });

  it('removes a dead run’s scratch folders of spill files and sort runs, with what is in them', async () => {
    const pid = deadPid();
    const dir = folder([]);
    const scratch = join(dir, `.psi-left-${pid}-0123abcd.tmp`);
    mkdirSync(scratch);
    writeFileSync(join(scratch, 'bucket-07.bin'), 'spilled points');
    const said = await removeLeftovers(dir, true);
    expect(said).toEqual([
      expect.stringMatching(/^removed \.psi-left-\d+-0123abcd\.tmp, a temporary scratch folder/),
      `removed the folder ${dir}, made by the run the service was killed under`,
    ]);
    expect(existsSync(dir)).toBe(false);
  });

  it('keeps files of a live process, other files, and a folder the run did not make', async () => {
    const dead = deadPid();
    const live = `.right.csv.${process.ppid}.0123456789ab.tmp`; // the parent of this test process is running
    const dir = folder([live, 'left.csv', `.left.csv.${dead}.0123456789ab.tmp`]);
    expect(await removeLeftovers(dir, true)).toHaveLength(1);
    expect(readdirSync(dir).sort()).toEqual([live, 'left.csv']);

    const empty = folder([`.left.csv.${dead}.0123456789ab.tmp`]);
    await removeLeftovers(empty, false);
    expect(readdirSync(empty)).toEqual([]);
    expect(await removeLeftovers(join(empty, 'gone'), true)).toEqual([]);
  });
});
