/**
 * The `psi` command's flags: what each means (the `--help` text is built from
 * this table), and their check at the door. A flag of the other mode (`--rows`
 * in a run, `--left` in the demo) is refused, not ignored.
 */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { type EmptyKeyPolicy, maxPsiThreads } from '@troupe/actors';
import { UsageError } from '../shared/cli.js';

interface FlagDoc {
  readonly name: string;
  readonly value?: string;
  readonly help: string;
  readonly modes: readonly ('run' | 'demo')[];
  readonly short?: string;
}

const cores = availableParallelism();

const FLAGS: readonly FlagDoc[] = [
  {
    name: 'left',
    value: '<file>',
    modes: ['run'],
    help: "the left party's CSV: a regular file, UTF-8, with a header row",
  },
  { name: 'right', value: '<file>', modes: ['run'], help: "the right party's CSV" },
  {
    name: 'key',
    value: '<col>[,<col>...]',
    modes: ['run'],
    help: 'key column(s), named as in both headers (exactly: case and spaces count)',
  },
  {
    name: 'out',
    value: '<dir>',
    modes: ['run'],
    help: 'output folder, created if missing; it gets left.csv and right.csv. An output that would replace an input is refused',
  },
  {
    name: 'force',
    modes: ['run'],
    help: 'replace left.csv / right.csv if they already exist in --out (never an input)',
  },
  {
    name: 'delimiter',
    value: '<c>',
    modes: ['run'],
    help: "field delimiter: one character, or '\\t' / tab for a tab (default ,)",
  },
  {
    name: 'empty-keys',
    value: '<policy>',
    modes: ['run'],
    help: 'rows whose key is empty: match (default; they match each other, with a warning), skip, or refuse',
  },
  { name: 'rows', value: '<n>', modes: ['demo'], help: 'rows per generated file (default 200000)' },
  { name: 'overlap', value: '<f>', modes: ['demo'], help: 'fraction of keys both files share, 0 to 1 (default 0.5)' },
  {
    name: 'dir',
    value: '<dir>',
    modes: ['demo'],
    help: 'generate into this folder and keep it (default: a temporary folder, removed at the end)',
  },
  {
    name: 'threads',
    value: '<n>',
    modes: ['run', 'demo'],
    help: `masking threads, 1 to ${maxPsiThreads(cores)} (4 per core); default ${cores}, the cores here. Started as the data needs them`,
  },
  { name: 'batch', value: '<n>', modes: ['run', 'demo'], help: 'keys per masked batch, 1 to 1048576 (default 4096)' },
  {
    name: 'json',
    modes: ['run', 'demo'],
    help: 'print one JSON line on stdout: the summary, or {"error": {...}} (no progress, no text summary)',
  },
  { name: 'no-progress', modes: ['run', 'demo'], help: 'no progress line (the summary is still printed)' },
  { name: 'quiet', modes: ['run', 'demo'], help: 'no progress and no summary: only warnings and errors' },
  { name: 'help', short: 'h', modes: ['run', 'demo'], help: 'show this help' },
];

/** The `--help` text. */
export function helpText(): string {
  const flag = (f: FlagDoc) => {
    const left = `${f.short ? `-${f.short}, ` : ''}--${f.name}${f.value ? ` ${f.value}` : ''}`;
    return `  ${left.padEnd(30)} ${f.help}`;
  };
  const section = (title: string, pick: (f: FlagDoc) => boolean) => [title, ...FLAGS.filter(pick).map(flag)];
  return [
    'psi: private set intersection of two CSV files (two-party ECDH-PSI over X25519, on Troupe actors)',
    '',
    'usage:',
    '  psi --left <file> --right <file> --key <col>[,<col>...] --out <dir> [flags]',
    '  psi demo [--rows N] [--overlap F] [--dir <dir>] [flags]',
    '',
    "Both parties run in this process, each with its own fresh secret key; neither sees the other's keys.",
    'The result is two files in --out:',
    "  left.csv   the left file's rows whose key the right file also has, with the header",
    "  right.csv  the right file's rows whose key the left file also has, with the header",
    'Rows are sorted by key as text (UTF-16 code unit order, so "10" sorts before "9"); rows with the',
    'same key keep their file order, and all of them are kept. Each file appears whole or not at all.',
    '`psi demo` generates two sample files, runs the PSI on them and checks the result against a',
    'plain set intersection.',
    '',
    ...section('run flags:', (f) => f.modes.length === 1 && f.modes[0] === 'run'),
    '',
    ...section('demo flags:', (f) => f.modes.length === 1 && f.modes[0] === 'demo'),
    '',
    ...section('flags of both:', (f) => f.modes.length === 2),
    '',
    'exit codes:',
    '  0        done: both outputs written',
    '  1        an unexpected error (an I/O error mid-run, a bug), or the demo check failed; nothing written',
    '  2        bad input or usage: the message names the flag, or the file, line and column; nothing written',
    '  3        the outputs are written, but the shutdown was not clean (an actor had to be abandoned)',
    '  129/130/143  interrupted by SIGHUP / SIGINT / SIGTERM (also when sent to `npm run psi`); nothing written',
    '',
    'environment:',
    '  PSI_STOP_TIMEOUT_MS  how long one actor may take to stop before it is abandoned (default 5000)',
    '',
    'Inputs are never changed. A stale temporary file (.left.csv.<pid>.<hex>.tmp) left in --out by a',
    'killed run is removed by the next run, which says so.',
  ].join('\n');
}

