/**
 * `psi unbalanced`: a small client set against a large server set (SecretFlow's
 * ECDH-OPRF mode). Offline, the server masks its set once into a cache; each
 * query then costs work proportional to the client's set, plus one transfer
 * of the cache's entries (the client keeps a checked copy with `--copy`).
 *
 *   psi unbalanced cache --server big.csv --key id[,col2] --key-file server.key --cache server.cache
 *                        [--threads N] [--batch 4096] [--delimiter ,] [--json]
 *   psi unbalanced query --client small.csv --key id[,col2] --key-file server.key --cache server.cache
 *                        --out result/ [--copy client.copy] [--threads N] [--batch 4096] [--delimiter ,] [--json]
 *
 * For now both roles run in this process (the query reads the server's key
 * and cache, the client's CSV); they talk only through actor refs and byte
 * arrays, so a transport can put them in two processes later.
 * Exit codes: 0 done; 2 bad input, a refused cache or key file (nothing
 * written); 130/143 interrupted; 1 anything else.
 */
import { availableParallelism } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  CsvInputError,
  OprfCacheError,
  OprfKeyFileError,
  PsiInterruptedError,
  PsiOptionsError,
  runUnbalancedCache,
  runUnbalancedQuery,
} from '@troupe/actors';
import { ActorSystem, consoleLogger } from '@troupe/core';

export const UNBALANCED_USAGE = `usage:
  psi unbalanced cache --server <big.csv> --key <col>[,<col>...] --key-file <server.key> --cache <server.cache>
                       [--threads N] [--batch 4096] [--delimiter ,] [--json]
  psi unbalanced query --client <small.csv> --key <col>[,<col>...] --key-file <server.key> --cache <server.cache>
                       --out <dir> [--copy <client.copy>] [--threads N] [--batch 4096] [--delimiter ,] [--json]`;

const base = process.env.INIT_CWD ?? process.cwd();
const path = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
const signalCodes: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

function int(name: string, raw: string | undefined, dflt: number, min: number, max: number): number {
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new PsiOptionsError(`--${name}`, `must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  return n;
}

/** Runs `psi unbalanced ...`; resolves with the exit code (errors are printed here). */
export async function unbalancedCommand(argv: string[]): Promise<number> {
  const mode = argv[0];
  let json = false;
  try {
    if (mode !== 'cache' && mode !== 'query')
      throw new PsiOptionsError('unbalanced', `needs a step, cache or query, got ${JSON.stringify(mode)}`);
    const { values } = parseArgs({
      args: argv.slice(1),
      options: {
        server: { type: 'string' },
        client: { type: 'string' },
        key: { type: 'string' },
        'key-file': { type: 'string' },
        cache: { type: 'string' },
        out: { type: 'string' },
        copy: { type: 'string' },
        threads: { type: 'string' },
        batch: { type: 'string' },
        delimiter: { type: 'string' },
        json: { type: 'boolean', default: false },
      },
      strict: true,
    });
    json = values.json;
    const threads = int('threads', values.threads, availableParallelism(), 1, availableParallelism() * 4);
    const batchSize = int('batch', values.batch, 4096, 1, 1 << 16);
    for (const [flag, v] of [
      ['key', values.key],
      ['key-file', values['key-file']],
      ['cache', values.cache],
      ...(mode === 'cache'
        ? [['server', values.server]]
        : [
            ['client', values.client],
            ['out', values.out],
          ]),
    ] as const) {
      if (v === undefined) throw new PsiOptionsError(`--${flag}`, 'is required');
    }
    const common = {
      key: (values.key as string).split(',').map((k) => k.trim()),
      keyFile: path(values['key-file'] as string),
      cache: path(values.cache as string),
      threads,
      batchSize,
      ...(values.delimiter === undefined ? {} : { delimiter: values.delimiter }),
    };
    const system = await ActorSystem.start({
      name: 'psi-unbalanced',
      logger: consoleLogger('warn'),
      workers: { size: threads },
      exitCodeOnSignal: (signal) => signalCodes[signal] ?? 1,
    });
    try {
      if (mode === 'cache') {
        const s = await runUnbalancedCache(system, { ...common, server: path(values.server as string) });
        const rss = process.resourceUsage().maxRSS / 1024;
        process.stdout.write(
          json
            ? `${JSON.stringify({ ...s, maxRssMb: rss })}\n`
            : `psi unbalanced cache: ${s.rows.toLocaleString('en')} rows, ${s.count.toLocaleString('en')} unique keys masked into ${s.cacheFile}\n` +
                `  key ${s.keyFile} (${s.keyCreated ? 'new' : 'reused'}, id ${s.keyId}), ${(s.elapsedMs / 1000).toFixed(2)} s\n`,
        );
      } else {
        const s = await runUnbalancedQuery(system, {
          ...common,
          client: path(values.client as string),
          outDir: path(values.out as string),
          ...(values.copy === undefined ? {} : { copyFile: path(values.copy) }),
        });
        const rss = process.resourceUsage().maxRSS / 1024;
        process.stdout.write(
          json
            ? `${JSON.stringify({ ...s, maxRssMb: rss })}\n`
            : `psi unbalanced query: ${s.rows.toLocaleString('en')} client rows (${s.uniqueKeys.toLocaleString('en')} unique keys) against ${s.serverEntries.toLocaleString('en')} server keys\n` +
                `  intersection: ${s.matchedKeys.toLocaleString('en')} keys, ${s.matchedRows.toLocaleString('en')} rows written to ${s.outFile}\n` +
                `  cache entries ${s.fromCopy ? 'read from the client copy (no transfer)' : `transferred: ${(s.transferredBytes / 1e6).toFixed(1)} MB`}; ${(s.elapsedMs / 1000).toFixed(2)} s\n`,
        );
      }
    } catch (error) {
      if (error instanceof PsiInterruptedError && system.isShuttingDown) await new Promise(() => {});
      await system.shutdown();
      throw error;
    }
    await system.shutdown();
    return 0;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const bad =
      error instanceof PsiOptionsError ||
      error instanceof CsvInputError ||
      error instanceof OprfCacheError ||
      error instanceof OprfKeyFileError ||
      String((error as { code?: string }).code).startsWith('ERR_PARSE_ARGS');
    if (json) process.stdout.write(`${JSON.stringify({ error: message })}\n`);
    process.stderr.write(`psi: ${message.replace(/^psi:? /, '')}\n`);
    if (error instanceof PsiOptionsError && (error.option === 'unbalanced' || message.includes('is required'))) {
      process.stderr.write(`${UNBALANCED_USAGE}\n`);
    }
    return bad ? 2 : 1;
  }
}
