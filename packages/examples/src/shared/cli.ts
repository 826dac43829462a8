import { parseArgs } from 'node:util';

/** A numeric flag, validated at the door: `--jobs 2000`. */
export interface NumberFlag {
  readonly type: 'number';
  readonly help: string;
  readonly default: number;
  readonly min?: number;
  readonly max?: number;
  /** Reject fractions (default true). */
  readonly integer?: boolean;
}

/** An on/off flag: `--json`. */
export interface BooleanFlag {
  readonly type: 'boolean';
  readonly help: string;
}

/** One flag of a program, keyed by its camelCase name (`poisonRate` is `--poison-rate`). */
export type FlagSpec = NumberFlag | BooleanFlag;

/** The parsed values, typed after the specs. */
export type FlagValues<T extends Record<string, FlagSpec>> = {
  [K in keyof T]: T[K] extends NumberFlag ? number : boolean;
};

/** Bad command-line input; the message names the flag, the rule and what was given. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** `poisonRate` → `poison-rate`. */
function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** The `--help` text of a program. */
export function usage(program: string, description: string, specs: Record<string, FlagSpec>): string {
  const rows = Object.entries(specs).map(([key, spec]) => {
    const left = spec.type === 'number' ? `--${kebab(key)} <n>` : `--${kebab(key)}`;
    const range =
      spec.type === 'number'
        ? ` (default ${spec.default}${spec.min !== undefined ? `, min ${spec.min}` : ''}${spec.max !== undefined ? `, max ${spec.max}` : ''})`
        : '';
    return `  ${left.padEnd(24)} ${spec.help}${range}`;
  });
  return [
    `usage: ${program} [flags]`,
    '',
    description,
    '',
    'flags:',
    ...rows,
    `  ${'--help'.padEnd(24)} show this help`,
  ].join('\n');
}

/**
 * Parse and validate `argv` against `specs`. Throws {@link UsageError} for an
 * unknown flag, a missing value, or a value out of range; returns `'help'`
 * when `--help` was given.
 */
export function parseFlags<T extends Record<string, FlagSpec>>(
  specs: T,
  argv: readonly string[],
): FlagValues<T> | 'help' {
  const options: Record<string, { type: 'string' | 'boolean' }> = { help: { type: 'boolean' } };
  for (const [key, spec] of Object.entries(specs)) {
    options[kebab(key)] = { type: spec.type === 'number' ? 'string' : 'boolean' };
  }
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }));
  } catch (error) {
    // node:util's messages are good ("Unknown option '--job'"); keep them, drop the error code.
    throw new UsageError((error as Error).message);
  }
  if (values.help === true) return 'help';
  const out: Record<string, number | boolean> = {};
  for (const [key, spec] of Object.entries(specs)) {
    const flag = `--${kebab(key)}`;
    const raw = values[kebab(key)];
    if (spec.type === 'boolean') {
      out[key] = raw === true;
      continue;
    }
    if (raw === undefined) {
      out[key] = spec.default;
      continue;
    }
    const n = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : Number.NaN;
    const integer = spec.integer ?? true;
    const kind = integer ? 'an integer' : 'a number';
    const bounds =
      spec.min !== undefined && spec.max !== undefined
        ? ` between ${spec.min} and ${spec.max}`
        : spec.min !== undefined
          ? ` >= ${spec.min}`
          : spec.max !== undefined
            ? ` <= ${spec.max}`
            : '';
    const bad =
      !Number.isFinite(n) ||
      (integer && !Number.isInteger(n)) ||
      (spec.min !== undefined && n < spec.min) ||
      (spec.max !== undefined && n > spec.max);
    if (bad) throw new UsageError(`${flag} must be ${kind}${bounds}, got ${JSON.stringify(raw)}`);
    out[key] = n;
  }
  return out as FlagValues<T>;
}

/**
 * {@link parseFlags} for a `main`: prints the help and exits 0 on `--help`,
 * prints the error and a hint and exits 2 on bad input.
 */
export function parseFlagsOrExit<T extends Record<string, FlagSpec>>(
  program: string,
  description: string,
  specs: T,
  argv: readonly string[] = process.argv.slice(2),
): FlagValues<T> {
  try {
    const parsed = parseFlags(specs, argv);
    if (parsed === 'help') {
      process.stdout.write(`${usage(program, description, specs)}\n`);
      process.exit(0);
    }
    return parsed;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${program}: ${error.message}\nRun with --help to see every flag.\n`);
    process.exit(2);
  }
}
