/**
 * What a run leaves in its output folder when the service is killed under it
 * (`kill -9`, a power cut): the temporary files of `@troupe/actors`'
 * AtomicFileWriter (`.left.csv.<pid>.<12 hex>.tmp`, and the `--out` write
 * check), and the folder itself if the run made it. A clean stop removes
 * these itself; after a crash the next start of `psi serve` calls
 * {@link removeLeftovers} for each job it reports `interrupted`, so the job
 * leaves no partial output. Files of a process still running are left alone.
 */
import { readdir, rmdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/** The names AtomicFileWriter and PreparedRun give their temporary files; group 2 or 1 is the writer's pid. */
const TEMP_FILE = /^\.(left|right)\.csv\.(\d+)\.[0-9a-f]{12}\.tmp$/;
const WRITE_CHECK = /^\.psi-write-check\.(\d+)\.[0-9a-f]{12}\.tmp$/;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Remove the temporary files of dead processes in `out`, then `out` itself
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
    const m = TEMP_FILE.exec(name) ?? WRITE_CHECK.exec(name);
    if (m === null) continue;
    const pid = Number(m[2] ?? m[1]);
    if (pid === process.pid || alive(pid)) continue;
    try {
      await unlink(join(out, name));
      left--;
      said.push(`removed ${name}, a temporary file of the run the service was killed under`);
    } catch {
      // Gone already: nothing to report.
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
