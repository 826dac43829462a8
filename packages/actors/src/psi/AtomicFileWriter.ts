/**
 * An output file that appears whole or not at all.
 *
 * Data goes to a temporary file beside the target (same directory, so the
 * final `rename` is atomic on POSIX file systems). `commit` flushes, fsyncs
 * the file, renames it over the target and fsyncs the directory; `abort`
 * closes and deletes the temporary file. Readers of the target therefore
 * never see a partial file, whatever happens to the writer.
 *
 * As a safety net, temporary files still open when the process exits
 * (`process.exit` after an error, say) are deleted by a synchronous `exit`
 * hook. Only a hard kill (SIGKILL, power loss) can leave one behind; its name
 * starts with `.` and ends in `.tmp`, next to the target.
 */
import { randomBytes } from 'node:crypto';
import { unlinkSync } from 'node:fs';
import { type FileHandle, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { AtomicFileClosedError } from './errors.js';

/** Where an {@link AtomicFileWriter} is in its life: `open` until it is `committed` or `aborted`. */
export type AtomicFileState = 'open' | 'committing' | 'committed' | 'aborted';

/** Options of {@link AtomicFileWriter.open}. */
export interface AtomicFileOptions {
  /** File mode of the new file (before the umask). Default `0o666`. */
  readonly mode?: number;
}

/** Temporary files to delete if the process exits before they are committed or aborted. */
const liveTempFiles = new Set<string>();
let exitHookInstalled = false;

function track(tempPath: string): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const path of liveTempFiles) {
        try {
          unlinkSync(path);
        } catch {
          // Already gone: nothing to clean.
        }
      }
    });
  }
  liveTempFiles.add(tempPath);
}

/**
 * Writes a file atomically: all of it appears at `path` on {@link commit}, or
 * nothing does.
 *
 * @example
 * ```ts
 * const out = await AtomicFileWriter.open('result/left.csv');
 * try {
 *   await out.write('id,name\n');
 *   await out.commit();
 * } catch (error) {
 *   await out.abort();
 *   throw error;
 * }
 * ```
 */
export class AtomicFileWriter {
  private stateValue: AtomicFileState = 'open';

  private constructor(
    /** The final path. */
    readonly path: string,
    /** The temporary file written until commit. */
    readonly tempPath: string,
    private readonly handle: FileHandle,
  ) {}

  /**
   * Creates the temporary file next to `path`. The target's directory must exist.
   * Nothing is written to `path` itself until {@link commit}.
   */
  static async open(path: string, options: AtomicFileOptions = {}): Promise<AtomicFileWriter> {
    const mode = options.mode ?? 0o666;
    if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) {
      throw new TypeError(`atomic file mode must be an integer file mode such as 0o644, got ${mode}`);
    }
    const tempPath = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    const handle = await open(tempPath, 'wx', mode);
    track(tempPath);
    return new AtomicFileWriter(path, tempPath, handle);
  }

  /** The current state. */
  get state(): AtomicFileState {
    return this.stateValue;
  }

  /**
   * Appends data (strings as UTF-8), all of it: a write may take only part
   * (a disk nearly full does that before it refuses with ENOSPC), so the rest
   * is written again until none is left, and a write that takes nothing fails.
   */
  async write(data: string | Uint8Array): Promise<void> {
    this.assertOpen('write to');
    try {
      await writeAll(this.handle, typeof data === 'string' ? Buffer.from(data, 'utf8') : data, this.tempPath);
    } catch (error) {
      await this.abort();
      throw error;
    }
  }

  /**
   * Makes the file appear at `path`: fsync, close, rename over any existing
   * file, fsync the directory. On failure the temporary file is deleted and
   * the error rethrown; `path` is then untouched.
   */
  async commit(): Promise<void> {
    this.assertOpen('commit');
    this.stateValue = 'committing';
    try {
      await this.handle.sync();
      await this.handle.close();
      await rename(this.tempPath, this.path);
      liveTempFiles.delete(this.tempPath);
      this.stateValue = 'committed';
    } catch (error) {
      this.stateValue = 'open';
      await this.abort();
      throw error;
    }
    await syncDirectory(dirname(this.path));
  }

  /** Deletes the temporary file; `path` is left as it was. Idempotent, and a no-op after commit. */
  async abort(): Promise<void> {
    if (this.stateValue !== 'open') return;
    this.stateValue = 'aborted';
    try {
      await this.handle.close();
    } catch {
      // Already closed (a failed commit closed it): deleting is what matters.
    }
    try {
      await unlink(this.tempPath);
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'ENOENT') throw error;
    } finally {
      liveTempFiles.delete(this.tempPath);
    }
  }

  private assertOpen(operation: string): void {
    if (this.stateValue !== 'open') throw new AtomicFileClosedError(this.path, this.stateValue, operation);
  }
}

/**
 * Write every byte of `bytes` at the file's position (or from `position`),
 * however many calls it takes. A call that writes nothing throws `ENOSPC`
 * naming `path`, as the next call would on a full disk. @internal
 */
export async function writeAll(handle: FileHandle, bytes: Uint8Array, path: string, position?: number): Promise<void> {
  let done = 0;
  while (done < bytes.byteLength) {
    const { bytesWritten } = await handle.write(
      bytes,
      done,
      bytes.byteLength - done,
      position === undefined ? null : position + done,
    );
    if (bytesWritten <= 0) {
      throw Object.assign(new Error(`ENOSPC: no space left on device, write to ${path} took no bytes`), {
        code: 'ENOSPC',
        path,
      });
    }
    done += bytesWritten;
  }
}

/** Makes a rename durable. Best effort: some platforms cannot open a directory for fsync. */
async function syncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // Not supported here (e.g. Windows); the rename itself is still atomic.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/**
 * Writes `path` atomically with `body`: commits when `body` resolves, aborts
 * (leaving no file behind) when it throws, and rethrows.
 *
 * @example
 * ```ts
 * await writeFileAtomic('out.txt', async (file) => {
 *   await file.write('hello\n');
 * });
 * ```
 */
export async function writeFileAtomic<T>(
  path: string,
  body: (file: AtomicFileWriter) => Promise<T>,
  options: AtomicFileOptions = {},
): Promise<T> {
  const file = await AtomicFileWriter.open(path, options);
  let result: T;
  try {
    result = await body(file);
  } catch (error) {
    await file.abort();
    throw error;
  }
  await file.commit();
  return result;
}
