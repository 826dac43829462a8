/**
 * What a run leaves in its output folder when the service is killed under it
 * (`kill -9`, a power cut): the temporary files of `@troupe/actors`'
 * AtomicFileWriter (`.left.csv.<pid>.<12 hex>.tmp`), the `--out` write
 * check and the run's scratch folders of spill files and sort runs (named as
 * `@troupe/actors`' `runLeftover` reads them), and the folder itself if the
 * run made it. A clean stop removes
 * these itself; after a crash the next start of `psi serve` calls
 * {@link removeLeftovers} for each job it reports `interrupted`, so the job
 * leaves no partial output. Files of a process still running are left alone.
 */
import { readdir, rmdir } from 'node:fs/promises';
import { processAlive, removeRunLeftover, runLeftover } from '@troupe/actors';

/**
 * Remove the temporary files and scratch folders of dead processes in `out`, then `out` itself
 * when `folderMade` and it is empty. Returns what it did, as warnings for the
 * job's record. A folder that is gone already is nothing to do.
 */
export async function removeLeftovers(out: string, folderMade: boolean): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(out);
  } catch {
    return [];
  }
  const said: string[] = [];
  let left = names.length;
  for (const name of names) {
    const leftover = runLeftover(name);
    if (leftover === undefined) continue;
    if (leftover.pid === process.pid || processAlive(leftover.pid)) continue;
    if (await removeRunLeftover(out, name, leftover)) {
      left--;
      const what = leftover.folder ? 'scratch folder' : 'file';
      said.push(`removed ${name}, a temporary ${what} of the run the service was killed under`);
    }
  }
  if (folderMade && left === 0) {
    try {
      await rmdir(out);
      said.push(`removed the folder ${out}, made by the run the service was killed under`);
    } catch {
      // Not empty after all, or gone: leave it.
    }
  }
  return said;
}
