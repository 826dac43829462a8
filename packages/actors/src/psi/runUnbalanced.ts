/**
 * Unbalanced PSI (a small client set against a large server set), after
 * SecretFlow's ECDH-OPRF mode: the server masks its set once, offline, into a
 * cache ({@link runUnbalancedCache}); each query ({@link runUnbalancedQuery})
 * then costs work proportional to the client's set, plus one transfer of the
 * cache's entries the first time (the client keeps a verified copy).
 */
import { mkdir, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import type { ActorDefinition, ActorRef, ActorSystem, WorkerActorSpec } from '@troupe/core';
import { CsvReader } from './csv.js';
import { OprfKeyFileError, PsiInterruptedError, PsiOptionsError } from './errors.js';
import { keyId, openCache, readKeyFile, writeKeyFile } from './OprfFiles.js';
import type { OprfWorkerInput, OprfWorkerMsg } from './OprfWorker.js';
import { generateOprfKey, zeroSecret } from './oprf.js';
import { resolveLimits } from './PsiOptions.js';
import type { PartyConfig, PsiLimits } from './protocol.js';
import { makeScratchDir, removeScratchDir } from './SpillBuckets.js';
import { CacheJob, type CacheResult, QueryJob, type QueryResult, type UnbalancedRelayInput } from './UnbalancedJob.js';

/** Options shared by both steps. */
interface CommonOptions {
  /** Key column names (one or more). The client must name as many as the cache was made with. */
  key: readonly string[];
  /** The server's OPRF key file (mode 0600). */
  keyFile: string;
  /** The cache file. */
  cache: string;
  threads?: number;
  batchSize?: number;
  delimiter?: string;
  limits?: Partial<PsiLimits>;
  signal?: AbortSignal;
}

/** Options of {@link runUnbalancedCache}. */
export interface UnbalancedCacheOptions extends CommonOptions {
  /** The server's CSV file. */
  server: string;
  /** Make a new key file when `keyFile` does not exist (default true). */
  createKey?: boolean;
}

/** Options of {@link runUnbalancedQuery}. */
export interface UnbalancedQueryOptions extends CommonOptions {
  /** The client's CSV file. */
  client: string;
  /** Output folder: `client.csv` (the client's rows whose key the server has, sorted by key). */
  outDir: string;
  /** Where the client keeps its copy of the cache's entries; a later query with the same cache needs no transfer. */
  copyFile?: string;
  /** An actor put between the roles, one per direction, passing every message on (audits, tests). */
  // biome-ignore lint/suspicious/noExplicitAny: the relay's state is its own
  relay?: ActorDefinition<any, any, UnbalancedRelayInput>;
  /** The client's OPRF worker (tests wrap the built-in one). */
  clientWorker?: WorkerActorSpec<OprfWorkerMsg, OprfWorkerInput>;
}

/** What {@link runUnbalancedCache} did. */
export interface UnbalancedCacheSummary extends CacheResult {
  cacheFile: string;
  keyFile: string;
  keyCreated: boolean;
  keyId: string;
  elapsedMs: number;
}

/** What {@link runUnbalancedQuery} found. */
export interface UnbalancedQuerySummary extends QueryResult {
  outFile: string;
  elapsedMs: number;
}

function check(options: CommonOptions, fileField: 'server' | 'client', file: unknown): void {
  if (typeof file !== 'string' || file.length === 0)
    throw new PsiOptionsError(`--${fileField}`, 'must name a CSV file');
  const key = options.key;
  if (!Array.isArray(key) || key.length === 0 || key.some((k) => typeof k !== 'string' || k.length === 0)) {
    throw new PsiOptionsError('--key', `must name one or more columns, got ${JSON.stringify(key)}`);
  }
  for (const f of ['keyFile', 'cache'] as const) {
    if (typeof options[f] !== 'string' || options[f].length === 0) {
      throw new PsiOptionsError(f === 'keyFile' ? '--key-file' : '--cache', 'must name a file');
    }
  }
}

function partyConfig(
  options: CommonOptions,
  file: string,
  outFile: string,
  scratchDir: string,
  threads: number,
): PartyConfig {
  const batchSize = options.batchSize ?? 4096;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 1 << 16) {
    throw new PsiOptionsError('--batch', `must be an integer from 1 to 65536, got ${batchSize}`);
  }
  return {
    side: 'left',
    file: resolve(file),
    keyColumns: [...options.key],
    delimiter: options.delimiter ?? ',',
    outFile,
    batchSize,
    threads,
    emptyKeys: 'match',
    limits: resolveLimits(options.limits),
    scratchDir,
  };
}

