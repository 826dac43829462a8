/**
 * The `psi` command: two-party ECDH-PSI over two CSV files, on Troupe actors.
 *
 *   psi --left a.csv --right b.csv --key id[,col2] --out result/ [--threads N] [--batch 4096]
 *       [--delimiter ,] [--json]
 *   psi demo [--rows 200000] [--overlap 0.5] [--threads N] [--dir D] [--json]
 *
 * Exit codes: 0 done; 2 bad input or usage (nothing written); 130/143
 * interrupted by SIGINT/SIGTERM (nothing written); 1 anything else.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CsvInputError, PsiInterruptedError, PsiOptionsError, type PsiSummary, runPsi } from '@troupe/actors';
import { ActorSystem, consoleLogger } from '@troupe/core';
import { type Expected, generatePsiData } from './generate.js';
import { partyMain } from './party.js';
import { progressPrinter } from './progress.js';

const USAGE = `usage:
  psi --left <a.csv> --right <b.csv> --key <col>[,<col>...] --out <dir> [--threads N] [--batch 4096] [--delimiter ,] [--json]
  psi demo [--rows 200000] [--overlap 0.5] [--threads N] [--dir <dir>] [--json]
  psi party --side left|right --file <a.csv> --key <col>[,...] --out <dir> --session <name> ... (psi party --help)`;

const signalCodes: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

class UsageError extends Error {
  override name = 'UsageError';
}

/** Paths are relative to where the user ran the command (npm/pnpm run from the repo root). */
const base = process.env.INIT_CWD ?? process.cwd();
const path = (p: string) => (isAbsolute(p) ? p : resolve(base, p));

function intFlag(name: string, raw: string | undefined, dflt: number, min: number, max: number): number {
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'party') return partyMain(argv.slice(1)); // one party on its own: see party.ts
  const demo = argv[0] === 'demo';
  const { values } = parseArgs({
    args: demo ? argv.slice(1) : argv,
    options: {
      left: { type: 'string' },
      right: { type: 'string' },
      key: { type: 'string' },
      out: { type: 'string' },
      threads: { type: 'string' },
      batch: { type: 'string' },
      delimiter: { type: 'string' },
      rows: { type: 'string' },
      overlap: { type: 'string' },
      dir: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const threads = intFlag('threads', values.threads, availableParallelism(), 1, 256);
  const batchSize = intFlag('batch', values.batch, 4096, 1, 1 << 20);

  let left: string;
  let right: string;
  let key: string[];
  let outDir: string;
  let expected: Expected | undefined;
  let cleanup: (() => Promise<void>) | undefined;
  if (demo) {
    const rows = intFlag('rows', values.rows, 200_000, 1, 50_000_000);
    const overlap = values.overlap === undefined ? 0.5 : Number(values.overlap);
    if (!(overlap >= 0 && overlap <= 1))
      throw new UsageError(`--overlap must be a number from 0 to 1, got ${JSON.stringify(values.overlap)}`);
    const dir = values.dir === undefined ? await mkdtemp(join(tmpdir(), 'troupe-psi-demo-')) : path(values.dir);
    if (values.dir === undefined) cleanup = () => rm(dir, { recursive: true, force: true });
    if (!values.json)
      process.stderr.write(
        `generating 2 x ${rows.toLocaleString('en')} rows (${overlap * 100}% key overlap, 1% duplicate keys) in ${dir}\n`,
      );
    const { mkdir } = await import('node:fs/promises');
    await mkdir(join(dir, 'input'), { recursive: true });
    expected = await generatePsiData(join(dir, 'input'), { rows, overlap, duplicates: 0.01, seed: 20261126 });
    left = join(dir, 'input', 'left.csv');
    right = join(dir, 'input', 'right.csv');
    key = ['email'];
    outDir = join(dir, 'result');
  } else {
    if (
      values.left === undefined ||
      values.right === undefined ||
      values.key === undefined ||
      values.out === undefined
    ) {
      throw new UsageError('--left, --right, --key and --out are required');
    }
    left = path(values.left);
    right = path(values.right);
    key = values.key.split(',').map((k) => k.trim());
    outDir = path(values.out);
  }

  const system = await ActorSystem.start({
    name: 'psi',
    logger: consoleLogger('warn'),
    workers: { size: threads },
    // An interrupted run is not a clean one: 130 / 143, and no output.
    exitCodeOnSignal: (signal) => signalCodes[signal] ?? 1,
  });
  const progress = progressPrinter(process.stderr);
  let summary: PsiSummary;
  try {
    summary = await runPsi(system, {
      left,
      right,
      key,
      outDir,
      threads,
      batchSize,
      ...(values.delimiter === undefined ? {} : { delimiter: values.delimiter }),
      ...(values.json ? {} : { onProgress: progress.onProgress }),
      progressIntervalMs: process.stderr.isTTY ? 250 : 500,
    });
  } catch (error) {
    progress.done();
    if (error instanceof PsiInterruptedError && system.isShuttingDown) {
      // A signal: the system finishes its shutdown and exits with 130/143.
      await new Promise(() => {});
    }
    await system.shutdown();
    throw error;
  } finally {
    progress.done();
  }
  let verified: boolean | undefined;
  if (expected !== undefined) {
    const [l, r] = await Promise.all([
      readFile(join(outDir, 'left.csv'), 'utf8'),
      readFile(join(outDir, 'right.csv'), 'utf8'),
    ]);
    const header = 'email,first_name,last_name,city,amount,note';
    verified =
      l === [header, ...expected.left, ''].join('\n') &&
      r === [header, ...expected.right, ''].join('\n') &&
      summary.intersection === expected.intersection;
  }
  await system.shutdown();
  await cleanup?.();
  if (values.json) {
    const maxRssMb = process.resourceUsage().maxRSS / 1024;
    process.stdout.write(
      `${JSON.stringify({ ...summary, maxRssMb, ...(verified === undefined ? {} : { verified }) })}\n`,
    );
  } else {
    const s = summary;
    const lines = [
      `psi: ${s.left.rows.toLocaleString('en')} x ${s.right.rows.toLocaleString('en')} rows (${s.left.uniqueKeys.toLocaleString('en')} x ${s.right.uniqueKeys.toLocaleString('en')} unique keys), ${s.threads} thread(s)`,
      `  intersection: ${s.intersection.toLocaleString('en')} keys; rows written: left ${s.left.matchedRows.toLocaleString('en')}, right ${s.right.matchedRows.toLocaleString('en')}`,
      `  time: ${(s.elapsedMs / 1000).toFixed(2)} s, ${Math.round(s.itemsPerSecond).toLocaleString('en')} items/s`,
      `  output: ${s.left.outFile}, ${s.right.outFile}${cleanup ? ' (temporary, removed)' : ''}`,
    ];
    if (verified !== undefined) lines.push(`  check against a plain set intersection: ${verified ? 'OK' : 'MISMATCH'}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return verified === false ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const bad =
      error instanceof UsageError ||
      error instanceof PsiOptionsError ||
      error instanceof CsvInputError ||
      (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION';
    process.stderr.write(`psi: ${error instanceof Error ? error.message : String(error)}\n`);
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))
      process.stderr.write(`${USAGE}\n`);
    process.exitCode = bad || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ? 2 : 1;
  },
);
