/**
 * Everything a PSI run checks on disk before any work starts, and undoes if it
 * fails: the inputs are regular files with the key columns; the output folder
 * is a folder that can be written; no output would replace an input (compared
 * by device and inode, so through symlinks and hard links too) or, unless
 * allowed, an existing file; no other run in this process writes the same
 * outputs. Temporary files of dead runs found in the output folder are
 * removed (and reported); those of live processes are named and left alone.
 *
 * A run that fails or is interrupted calls {@link PreparedRun.release} with
 * `failed`: folders it created are removed again (only if still empty), so
 * the output folder is left as it was found.
 */
import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import { lstat, mkdir, open, readdir, rmdir, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { CsvReader } from './csv.js';
import { CsvFileNotFoundError, CsvReadError, PsiOptionsError } from './errors.js';
import type { PsiWarning, ResolvedPsiRun } from './PsiOptions.js';

/** A run whose checks passed; {@link release} it when the run ends. */
export interface PreparedRun {
  /** Folders this run created (outermost first). */
  readonly createdDirs: readonly string[];
  /** Free the outputs for other runs; after a failure, remove the folders this run created (if empty). */
  release(failed: boolean): Promise<void>;
}

/** Output files (resolved paths) being written by a run of this process. */
const claimed = new Set<string>();

/** `.left.csv.<pid>.<12 hex>.tmp`: an AtomicFileWriter's temporary file (see AtomicFileWriter.open). */
const TEMP_FILE = /^\.(left|right)\.csv\.(\d+)\.[0-9a-f]{12}\.tmp$/;

/** How a file that is not a regular file is described in a message. */
function kind(s: Stats): string {
  if (s.isFile()) return 'a file';
  if (s.isDirectory()) return 'a folder';
  if (s.isFIFO()) return 'a pipe (FIFO)';
  if (s.isCharacterDevice()) return 'a character device (such as /dev/stdin or a terminal)';
  if (s.isSocket()) return 'a socket';
  if (s.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

const errno = (e: unknown): string | undefined => (e as { code?: string }).code;

/** True if process `pid` exists (EPERM: it exists but belongs to someone else). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errno(error) === 'EPERM';
  }
}

/**
 * Check the run's inputs and outputs (see the module comment) and claim its
 * outputs. Throws {@link PsiOptionsError} (`--left`, `--right`, `--out`) or a
 * `CsvInputError`; on a throw nothing is left behind.
 */
export async function prepareRun(run: ResolvedPsiRun, onWarning?: (w: PsiWarning) => void): Promise<PreparedRun> {
  const inputs: { side: 'left' | 'right'; file: string; stats: Stats }[] = [];
  for (const cfg of [run.left, run.right]) {
    let stats: Stats;
    try {
      stats = await stat(cfg.file);
    } catch (error) {
      if (errno(error) === 'ENOENT') throw new CsvFileNotFoundError(cfg.file, { cause: error });
      throw new CsvReadError(cfg.file, { cause: error });
    }
    if (!stats.isFile()) {
      throw new PsiOptionsError(
        `--${cfg.side}`,
        `${cfg.file} is ${kind(stats)}: an input must be a regular file, because psi reads it twice ` +
          '(the keys first, then the matched rows by their byte ranges). Save the stream to a file first.',
      );
    }
    cfg.fileBytes = stats.size;
    inputs.push({ side: cfg.side, file: cfg.file, stats });
    // Header and key columns: a missing column fails here, before any thread starts.
    const csv = await CsvReader.open(cfg.file, { delimiter: cfg.delimiter });
    try {
      csv.columnIndices(cfg.keyColumns);
    } finally {
      await csv.close();
    }
  }

  const outDir = resolve(run.outDir);
  const outFiles = [run.left.outFile, run.right.outFile];
  // The folder: an existing one must be a folder; a missing one is created (and removed again on failure).
  const existing = await stat(outDir).catch((e: unknown) => {
    if (errno(e) === 'ENOENT') return undefined;
    throw new PsiOptionsError('--out', `cannot use ${outDir}: ${(e as Error).message}`, { cause: e });
  });
  if (existing !== undefined && !existing.isDirectory()) {
    throw new PsiOptionsError(
      '--out',
      `${outDir} is ${kind(existing)}, not a folder: --out names the folder for left.csv and right.csv`,
    );
  }
  const createdDirs: string[] = [];
  const undo = async () => {
    for (const d of [...createdDirs].reverse()) await rmdir(d).catch(() => undefined);
  };
  try {
    if (existing === undefined) {
      // Note every level created, so that a failed run removes exactly those.
      const missing: string[] = [];
      for (let d = outDir; ; d = dirname(d)) {
        const s = await stat(d).catch(() => undefined);
        if (s !== undefined) {
          if (!s.isDirectory()) {
            throw new PsiOptionsError('--out', `cannot create ${outDir}: ${d} is ${kind(s)}, not a folder`);
          }
          break;
        }
        missing.unshift(d);
        if (dirname(d) === d) break;
      }
      for (const d of missing) {
        try {
          await mkdir(d);
          createdDirs.push(d);
        } catch (error) {
          if (errno(error) !== 'EEXIST') {
            throw new PsiOptionsError('--out', `cannot create the folder ${d}: ${(error as Error).message}`, {
              cause: error,
            });
          }
        }
      }
    }

    // Writable? Create and delete a file the way the writers will, now rather than after hours of masking.
    const probe = join(outDir, `.psi-write-check.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      await (await open(probe, 'wx')).close();
      await unlink(probe);
    } catch (error) {
      throw new PsiOptionsError(
        '--out',
        `cannot write in ${outDir} (${errno(error) ?? 'error'}: ${(error as Error).message}); choose a folder you can write to`,
        { cause: error },
      );
    }

    for (const out of outFiles) {
      if (claimed.has(out)) {
        throw new PsiOptionsError(
          '--out',
          `${out} is being written by another PSI run in this process; give each run its own --out`,
        );
      }
      const link = await lstat(out).catch(() => undefined);
      if (link === undefined) continue;
      const target = await stat(out).catch(() => undefined);
      for (const input of inputs) {
        if (target !== undefined && target.dev === input.stats.dev && target.ino === input.stats.ino) {
          throw new PsiOptionsError(
            '--out',
            `would replace the --${input.side} input: the output ${out} is the same file as ${input.file}` +
              `${link.isSymbolicLink() ? ' (through a symbolic link)' : target.nlink > 1 ? ' (a hard link)' : ''}. ` +
              'Choose an --out folder that does not hold the inputs.',
          );
        }
      }
      if ((target ?? link).isDirectory()) {
        throw new PsiOptionsError('--out', `${out} is a folder; it cannot be replaced by an output file`);
      }
      if (!run.overwrite) {
        throw new PsiOptionsError(
          '--out',
          `${out} already exists; psi does not replace existing files unless told to (--force, or overwrite: true)`,
        );
      }
    }

    // Temporary files of earlier runs (a hard kill leaves them): remove those whose process is gone.
    for (const name of await readdir(outDir)) {
      const m = TEMP_FILE.exec(name) ?? /^\.psi-write-check\.(\d+)\.[0-9a-f]{12}\.tmp$/.exec(name);
      if (m === null) continue;
      const pid = Number(m[2] ?? m[1]);
      const file = join(outDir, name);
      if (pid === process.pid) continue; // a run of this process is writing it
      if (alive(pid)) {
        onWarning?.({
          type: 'stale-temp-kept',
          file,
          pid,
          message: `left ${file} alone: process ${pid}, which wrote it, is still running`,
        });
        continue;
      }
      try {
        await unlink(file);
        onWarning?.({
          type: 'stale-temp-removed',
          file,
          pid,
          message: `removed ${basename(file)}, a temporary file left by an earlier run (process ${pid}, no longer running)`,
        });
      } catch {
        // Gone already (another run cleaned it): nothing to report.
      }
    }
  } catch (error) {
    await undo();
    throw error;
  }
  for (const out of outFiles) claimed.add(out);
  let released = false;
  return {
    createdDirs,
    async release(failed) {
      if (released) return;
      released = true;
      for (const out of outFiles) claimed.delete(out);
      if (failed) await undo();
    },
  };
}