function threadsOf(system: ActorSystem, options: CommonOptions): number {
  const threads = options.threads ?? availableParallelism();
  const hosts = system.workerPool().size;
  if (!Number.isInteger(threads) || threads < 1 || threads > hosts) {
    throw new PsiOptionsError(
      '--threads',
      `is ${threads} but must be an integer from 1 to the system's ${hosts} worker host(s)`,
    );
  }
  return threads;
}

/**
 * The files a step reads and writes must be different files: by path, or the
 * same file through a symbolic or hard link (device and inode). Otherwise a
 * cache would be written over the server's CSV or its own key, a result over
 * the client's CSV. Throws {@link PsiOptionsError} naming the later flag of
 * the first clash; touches nothing.
 */
async function distinctFiles(files: readonly (readonly [flag: string, path: string | undefined])[]): Promise<void> {
  const seen: { flag: string; path: string; id: string | undefined }[] = [];
  for (const [flag, path] of files) {
    if (path === undefined) continue;
    const full = resolve(path);
    const st = await stat(full).catch(() => undefined);
    const id = st === undefined ? undefined : `${st.dev}:${st.ino}`;
    const clash = seen.find((f) => f.path === full || (id !== undefined && f.id === id));
    if (clash !== undefined) {
      throw new PsiOptionsError(
        flag,
        `${path} is the same file as ${clash.flag} ${clash.path}${clash.path === full ? '' : ' (through a link)'}: ` +
          'name another file (psi never writes over its inputs or its key)',
      );
    }
    seen.push({ flag, path: full, id });
  }
}

async function preflight(file: string, options: CommonOptions): Promise<void> {
  const csv = await CsvReader.open(resolve(file), { delimiter: options.delimiter ?? ',' });
  try {
    csv.columnIndices(options.key);
  } finally {
    await csv.close();
  }
}

async function runJob<T>(
  system: ActorSystem,
  // biome-ignore lint/suspicious/noExplicitAny: either job
  definition: ActorDefinition<any, any, any>,
  input: unknown,
  signal: AbortSignal | undefined,
  label: string,
): Promise<T> {
  const name = `${label}-${++runs}`;
  // biome-ignore lint/suspicious/noExplicitAny: either job
  const job: ActorRef<any> = system.spawn(definition, { name, input });
  const unhook = system.onShutdown('stop-intake', name, async () => {
    // Abort first and let the job take it (its reader and roles wind down), then stop it: a job
    // stopped with the abort still in its mailbox would leave the reader waiting on a live role.
    job.tell({ type: 'abort', reason: new PsiInterruptedError('the actor system is shutting down') });
    // Inside the 5 s of the stop-intake phase, so that a role too slow to wind down is stopped by name.
    await job.ask({ type: 'result' }, { timeoutMs: 4_000 }).catch(() => undefined);
    await system.stop(job);
  });
  const onAbort = () => job.tell({ type: 'abort', reason: new PsiInterruptedError('aborted by its signal') });
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await job.ask<T>({ type: 'result' }, { timeoutMs: 7 * 24 * 3_600_000 });
  } finally {
    signal?.removeEventListener('abort', onAbort);
    unhook();
    await system.stop(job);
  }
}

let runs = 0;

/**
 * The offline step: masks the server's unique keys under its OPRF key into a
 * cache file (atomic, mode 0600, HMAC-checked). Makes the key file (mode
 * 0600) first if it does not exist; an existing one is reused, so caches
 * made again keep working with clients' copies of older ones refused by
 * digest, not by key.
 *
 * @example
 * await runUnbalancedCache(system, { server: 'big.csv', key: ['email'], keyFile: 'server.key', cache: 'server.cache' });
 */
