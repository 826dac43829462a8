/**
 * The `psi` command: two-party ECDH-PSI over two CSV files, on Troupe actors.
 * `psi --help` says what it does, every flag, the outputs and the exit codes
 * (see flags.ts).
 *
 * What it promises:
 * - inputs are never changed: an output that would replace an input (the
 *   same file, through symlinks or hard links too) is refused, and so is an
 *   existing output unless `--force`;
 * - everything that can be checked before the work is (flags, files, columns,
 *   a writable --out), exit 2 naming what is wrong;
 * - a signal (SIGTERM, SIGINT, SIGHUP; sent to this process or to the
 *   `npm run psi` that started it) stops the run within the shutdown budget,
 *   leaves the output folder as it was, says so in one line, and exits 128+n;
 * - the exit code is true: 3 when the shutdown had to abandon an actor.
 */
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import {
  CsvInputError,
  CsvMissingColumnError,
  CsvRaggedRowError,
  PsiInterruptedError,
  PsiOptionsError,
  type PsiSummary,
  runPsi,
} from '@troupe/actors';
import { ActorSystem, defineActor, type Logger } from '@troupe/core';
import { UsageError } from '../shared/cli.js';
import { helpText, type PsiFlags, parsePsiFlags } from './flags.js';
import { type Expected, generatePsiData } from './generate.js';
import { delimiterHint } from './hints.js';
import { type ProgressPrinter, progressPrinter } from './progress.js';

const SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];
const signalNumbers: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

/** Paths are relative to where the user ran the command (npm/pnpm run from the repo root set INIT_CWD). */
const base = process.env.INIT_CWD ?? process.cwd();
const path = (p: string) => (isAbsolute(p) ? p : resolve(base, p));

const plural = (n: number, one: string, many = `${one}s`) => `${n.toLocaleString('en')} ${n === 1 ? one : many}`;

/**
 * The runtime's log lines, through the progress printer (so they do not break
 * the progress line). An actor failing on bad input is not logged: the command
 * reports that error itself, once, with the hint.
 */
function cliLogger(printer: ProgressPrinter): Logger {
  const write = (level: string, message: string) => {
    if (/^actor \S+ failed: (Csv\w+Error|PsiInterruptedError)\b/.test(message)) return;
    printer.line(`[troupe] ${level} ${message}`);
  };
  return {
    debug: () => undefined,
    info: () => undefined,
    warn: (m) => write('WARN', m),
    error: (m) => write('ERROR', m),
  };
}

/**
 * Under `npm run psi` / `pnpm psi`, the package manager is the parent. If it
 * dies without passing on a signal (SIGKILL, a crash), this process would be
 * re-parented and run on unseen: treat that as a hang-up.
 */
function watchParent(onGone: () => void): void {
  if (process.env.npm_lifecycle_event === undefined) return;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== parent) {
      clearInterval(timer);
      onGone();
    }
  }, 250);
  timer.unref();
}

/** `PSI_STOP_TIMEOUT_MS`: how long one actor may take to stop before it is abandoned (the runtime's default: 5000). */
function stopBudget(): number | undefined {
  const raw = process.env.PSI_STOP_TIMEOUT_MS;
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    throw new UsageError(`PSI_STOP_TIMEOUT_MS must be a whole number of milliseconds >= 1, got ${JSON.stringify(raw)}`);
  }
  return n;
}

interface Outcome {
  code: number;
  /** For --json: the summary, or an error. */
  json: Record<string, unknown>;
}

function errorJson(error: unknown, code: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const e = error as {
    name?: string;
    code?: unknown;
    message?: string;
    file?: unknown;
    line?: unknown;
    column?: unknown;
    option?: unknown;
  };
  return {
    error: {
      name: e?.name ?? 'Error',
      ...(typeof e?.code === 'string' ? { code: e.code } : {}),
      message: e?.message ?? String(error),
      ...(typeof e?.file === 'string' ? { file: e.file } : {}),
      ...(typeof e?.line === 'number' && e.line > 0 ? { line: e.line } : {}),
      ...(typeof e?.column === 'number' && e.column > 0 ? { column: e.column } : {}),
      ...(typeof e?.option === 'string' ? { option: e.option } : {}),
      ...extra,
    },
    exitCode: code,
  };
}