/** The checked flags of a run or a demo. */
export interface PsiFlags {
  mode: 'run' | 'demo';
  help: boolean;
  left?: string;
  right?: string;
  key?: string[];
  out?: string;
  force: boolean;
  delimiter?: string;
  emptyKeys?: EmptyKeyPolicy;
  rows: number;
  overlap: number;
  dir?: string;
  threads: number;
  batch: number;
  json: boolean;
  progress: boolean;
  summary: boolean;
}

function intFlag(name: string, raw: string | undefined, dflt: number, min: number, max: number, why = ''): number {
  if (raw === undefined) return dflt;
  const n = raw.trim() === '' ? Number.NaN : Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}${why}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/** `\t`, `tab` → a tab; any other single character as is. */
export function parseDelimiter(raw: string): string {
  if (raw === '\\t' || raw.toLowerCase() === 'tab') return '\t';
  if (raw.length !== 1 || '"\r\n'.includes(raw)) {
    throw new UsageError(
      `--delimiter must be one character (not a quote or a line break), or '\\t' / tab for a tab, got ${JSON.stringify(raw)}` +
        (raw.length === 2 && raw.startsWith('\\')
          ? `; the shell passed the two characters ${JSON.stringify(raw)}`
          : ''),
    );
  }
  return raw;
}

/** Parse and check `argv` (after the program name). Throws {@link UsageError}. */
export function parsePsiFlags(argv: readonly string[]): PsiFlags {
  const mode = argv[0] === 'demo' ? 'demo' : 'run';
  const args = mode === 'demo' ? argv.slice(1) : [...argv];
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const f of FLAGS) {
    options[f.name] = { type: f.value === undefined ? 'boolean' : 'string', ...(f.short ? { short: f.short } : {}) };
  }
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args, options, strict: true, allowPositionals: true }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help === true) return { mode, help: true } as PsiFlags;
  if (positionals.length > 0) {
    throw new UsageError(
      `unexpected argument ${JSON.stringify(positionals[0])}${mode === 'run' && positionals[0] !== 'demo' ? ' (only `demo` may come first; flags start with --)' : ''}`,
    );
  }
  for (const f of FLAGS) {
    if (values[f.name] !== undefined && !f.modes.includes(mode)) {
      throw new UsageError(
        mode === 'run'
          ? `--${f.name} is a flag of \`psi demo\`, not of a run`
          : `--${f.name} is a flag of a run, not of \`psi demo\``,
      );
    }
  }
  const str = (name: string) => values[name] as string | undefined;
  const max = maxPsiThreads(cores);
  const flags: PsiFlags = {
    mode,
    help: false,
    force: values.force === true,
    rows: intFlag('rows', str('rows'), 200_000, 1, 50_000_000),
    overlap: 0.5,
    threads: intFlag(
      'threads',
      str('threads'),
      cores,
      1,
      max,
      ` (4 per core: this machine has ${cores}; more threads than cores add memory, not speed)`,
    ),
    batch: intFlag('batch', str('batch'), 4096, 1, 1 << 20),
    json: values.json === true,
    progress: values.json !== true && values.quiet !== true && values['no-progress'] !== true,
    summary: values.json !== true && values.quiet !== true,
  };
  if (str('overlap') !== undefined) {
    const o = Number(str('overlap'));
    if (str('overlap')?.trim() === '' || !(o >= 0 && o <= 1)) {
      throw new UsageError(`--overlap must be a number from 0 to 1, got ${JSON.stringify(str('overlap'))}`);
    }
    flags.overlap = o;
  }
  if (str('dir') !== undefined) flags.dir = str('dir') as string;
  if (mode === 'run') {
    const missing = ['left', 'right', 'key', 'out'].filter((n) => str(n) === undefined);
    if (missing.length > 0) {
      throw new UsageError(
        `${missing.map((n) => `--${n}`).join(', ')} ${missing.length === 1 ? 'is' : 'are'} required`,
      );
    }
    flags.left = str('left') as string;
    flags.right = str('right') as string;
    flags.out = str('out') as string;
    flags.key = (str('key') as string).split(',').map((k) => k.trim());
    if (flags.key.some((k) => k === '')) {
      throw new UsageError(`--key has an empty column name: ${JSON.stringify(str('key'))}`);
    }
    if (str('delimiter') !== undefined) flags.delimiter = parseDelimiter(str('delimiter') as string);
    const ek = str('empty-keys');
    if (ek !== undefined) {
      if (ek !== 'match' && ek !== 'skip' && ek !== 'refuse') {
        throw new UsageError(`--empty-keys must be match, skip or refuse, got ${JSON.stringify(ek)}`);
      }
      flags.emptyKeys = ek;
    }
  }
  return flags;
}