export async function runUnbalancedCache(
  system: ActorSystem,
  options: UnbalancedCacheOptions,
): Promise<UnbalancedCacheSummary> {
  const t0 = performance.now();
  check(options, 'server', options.server);
  const threads = threadsOf(system, options);
  options.signal?.throwIfAborted();
  await distinctFiles([
    ['--server', options.server],
    ['--key-file', options.keyFile],
    ['--cache', options.cache],
  ]);
  await preflight(options.server, options);
  const keyFile = resolve(options.keyFile);
  let key: Uint8Array;
  let keyCreated = false;
  try {
    key = await readKeyFile(keyFile);
  } catch (error) {
    if (
      !(error instanceof OprfKeyFileError) ||
      !error.message.endsWith('does not exist') ||
      options.createKey === false
    )
      throw error;
    key = generateOprfKey();
    await writeKeyFile(keyFile, key);
    keyCreated = true;
  }
  const cacheFile = resolve(options.cache);
  const scratch = await makeScratchDir(resolve(cacheFile, '..'), 'cache');
  try {
    const st = await stat(resolve(options.server));
    const config = partyConfig(options, options.server, cacheFile, scratch, threads);
    const id = keyId(key);
    const result = await runJob<CacheResult>(
      system,
      CacheJob,
      { config, cacheFile, key, source: { file: config.file, size: st.size, mtimeMs: st.mtimeMs } },
      options.signal,
      'psi-cache',
    );
    return { ...result, cacheFile, keyFile, keyCreated, keyId: id, elapsedMs: performance.now() - t0 };
  } finally {
    zeroSecret(key);
    await removeScratchDir(scratch);
  }
}

/**
 * An online query: the client's CSV against a cached server set, both roles
 * in this process, talking only through refs and byte arrays. Refuses a
 * cache that is tampered, truncated, of another version, or made with
 * another key, before any work. Writes `outDir/client.csv` atomically.
 *
 * @example
 * const s = await runUnbalancedQuery(system, {
 *   client: 'small.csv', key: ['email'], keyFile: 'server.key', cache: 'server.cache',
 *   outDir: 'result', copyFile: 'client.cache-copy',
 * });
 * console.log(s.matchedKeys, s.transferredBytes);
 */
export async function runUnbalancedQuery(
  system: ActorSystem,
  options: UnbalancedQueryOptions,
): Promise<UnbalancedQuerySummary> {
  const t0 = performance.now();
  check(options, 'client', options.client);
  if (typeof options.outDir !== 'string' || options.outDir.length === 0)
    throw new PsiOptionsError('--out', 'must name an output folder');
  const threads = threadsOf(system, options);
  options.signal?.throwIfAborted();
  await distinctFiles([
    ['--client', options.client],
    ['--key-file', options.keyFile],
    ['--cache', options.cache],
    ['--copy', options.copyFile],
    ['--out', resolve(options.outDir, 'client.csv')],
  ]);
  await preflight(options.client, options);
  const key = await readKeyFile(resolve(options.keyFile));
  let scratch: string | undefined;
  try {
    const cache = await openCache(resolve(options.cache), key);
    const outDir = resolve(options.outDir);
    await mkdir(outDir, { recursive: true });
    scratch = await makeScratchDir(outDir, 'client');
    const outFile = resolve(outDir, 'client.csv');
    const config = partyConfig(options, options.client, outFile, scratch, threads);
    const result = await runJob<QueryResult>(
      system,
      QueryJob,
      {
        config,
        cache,
        key,
        ...(options.copyFile !== undefined ? { copyFile: resolve(options.copyFile) } : {}),
        ...(options.relay !== undefined ? { relay: options.relay } : {}),
        ...(options.clientWorker !== undefined ? { clientWorker: options.clientWorker } : {}),
      },
      options.signal,
      'psi-query',
    );
    return { ...result, outFile, elapsedMs: performance.now() - t0 };
  } finally {
    zeroSecret(key);
    if (scratch !== undefined) await removeScratchDir(scratch);
  }
}