async function main(argv: string[]): Promise<Outcome> {
  const flags: PsiFlags = parsePsiFlags(argv);
  parsedDelimiter = flags.delimiter;
  if (flags.help) {
    process.stdout.write(`${helpText()}\n`);
    return { code: 0, json: {} };
  }
  const printer = progressPrinter(process.stderr, flags.progress);
  const say = (line: string) => {
    if (!flags.json) printer.line(line);
  };
  const stopTimeoutMs = stopBudget();
  let parentGone = false;
  // The system owns the signals from here on; a run that is interrupted ends through its shutdown.
  const system = await ActorSystem.start({
    name: 'psi',
    logger: cliLogger(printer),
    workers: { size: flags.threads },
    ...(stopTimeoutMs === undefined ? {} : { stopTimeoutMs }),
    signals: SIGNALS,
    exitOnSignal: false,
    exitCodeOnSignal: (signal) => 128 + (signalNumbers[signal] ?? 0),
  });
  if (process.env.PSI_FAULT === 'hang-on-stop') {
    // Fault injection (tests): an actor whose stop never finishes, so the shutdown must abandon it.
    system.spawn(
      defineActor({
        name: 'psi-fault',
        init: () => undefined,
        receive: () => undefined,
        afterStop: () => new Promise(() => {}),
      }),
      { name: 'fault-hang-on-stop' },
    );
  }
  watchParent(() => {
    parentGone = true;
    process.kill(process.pid, 'SIGHUP');
  });

  let demoDir: string | undefined;
  const removeDemoDir = () => {
    if (demoDir !== undefined) rmSync(demoDir, { recursive: true, force: true });
  };
  // Whatever way the process ends (but SIGKILL), a temporary demo folder goes with it.
  process.on('exit', removeDemoDir);
  const generation = new AbortController();
  system.onShutdown('stop-intake', 'psi-demo-data', () => generation.abort(new PsiInterruptedError('shutting down')));

  let summary: PsiSummary | undefined;
  let expected: Expected | undefined;
  let outDir = '';
  let failure: unknown;
  try {
    let left: string;
    let right: string;
    let key: string[];
    if (flags.mode === 'demo') {
      if (flags.dir === undefined) demoDir = await mkdtemp(join(tmpdir(), 'troupe-psi-demo-'));
      const dir = flags.dir === undefined ? (demoDir as string) : path(flags.dir);
      say(
        `psi demo: generating 2 x ${flags.rows.toLocaleString('en')} rows (${flags.overlap * 100}% key overlap, 1% duplicate keys) in ${dir}${demoDir ? ' (temporary)' : ''}`,
      );
      await mkdir(join(dir, 'input'), { recursive: true });
      expected = await generatePsiData(join(dir, 'input'), {
        rows: flags.rows,
        overlap: flags.overlap,
        duplicates: 0.01,
        seed: 20261126,
        signal: generation.signal,
      });
      left = join(dir, 'input', 'left.csv');
      right = join(dir, 'input', 'right.csv');
      key = ['email'];
      outDir = join(dir, 'result');
    } else {
      left = path(flags.left as string);
      right = path(flags.right as string);
      key = flags.key as string[];
      outDir = path(flags.out as string);
    }
    summary = await runPsi(system, {
      left,
      right,
      key,
      outDir,
      threads: flags.threads,
      batchSize: flags.batch,
      // The demo writes into a folder it owns; its result folder is replaced on a rerun with --dir.
      overwrite: flags.force || flags.mode === 'demo',
      ...(flags.delimiter === undefined ? {} : { delimiter: flags.delimiter }),
      ...(flags.emptyKeys === undefined ? {} : { emptyKeys: flags.emptyKeys }),
      onProgress: printer.onProgress,
      onWarning: (w) => printer.line(`psi: warning: ${w.message}`),
      progressIntervalMs: process.stderr.isTTY ? 250 : 500,
    });
  } catch (error) {
    failure = error;
  }
  printer.done();

  // An interruption: the shutdown is already under way; wait for it (the run cleans up in it).
  if (system.isShuttingDown && (failure !== undefined || summary === undefined)) {
    const report = await system.shutdown();
    if (report.cause === 'signal') {
      const why = parentGone ? 'its parent process (npm) exited' : `${report.signal}`;
      const message = `interrupted by ${why}; nothing written`;
      if (flags.json) {
        return {
          code: report.exitCode,
          json: errorJson(new PsiInterruptedError(why), report.exitCode, { signal: report.signal }),
        };
      }
      process.stderr.write(`psi: ${message}\n`);
      return { code: report.exitCode, json: {} };
    }
  }

  let verified: boolean | undefined;
  if (failure === undefined && summary !== undefined && expected !== undefined) {
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
  const report = await system.shutdown();
  if (demoDir !== undefined) {
    await rm(demoDir, { recursive: true, force: true });
    demoDir = undefined;
  }
  if (report.abandoned.length > 0) {
    process.stderr.write(
      `psi: the shutdown was not clean: ${plural(report.abandoned.length, 'actor')} had to be abandoned (${report.abandoned.join(', ')}); exit code ${report.exitCode}\n`,
    );
  }
  if (failure !== undefined) throw failure;
  const s = summary as PsiSummary;
  const code = verified === false ? 1 : report.exitCode;
  if (flags.summary) {
    const lines = [
      `psi: ${plural(s.left.rows, 'row')} x ${plural(s.right.rows, 'row')} (${plural(s.left.uniqueKeys, 'unique key')} x ${s.right.uniqueKeys.toLocaleString('en')}), ${plural(s.threads, 'thread')}`,
      `  intersection: ${plural(s.intersection, 'key')}; rows written: left ${s.left.matchedRows.toLocaleString('en')}, right ${s.right.matchedRows.toLocaleString('en')}`,
      `  time: ${(s.elapsedMs / 1000).toFixed(2)} s, ${Math.round(s.itemsPerSecond).toLocaleString('en')} keys/s`,
      `  output: ${s.left.outFile}, ${s.right.outFile}${flags.mode === 'demo' && flags.dir === undefined ? ' (temporary, removed)' : ''}`,
    ];
    if (verified !== undefined) lines.push(`  check against a plain set intersection: ${verified ? 'OK' : 'MISMATCH'}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  const maxRssMb = process.resourceUsage().maxRSS / 1024;
  return {
    code,
    json: { ...s, maxRssMb, exitCode: code, ...(verified === undefined ? {} : { verified }) },
  };
}

/** Exit code and message for an error that ended the command. */
async function reportError(error: unknown, json: boolean): Promise<number> {
  const bad = error instanceof UsageError || error instanceof PsiOptionsError || error instanceof CsvInputError;
  const code = bad ? 2 : 1;
  const message = error instanceof Error ? error.message : String(error);
  let hint: string | undefined;
  if (
    (error instanceof CsvRaggedRowError || error instanceof CsvMissingColumnError) &&
    typeof error.file === 'string'
  ) {
    const delimiter = parsedDelimiter ?? ',';
    hint = await delimiterHint(error.file, delimiter);
  }
  if (json) {
    process.stdout.write(`${JSON.stringify(errorJson(error, code, hint ? { hint } : {}))}\n`);
  }
  process.stderr.write(`psi: ${message}\n`);
  if (hint !== undefined) process.stderr.write(`psi: hint: ${hint}\n`);
  if (error instanceof UsageError) process.stderr.write('Run psi --help to see every flag.\n');
  if (!bad && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  return code;
}

/** The run's delimiter, once parsed (for the hint on a ragged row). */
let parsedDelimiter: string | undefined;
const argv = process.argv.slice(2);
const wantsJson = argv.includes('--json');

const done = (code: number) => {
  process.exitCode = code;
  // Nothing should keep the process alive now; if something does, do not hang.
  setTimeout(() => process.exit(code), 5_000).unref();
};
main(argv).then(
  (outcome) => {
    if (wantsJson && Object.keys(outcome.json).length > 0) process.stdout.write(`${JSON.stringify(outcome.json)}\n`);
    done(outcome.code);
  },
  async (error: unknown) => done(await reportError(error, wantsJson)),
);
