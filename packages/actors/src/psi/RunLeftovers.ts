/**
 * What a PSI run leaves in its output folder when it is killed outright
 * (`kill -9`, a power cut): an AtomicFileWriter's temporary file
 * (`.left.csv.<pid>.<12 hex>.tmp`), the `--out` write check
 * (`.psi-write-check.<pid>.<12 hex>.tmp`) and its scratch folders of spill
 * files and sort runs (`.psi-<label>-<pid>-<8 hex>.tmp`). Each name carries
 * the pid of the process that made it, so a later run (or `psi serve` after a
 * crash) can tell what belongs to a dead process and remove only that.
 */
import { lstat, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { SCRATCH_DIR } from './SpillBuckets.js';

/** `.left.csv.<pid>.<12 hex>.tmp`: an AtomicFileWriter's temporary file (see AtomicFileWriter.open). */
const TEMP_FILE = /^\.(left|right)\.csv\.(\d+)\.[0-9a-f]{12}\.tmp$/;
/** The probe PreparedRun writes to check that `--out` is writable. */
const WRITE_CHECK = /^\.psi-write-check\.(\d+)\.[0-9a-f]{12}\.tmp$/;

/** A name in an output folder that a PSI run made for itself. */
export interface RunLeftover {
  /** The process that made it. */
  readonly pid: number;
  /** A scratch folder (removed with what is in it), not a file. */
  readonly folder: boolean;
}

/** Whether `name` (a bare file name) is one of a run's temporary files or folders, and whose. */
export function runLeftover(name: string): RunLeftover | undefined {
  const scratch = SCRATCH_DIR.exec(name);
  if (scratch !== null) return { pid: Number(scratch[2]), folder: true };
  const m = TEMP_FILE.exec(name) ?? WRITE_CHECK.exec(name);
  if (m === null) return undefined;
  return { pid: Number(m[2] ?? m[1]), folder: false };
}

/** Whether process `pid` is running (one we may not signal counts as running). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Remove `name` in `dir`, a leftover as {@link runLeftover} read it: a
 * scratch folder only when it is a real folder (never through a symbolic
 * link), with its contents. Resolves false when it was gone already.
 */
export async function removeRunLeftover(dir: string, name: string, leftover: RunLeftover): Promise<boolean> {
  const file = join(dir, name);
  try {
    if (leftover.folder) {
      if (!(await lstat(file)).isDirectory()) return false;
      await rm(file, { recursive: true, force: true });
    } else await unlink(file);
    return true;
  } catch {
    return false;
  }
}
